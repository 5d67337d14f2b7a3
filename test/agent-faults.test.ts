/**
 * Faults through `secrets-agent dev` and real processes: what init and the refresh loop do
 * with each, and that a crash mid-write never leaves a torn file.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { terminationMessage } from '../agent/agent.ts';
import { FileSink } from '../agent/sink/files.ts';
import { startDevServer } from '../dev/server.ts';
import type { FaultKind } from '../dev/faults.ts';
import {
  agentEnv,
  freePort,
  runAgent,
  webIdentityToken,
  useLoopbackAwsEnv,
} from './helpers/agent-process.ts';
import { assertNoCanary, CANARY } from './helpers/canary.ts';
import { agentRig } from './helpers/agent-rig.ts';
import { AgentClock } from './helpers/virtual-time.ts';
import { tempDir } from './helpers/tmp.ts';

useLoopbackAwsEnv();

const initConfig = (root: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    mode: 'init',
    outputDir: join(root, 'secrets'),
    httpPort: 0,
    terminationLogPath: join(root, 'termination-log'),
    secrets: [{ name: 'p', id: 'plain' }],
    ...extra,
  });

t.test('init: latency past the request timeout, then the endpoint answers in time', async (t) => {
  const server = await startDevServer({ seed: { secrets: [{ name: 'plain', value: CANARY }] } });
  t.teardown(() => server.close());
  const slow = server.faults.add({ kind: 'latency', latencyMs: 8_000, count: 2 });
  // The SDK's timer cuts the calls (real time); the waits between cycles are virtual.
  const clock = new AgentClock();
  const { agent, dir, logs } = await agentRig(
    t,
    server,
    { mode: 'init', secrets: [{ name: 'p', id: 'plain' }] },
    { requestTimeoutMs: 500, clock },
  );
  const started = Date.now();
  t.same(await clock.drive(agent.runInit(new AbortController().signal)), []);
  const elapsed = Date.now() - started;
  t.equal(await readFile(join(dir, 'p'), 'utf8'), CANARY);
  t.equal(slow.hits, 2, 'two cycles hit the latency and were cut off');
  t.ok(elapsed < 4_000, `the timeout cut them short instead of waiting 8 s each: ${elapsed} ms`);
  t.ok(clock.now() <= 1_000 + 2_000, `waits of at most 1 s and 2 s: ${clock.now()} ms`);
  assertNoCanary(t, logs.join(''), 'logs');
});

t.test('init: latency that never ends fails within initTimeout with a timeout line', async (t) => {
  const server = await startDevServer({ seed: { secrets: [{ name: 'plain', value: CANARY }] } });
  t.teardown(() => server.close());
  server.faults.add({ kind: 'latency', latencyMs: 5_000 });
  const root = await tempDir(t);
  const started = Date.now();
  const run = await runAgent(
    ['--config-json', initConfig(root, { requestTimeout: '300ms', initTimeout: '1s' })],
    agentEnv(server.url),
  );
  t.equal(run.code, 1);
  t.ok(Date.now() - started < 20_000, 'bounded');
  t.match(
    await readFile(join(root, 'termination-log'), 'utf8'),
    /^failed to fetch p: secret plain: (TimeoutError|RequestTimeout)/,
  );
});

t.test(
  'init: an unreachable endpoint fails within initTimeout naming the connection error',
  async (t) => {
    const port = await freePort(); // nothing listens there
    const clock = new AgentClock();
    // Waits of 0.55 s then 1.1 s (random() = 0.5): two cycles fit in 1 s, each with time left.
    const { agent } = await agentRig(
      t,
      { url: `http://127.0.0.1:${port}` },
      { mode: 'init', initTimeout: '1s', secrets: [{ name: 'p', id: 'plain' }] },
      { clock, random: () => 0.5 },
    );
    const failures = await clock.drive(agent.runInit(new AbortController().signal));
    t.match(terminationMessage(failures), /^failed to fetch p: secret plain: .*ECONNREFUSED/);
    t.equal(clock.now(), 550, 'gave up when the next wait would pass initTimeout');
  },
);

t.test('init: an invalid web identity token fails with InvalidIdentityToken', async (t) => {
  const server = await startDevServer({
    seed: {
      secrets: [{ name: 'plain', value: CANARY }],
      sts: { audiences: ['sts.amazonaws.com'] },
    },
  });
  t.teardown(() => server.close());
  const root = await tempDir(t);
  const cases: [string, string][] = [
    ['not a JWT', 'garbage-token'],
    ['wrong audience', webIdentityToken({ aud: ['someone-else'] })],
  ];
  const identity = (tokenFile: string): Record<string, string> => ({
    AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/r',
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
  });
  for (const [title, token] of cases) {
    const tokenFile = join(root, `token-${cases.findIndex(([c]) => c === title)}`);
    await writeFile(tokenFile, token);
    // The agent's own loop, in virtual time: three attempts, then the one line.
    const clock = new AgentClock();
    const { agent, logs } = await agentRig(
      t,
      server,
      { mode: 'init', secrets: [{ name: 'p', id: 'plain' }] },
      {
        clock,
        env: {
          AWS_ACCESS_KEY_ID: undefined,
          AWS_SECRET_ACCESS_KEY: undefined,
          ...identity(tokenFile),
        },
      },
    );
    const failures = await clock.drive(agent.runInit(new AbortController().signal));
    t.match(terminationMessage(failures), /^failed to fetch p: .*InvalidIdentityToken/, title);
    t.notMatch(logs.join(''), token, `${title}: the token is not logged`);
    if (title !== 'not a JWT') continue;
    // As a process: exit 1, the line in the termination log, the token nowhere in its output.
    const env = agentEnv(server.url, identity(tokenFile));
    delete env['AWS_ACCESS_KEY_ID'];
    delete env['AWS_SECRET_ACCESS_KEY'];
    const run = await runAgent(['--config-json', initConfig(root)], env);
    t.equal(run.code, 1, title);
    t.match(
      await readFile(join(root, 'termination-log'), 'utf8'),
      /^failed to fetch p: .*InvalidIdentityToken/,
      title,
    );
    t.notMatch(run.stdout + run.stderr, token, `${title}: the token is not in the output`);
  }
});

const SIDECAR_FAULTS: { kind: FaultKind; code: string }[] = [
  { kind: 'throttle', code: 'THROTTLED' },
  { kind: 'error5xx', code: 'AWS_UNAVAILABLE' },
  { kind: 'drop', code: 'AWS_UNAVAILABLE' },
  { kind: 'accessDenied', code: 'ACCESS_DENIED' },
  { kind: 'decryptFailure', code: 'DECRYPTION_FAILED' },
  { kind: 'notFound', code: 'SECRET_NOT_FOUND' },
];

for (const f of SIDECAR_FAULTS) {
  t.test(
    `refresh during ${f.kind}: last good files kept, ready stays, logged and counted, recovers`,
    async (t) => {
      const server = await startDevServer({
        seed: { secrets: [{ name: 'plain', value: `v1-${CANARY}` }] },
      });
      t.teardown(() => server.close());
      const { agent, metrics, dir, logs } = await agentRig(
        t,
        server,
        { secrets: [{ name: 'p', id: 'plain' }] },
        { requestTimeoutMs: 2_000 },
      );
      const signal = new AbortController().signal;
      t.same((await agent.cycle(signal)).failures, []);
      server.putSecretValue('plain', `v2-${CANARY}`);
      server.faults.add({ kind: f.kind, secretId: 'plain' });
      const during = await agent.cycle(signal);
      t.same(
        during.failures.map((x) => x.error.code),
        [f.code],
      );
      t.equal(await readFile(join(dir, 'p'), 'utf8'), `v1-${CANARY}`, 'last good content kept');
      t.ok(agent.ready, 'still ready');
      t.match(logs.join(''), new RegExp(`"msg":"secret fetch failed".*"code":"${f.code}"`));
      const failed = (await metrics.fetchTotal.get()).values.find(
        (v) => v.labels['outcome'] === f.code,
      );
      t.equal(failed?.value, 1);
      server.faults.clear();
      t.same((await agent.cycle(signal)).changed, ['p'], 'recovered: the new version is written');
      t.equal(await readFile(join(dir, 'p'), 'utf8'), `v2-${CANARY}`);
      assertNoCanary(t, logs.join('') + (await metrics.registry.metrics()), 'logs and metrics');
    },
  );
}

t.test(
  'the sidecar loop backs off with jitter after errors, then returns to the interval',
  async (t) => {
    const server = await startDevServer({ seed: { secrets: [{ name: 'plain', value: 'x' }] } });
    t.teardown(() => server.close());
    const clock = new AgentClock();
    const { agent, logs } = await agentRig(
      t,
      server,
      { refreshInterval: '5s', secrets: [{ name: 'p', id: 'plain' }] },
      { random: () => 0.5, clock },
    );
    const controller = new AbortController();
    const loop = agent.runSidecar(controller.signal);
    await clock.until(() => agent.ready, loop);
    t.equal(clock.now(), 0, 'the first write at once');
    // The refreshes after the first write fail three times, then succeed.
    server.faults.add({ kind: 'error5xx', count: 3 });
    const readAgain = (): boolean => logs.some((l) => l.includes('"msg":"secrets read again"'));
    await clock.until(readAgain, loop);
    const recoveredAt = clock.now();
    controller.abort();
    t.same(await loop, [], 'stopped: no failures to report');
    const waits = logs
      .filter((l) => l.includes('"msg":"retrying after errors"'))
      .map((l) => (JSON.parse(l) as { inMs: number }).inMs);
    // 5 s doubling, full jitter 10–100% (0.55 with random() = 0.5), capped at the interval.
    t.same(waits, [2_750, 2_750, 2_750], 'base 5 s, capped at the 5 s interval, jittered');
    t.ok(readAgain(), 'recovered by itself');
    // The first refresh half an interval after the first write, then the three waits.
    t.equal(recoveredAt, 2_500 + 3 * 2_750, 'read again after those waits, not before');
  },
);

t.test(
  'a crash (SIGKILL) mid-write never leaves a torn file; the next start cleans up',
  async (t) => {
    const dir = join(await tempDir(t), 'secrets');
    const names = ['alpha', 'beta', 'gamma'];
    const writer = join(import.meta.dirname, 'helpers', 'busy-writer.ts');
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, [writer, dir, names.join(','), String(round * 1000)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      // Killed after a number of whole writes that differs from round to round (no timer, no
      // randomness): the kill lands somewhere in the next write, wherever that is then.
      const after = 1 + ((round * 7) % 23);
      let written = 0;
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (d: Buffer) => {
          written += d.toString().split('\n').length - 1;
          if (written >= after) resolve();
        }),
      );
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
      // Whatever the moment of death: every stable path reads whole, all from one update.
      const versions = new Set<string>();
      for (const name of names) {
        const text = await readFile(join(dir, name), 'utf8');
        const match = /^v(\d+):(\w+):x*:end$/.exec(text);
        t.ok(match !== null && match[2] === name, `round ${round}: ${name} is whole`);
        versions.add(match?.[1] ?? '');
      }
      t.equal(versions.size, 1, `round ${round}: one update`);
    }
    const live = await readlink(join(dir, '..data'));
    await new FileSink(dir).write(
      names.map((n) => ({ name: n, content: Buffer.from(`v999:${n}:x:end`), mode: 0o644 })),
    );
    const left = (await readdir(dir)).filter((e) => e.startsWith('..') && e !== '..data');
    t.ok(
      left.length <= 2 && !left.some((e) => e.includes('_tmp_')),
      `only the live and previous versions remain: ${left.join(' ')}`,
    );
    t.not(await readlink(join(dir, '..data')), live);
  },
);
