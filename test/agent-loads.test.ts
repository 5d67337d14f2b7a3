/**
 * What an agent start loads, the bundle as injected: every module Node compiles is start-up
 * time and heap, paid by every pod (bench/startup.ts). With plain keys and templates (field
 * names only: common/key-path.ts, common/template.ts) an init agent loads none of the engines
 * kept apart in dist/node_modules/ (JMESPath, Handlebars, YAML, the AWS SDK), and none of the
 * Node modules it has no use for there: node:fs/promises (and the readline modules it brings),
 * node:perf_hooks, node:vm. Each engine loads when a secret needs it, and only that one; the
 * recorder is shown to see the agent's own file, so a missing entry is a module not loaded.
 */
import { readFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import t, { type Test } from 'tap';
import { agentEnv, ROOT, runAgent } from './helpers/agent-process.ts';
import { startDevServer } from '../dev/server.ts';
import { tempDir } from './helpers/tmp.ts';

const RECORDER = join(ROOT, 'test', 'helpers', 'record-loads.cjs');
const DB = JSON.stringify({ user: 'app', password: 'pw', hosts: ['db-1', 'db-2'] });
const UNUSED_BUILTINS = ['fs/promises', 'internal/readline/interface', 'perf_hooks', 'vm'];

interface Loads {
  readonly builtins: readonly string[];
  readonly files: readonly string[];
}

async function initLoads(t: Test, secrets: readonly Record<string, unknown>[]): Promise<Loads> {
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
  const loads = JSON.parse(await readFile(record, 'utf8')) as Loads;
  t.ok(
    loads.files.some((f) => f.endsWith(`${sep}commands${sep}agent.js`)),
    'the recorder sees the agent file',
  );
  t.ok(loads.builtins.includes('https'), 'and the Node modules it loads');
  return loads;
}

/** The packages loaded from the bundle's dist/node_modules/. */
function vendored(loads: Loads): string[] {
  const marker = `${sep}dist${sep}node_modules${sep}`;
  return loads.files.flatMap((f) => {
    const at = f.lastIndexOf(marker);
    return at === -1 ? [] : [f.slice(at + marker.length).replace(/[\\/]index\.js$/, '')];
  });
}

t.test('plain keys and templates: no engine, no unused Node module', async (t) => {
  const loads = await initLoads(t, [
    { name: 'raw', id: 'prod/db' },
    { name: 'password', id: 'prod/db', key: 'password' },
    { name: 'dsn', id: 'prod/db', template: 'postgres://{{user}}:{{password}}@db/app' },
    { name: 'env', id: 'prod/db', format: 'dotenv' },
  ]);
  t.same(vendored(loads), [], 'nothing from dist/node_modules/');
  for (const name of UNUSED_BUILTINS)
    t.notOk(loads.builtins.includes(name), `node:${name} not loaded`);
});

t.test('each engine loads when a secret needs it, and only that one', async (t) => {
  const index = await initLoads(t, [{ name: 'host', id: 'prod/db', key: 'hosts[0]' }]);
  t.same(vendored(index), ['@jmespath-community/jmespath'], 'an index needs JMESPath');
  t.notOk(index.builtins.includes('vm'), 'but no execution timeout: it walks down the data');
  const fn = await initLoads(t, [{ name: 'hosts', id: 'prod/db', key: "join(',', hosts)" }]);
  t.ok(fn.builtins.includes('vm'), 'a function runs under the execution timeout');
  const template = await initLoads(t, [
    { name: 'hosts', id: 'prod/db', template: '{{#each hosts}}{{this}} {{/each}}' },
  ]);
  t.same(vendored(template), ['handlebars'], 'a block needs Handlebars');
  const yaml = await initLoads(t, [{ name: 'db.yaml', id: 'prod/db', format: 'yaml' }]);
  t.same(vendored(yaml), ['yaml'], 'a YAML file needs the YAML writer');
});
