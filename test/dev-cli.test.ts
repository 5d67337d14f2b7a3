// `secrets-agent dev` as a real process: the listening line, SDK calls, faults, SIGTERM → 0.
// A canary secret value must appear nowhere in stderr logs or the request log.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  BatchGetSecretValueCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import t from 'tap';
import { run } from '../dev/command.ts';
import { CANARY, findCanary } from './helpers/canary.ts';

async function startProcess(
  args: string[],
): Promise<{ url: string; stderr: () => string; stop: () => Promise<number | null> }> {
  const child = spawn('node_modules/.bin/node', ['cli/main.ts', 'dev', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.once('exit', () => reject(new Error(`exited early: ${err}`)));
  });
  return { url, stderr: () => err, stop: async () => (child.kill('SIGTERM'), exited) };
}

t.test('the CLI serves the seed and stops on SIGTERM; the canary never leaks', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dev-cli-'));
  const seedFile = join(dir, 'seed.yaml');
  await writeFile(
    seedFile,
    `secrets:\n  - name: canary\n    value: ${CANARY}\n  - name: canary-json\n    value: { password: ${CANARY} }\n`,
  );
  const proc = await startProcess(['--port', '0', '--seed', seedFile]);
  t.match(proc.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const sm = new SecretsManagerClient({
    endpoint: proc.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKID', secretAccessKey: 's' },
  });
  t.teardown(() => sm.destroy());
  t.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'canary' }))).SecretString, CANARY);
  await sm.send(
    new BatchGetSecretValueCommand({ SecretIdList: ['canary', 'canary-json', 'missing'] }),
  );
  await fetch(`${proc.url}/_dev/secrets/canary`, {
    method: 'PUT',
    body: JSON.stringify({ value: `${CANARY}-2` }),
  });
  await sm.send(new GetSecretValueCommand({ SecretId: 'canary', VersionStage: 'AWSPREVIOUS' }));
  for (const kind of ['throttle', 'decryptFailure', 'accessDenied', 'error5xx']) {
    await fetch(`${proc.url}/_dev/faults`, {
      method: 'POST',
      body: JSON.stringify({ kind, count: 1 }),
    });
    await t.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'canary' })));
  }
  await fetch(`${proc.url}/_dev/secrets/canary`, {
    method: 'PUT',
    body: JSON.stringify({ value: `${CANARY}-3` }),
  });
  const requestLog = await (await fetch(`${proc.url}/_dev/requests`)).text();
  const faults = await (await fetch(`${proc.url}/_dev/faults`)).text();
  t.ok(requestLog.includes('GetSecretValue'));
  const code = await proc.stop();
  t.equal(code, 0);
  const stderr = proc.stderr();
  t.ok(stderr.includes('"operation":"GetSecretValue"'), 'requests are logged');
  t.equal(findCanary(stderr), undefined, 'no secret value in stderr');
  t.equal(findCanary(requestLog), undefined, 'no secret value in the request log');
  t.equal(findCanary(faults), undefined, 'no secret value in the faults');
});

t.test('flags: --help, bad seed, non-loopback host', async (t) => {
  const out: string[] = [];
  const ctx = (argv: string[]): Parameters<typeof run>[0] => ({
    argv,
    env: {},
    stdin: process.stdin,
    signal: AbortSignal.abort(),
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: () => true },
  });
  t.equal(await run(ctx(['--help'])), 0);
  t.match(out.join(''), /SECRETS_AGENT_DEV_PORT/);
  await t.rejects(run(ctx(['--host', '0.0.0.0'])), { code: 'USAGE' });
  await t.rejects(run(ctx(['--port', 'abc'])), { code: 'USAGE' });
  await t.rejects(run(ctx(['--port', '0', '--seed', 'test/fixtures/missing.yaml'])), {
    code: 'SEED_INVALID',
  });
  out.length = 0;
  t.equal(
    await run({
      ...ctx(['--port', '0']),
      env: { SECRETS_AGENT_DEV_SEED: 'test/fixtures/seed.yaml' },
    }),
    0,
    'env twin; an aborted signal stops at once',
  );
  t.match(out.join(''), /"msg":"listening"/);
  await t.rejects(run(ctx(['--port', '0', '--quota-scale', '0'])), {
    code: 'USAGE',
    message: /--quota-scale \(SECRETS_AGENT_DEV_QUOTA_SCALE\) must be at least 1/,
  });
  t.equal(
    await run({
      ...ctx(['--port', '0']),
      env: { SECRETS_AGENT_DEV_QUOTA_SCALE: '10', SECRETS_AGENT_DEV_SSM_HIGHER_THROUGHPUT: '1' },
    }),
    0,
    'quota flags by their env twins',
  );
});
