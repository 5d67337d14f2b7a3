// The start-up bench's floor (bench/startup-floor.cjs) against the dev endpoint, which checks
// every signature: it assumes the role, reads each secret with the calls it says it makes and
// writes each value to a file; bad input and refused calls end it with an error naming them,
// never a value.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';
import { irsaEnv, ROOT } from './helpers/agent-process.ts';

const ROLE = 'arn:aws:iam::123456789012:role/floor';
const FLOOR = join(ROOT, 'bench', 'startup-floor.cjs');
const IDS = Array.from({ length: 21 }, (_, i) => `app/s${i}`);
const valueOf = (id: string): string => `value of ${id}`;

const server = await startDevServer({
  seed: {
    sts: { audiences: ['sts.amazonaws.com'] },
    secrets: IDS.map((name) => ({ name, value: valueOf(name) })),
  },
});
t.teardown(() => server.close());

interface Run {
  readonly code: number | null;
  readonly stderr: string;
  readonly dir: string;
}

async function runFloor(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<Run> {
  const work = await mkdtemp(join(tmpdir(), 'sa-floor-'));
  const dir = join(work, 'out');
  const base = irsaEnv(server.url, work, ROLE, {
    AWS_ENDPOINT_URL_STS: server.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: server.url,
  });
  const child = spawn(process.execPath, [FLOOR, ...args.map((a) => a.replace('DIR', dir))], {
    env: { ...base, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stderr, dir };
}

const CASES = [
  { name: 'a GetSecretValue per secret', flags: [], ids: IDS, calls: { GetSecretValue: 21 } },
  {
    name: 'batched, 20 ids a call',
    flags: ['--batch'],
    ids: IDS,
    calls: { BatchGetSecretValue: 2 },
  },
] as const;

for (const c of CASES) {
  t.test(`${c.name}: every value written, each call signed as the endpoint checks`, async (t) => {
    server.requests.clear();
    const run = await runFloor([...c.flags, 'DIR', ...c.ids]);
    t.equal(run.code, 0, run.stderr);
    t.equal(run.stderr, '');
    const files = (await readdir(run.dir)).sort();
    t.same(files, c.ids.map((id) => id.replace('/', '_')).sort(), 'a file per secret');
    for (const id of c.ids)
      t.equal(await readFile(join(run.dir, id.replace('/', '_')), 'utf8'), valueOf(id));
    const ok = server.requests.list({ outcome: 'ok' });
    t.same(
      ok.map((r) => r.operation).filter((o) => o === 'AssumeRoleWithWebIdentity'),
      ['AssumeRoleWithWebIdentity'],
      'one AssumeRoleWithWebIdentity',
    );
    for (const [operation, n] of Object.entries(c.calls)) {
      const calls = server.requests.list({ operation });
      t.equal(calls.length, n, `${n} ${operation} calls`);
      t.ok(
        calls.every((r) => r.outcome === 'ok' && r.roleArn === ROLE),
        'all answered, as the role',
      );
    }
    t.equal(server.requests.list().length, ok.length, 'no call refused');
  });
}

const FAILURES = [
  { name: 'no arguments', args: [], env: {}, says: /usage: node bench\/startup-floor\.cjs/ },
  { name: 'no secret ids', args: ['DIR'], env: {}, says: /usage:/ },
  {
    name: 'no region',
    args: ['DIR', 'app/s0'],
    env: { AWS_REGION: '' },
    says: /not set: AWS_REGION/,
  },
  {
    name: 'an unknown secret',
    args: ['DIR', 'app/s0', 'app/nope'],
    env: {},
    says: /app\/nope: GetSecretValue: HTTP 400: ResourceNotFoundException/,
  },
  {
    name: 'an unknown secret, batched',
    args: ['--batch', 'DIR', 'app/s0', 'app/nope'],
    env: {},
    says: /BatchGetSecretValue: app\/nope: ResourceNotFoundException/,
  },
  {
    name: 'a role STS refuses',
    args: ['DIR', 'app/s0'],
    env: { AWS_ROLE_ARN: 'not-an-arn' },
    says: /STS AssumeRoleWithWebIdentity: HTTP 400: ValidationError/,
  },
] as const;

for (const f of FAILURES) {
  t.test(`${f.name}: exit 1, the error names it and holds no value`, async (t) => {
    const run = await runFloor(f.args, f.env);
    t.equal(run.code, 1);
    t.match(run.stderr, f.says);
    t.notMatch(run.stderr, /value of/, 'no secret value in the error');
  });
}
