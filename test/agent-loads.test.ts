/**
 * Which of Node's own modules an agent start loads, the bundle as injected: every module Node
 * compiles is start-up time and heap, paid by every pod (bench/startup.ts). An init agent has no
 * use for node:fs/promises (and the readline modules it brings), node:perf_hooks or node:vm
 * when its keys and templates are plain (field names only), and loads none of them; the
 * execution timeout's node:vm loads for an expression that needs it. Recorded with Node's own
 * list (process.moduleLoadList, which also sees what Node's modules load among themselves);
 * which vendored packages load is test/bundle.test.ts's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { agentEnv, ROOT, runAgent } from './helpers/agent-process.ts';
import { startDevServer } from '../dev/server.ts';
import { tempDir } from './helpers/tmp.ts';

const RECORDER = join(ROOT, 'test', 'helpers', 'record-loads.cjs');
const DB = JSON.stringify({ user: 'app', password: 'pw', hosts: ['db-1', 'db-2'] });
const UNUSED = ['fs/promises', 'internal/readline/interface', 'perf_hooks', 'vm'];

/** Node's modules an init agent loaded, reading `secrets` of prod/db. */
async function builtins(t: Test, secrets: readonly Record<string, unknown>[]): Promise<string[]> {
  const server = await startDevServer({ seed: { secrets: [{ name: 'prod/db', value: DB }] } });
  t.teardown(() => server.close());
  const dir = await tempDir(t);
  const record = join(dir, 'loads.json');
  const config = {
    mode: 'init',
    outputDir: join(dir, 'out'),
    httpPort: 0,
    terminationLogPath: join(dir, 'termination-log'),
    secrets,
  };
  const run = await runAgent(
    ['--config-json', JSON.stringify(config)],
    agentEnv(server.url, { NODE_OPTIONS: `--require ${RECORDER}`, RECORD_LOADS_FILE: record }),
  );
  t.equal(run.code, 0, run.stderr);
  const loaded = (JSON.parse(await readFile(record, 'utf8')) as { builtins: string[] }).builtins;
  t.ok(loaded.includes('https'), 'the recorder sees what the agent loads');
  return loaded;
}

t.test('plain keys and templates: no Node module the agent has no use for', async (t) => {
  const loaded = await builtins(t, [
    { name: 'raw', id: 'prod/db' },
    { name: 'password', id: 'prod/db', key: 'password' },
    { name: 'dsn', id: 'prod/db', template: 'postgres://{{user}}:{{password}}@db/app' },
    { name: 'env', id: 'prod/db', format: 'dotenv' },
  ]);
  for (const name of UNUSED) t.notOk(loaded.includes(name), `node:${name} not loaded`);
});

t.test('node:vm when an expression needs the execution timeout, and only then', async (t) => {
  const index = await builtins(t, [{ name: 'host', id: 'prod/db', key: 'hosts[0]' }]);
  t.notOk(index.includes('vm'), 'an index walks down the data: no timeout');
  const fn = await builtins(t, [{ name: 'hosts', id: 'prod/db', key: "join(',', hosts)" }]);
  t.ok(fn.includes('vm'), 'a function runs under the execution timeout');
});
