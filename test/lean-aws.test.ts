/**
 * The lean AWS path: an agent whose sources are Secrets Manager secrets by name or ARN, with
 * pod credentials (environment keys, IRSA), reads them without loading the AWS SDK at all. The
 * agent runs from its source with a recorder of every module it resolves
 * (helpers/record-modules.ts); a source that needs the SDK (a find) shows the recorder does see
 * the SDK when it loads. The bundle, as injected, says at debug level when it loads the SDK
 * and why: never for secrets by name.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { DevServer } from '../dev/server.ts';
import { agentEnv, irsaEnv, ROOT, runAgent } from './helpers/agent-process.ts';
import { irsaDevServer } from './helpers/irsa-dev-server.ts';
import { tempDir } from './helpers/tmp.ts';

const SECRETS = Array.from({ length: 20 }, (_, i) => ({ name: `app/s${i}`, value: `v${i}` }));
const ROLE = 'arn:aws:iam::123456789012:role/catalog';

function devServer(t: Test): Promise<DevServer> {
  return irsaDevServer(t, [...SECRETS, { name: 'team/a', value: 'A' }]);
}

interface Run {
  readonly code: number | null;
  readonly output: string;
  /** Every module URL the process resolved. */
  readonly modules: readonly string[];
}

/** `node cli/main.ts agent` in init mode, every resolved module recorded. */
async function runRecorded(
  t: Test,
  secrets: readonly Record<string, unknown>[],
  env: Record<string, string>,
): Promise<Run & { readonly out: string }> {
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  const record = join(dir, 'modules.txt');
  const config = {
    mode: 'init',
    outputDir: out,
    httpPort: 0,
    initTimeout: '10s',
    terminationLogPath: join(dir, 'termination-log'),
    secrets,
  };
  const child = spawn(
    process.execPath,
    [
      '--import',
      './test/helpers/record-modules.ts',
      'cli/main.ts',
      'agent',
      '--config-json',
      JSON.stringify(config),
    ],
    { cwd: ROOT, env: { ...env, RECORD_MODULES_FILE: record }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const modules = (await readFile(record, 'utf8')).split('\n');
  return { code, output, modules, out };
}

function sdkModules(modules: readonly string[]): string[] {
  return modules.filter((url) => /\/node_modules\/@(aws-sdk|smithy)\//.test(url));
}

t.test('20 secrets by name with environment keys: read without loading the SDK', async (t) => {
  const server = await devServer(t);
  const run = await runRecorded(
    t,
    SECRETS.map((s, i) => ({ name: `s${i}`, id: s.name })),
    agentEnv(server.url),
  );
  t.equal(run.code, 0, run.output);
  t.equal((await readdir(run.out)).filter((f) => f.startsWith('s')).length, 20);
  t.equal(await readFile(join(run.out, 's7'), 'utf8'), 'v7');
  t.ok(
    run.modules.some((url) => url.endsWith('/agent/source/lean/sigv4.ts')),
    'the lean client',
  );
  t.same(sdkModules(run.modules), [], 'no @aws-sdk or @smithy module resolved');
  t.equal(server.requests.list({ operation: 'BatchGetSecretValue' }).length, 1, 'one batch call');
});

t.test('IRSA: the token exchanged at STS by the lean chain, once, and no SDK', async (t) => {
  const server = await devServer(t);
  const env = irsaEnv(server.url, await tempDir(t), ROLE, { AWS_ENDPOINT_URL_STS: server.url });
  const run = await runRecorded(
    t,
    SECRETS.map((s, i) => ({ name: `s${i}`, id: s.name })),
    env,
  );
  t.equal(run.code, 0, run.output);
  t.same(sdkModules(run.modules), []);
  t.equal(server.requests.list({ operation: 'AssumeRoleWithWebIdentity' }).length, 1);
  const reads = server.requests.list({ operation: 'BatchGetSecretValue' });
  t.equal(reads[0]?.roleArn, ROLE, 'signed with the credentials STS issued');
});

t.test('a find needs the SDK: the recorder sees it load, and the read works', async (t) => {
  const server = await devServer(t);
  const run = await runRecorded(
    t,
    [
      { name: 's0', id: 'app/s0' },
      { name: 'team', source: 'find', id: 'team/' },
    ],
    agentEnv(server.url),
  );
  t.equal(run.code, 0, run.output);
  t.ok(
    run.modules.some((url) => url.includes('/node_modules/@aws-sdk/client-secrets-manager/')),
    'the SDK client was loaded',
  );
  t.equal(await readFile(join(run.out, 's0'), 'utf8'), 'v0');
});

t.test('the bundle as injected: the SDK loaded for a find, and only then', async (t) => {
  const server = await devServer(t);
  const dir = await tempDir(t);
  const run = async (secrets: readonly Record<string, unknown>[]): Promise<string> => {
    const result = await runAgent(
      [
        '--config-json',
        JSON.stringify({
          mode: 'init',
          outputDir: join(dir, `out-${secrets.length}`),
          httpPort: 0,
          logLevel: 'debug',
          terminationLogPath: join(dir, 'termination-log'),
          secrets,
        }),
      ],
      agentEnv(server.url),
    );
    t.equal(result.code, 0, result.stderr);
    return result.stdout + result.stderr;
  };
  const byName = await run(SECRETS.map((s, i) => ({ name: `s${i}`, id: s.name })));
  t.notMatch(byName, /loading the AWS SDK/, 'secrets by name: no SDK');
  // The same configuration's debug log does say it where the SDK is needed.
  const withFind = await run([{ name: 'team', source: 'find', id: 'team/' }]);
  t.match(withFind, /"level":"debug","msg":"loading the AWS SDK".*"for":"finds"/);
});
