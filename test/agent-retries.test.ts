/**
 * One retry layer, and every path's worst case: the stated formulas (initCycleLimit,
 * fetchWorstCase, the sidecar's backoff, the Secret sink's and reload-url's attempts) checked
 * by hand, then against `secrets-agent dev` with faults, counting calls as AWS bills them (the
 * endpoint's request log and secrets_agent_aws_api_calls_total) and bounding elapsed time.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  INIT_ATTEMPTS_FOR_PERMANENT_ERRORS,
  initCycleLimit,
  refreshRetryBackoff,
  terminationMessage,
} from '../agent/agent.ts';
import { backoffDelay, MAX_TIMER_MS, maxRetriesWithin, sleep } from '../agent/backoff.ts';
import type { AgentMetrics } from '../agent/metrics.ts';
import {
  createReloader,
  RELOAD_ATTEMPTS,
  RELOAD_BACKOFF,
  RELOAD_TIMEOUT_MS,
} from '../agent/reload.ts';
import { K8sSecretSink, SECRET_WRITE_ATTEMPTS } from '../agent/sink/k8s-secret.ts';
import { createSecretsClient, KubeApiError } from '../agent/sink/kube/client.ts';
import { SDK_MAX_ATTEMPTS } from '../agent/source/aws.ts';
import {
  FIND_MAX_CALLS,
  fetchWorstCase,
  PATH_MAX_CALLS,
  TAGGED_FIND_MAX_CALLS,
} from '../agent/source/worst-case.ts';
import { seededRandom } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { startDevServer, type DevServer } from '../dev/server.ts';
type Seed = NonNullable<NonNullable<Parameters<typeof startDevServer>[0]>['seed']>;
import type { FaultSpec } from '../dev/faults.ts';
import { agentEnv, runAgent, webIdentityToken } from './helpers/agent-process.ts';
import { agentRig } from './helpers/agent-rig.ts';
import { AgentClock } from './helpers/virtual-time.ts';
import { ADMIN_TOKEN, startKubeApiServer } from './helpers/kube-api-server.ts';
import { tempDir } from './helpers/tmp.ts';

const SECOND = 1_000;

/** Secrets Manager calls the endpoint answered (STS apart). */
const smCalls = (server: DevServer): number =>
  server.requests.list().filter((r) => r.service === 'secretsmanager').length;

/** The agent's own count: the sum of secrets_agent_aws_api_calls_total. */
async function countedCalls(metrics: AgentMetrics, operation?: string): Promise<number> {
  const data = await metrics.awsApiCalls.get();
  return data.values
    .filter((v) => operation === undefined || v.labels.operation === operation)
    .reduce((n, v) => n + v.value, 0);
}

/** `batchable` secrets read on their current version, `pinned` ones on a version id. */
function seedAndSecrets(batchable: number, pinned: number): { seed: Seed; secrets: unknown[] } {
  const names = Array.from({ length: batchable + pinned }, (_, i) => `app/s${i}`);
  const versionId = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  return {
    seed: {
      secrets: names.map((name, i) => ({
        name,
        versions: [{ id: versionId(i), value: `v-${name}`, stages: ['AWSCURRENT'] }],
      })),
    },
    secrets: names.map((id, i) => ({
      name: `s${i}`,
      id,
      ...(i < batchable ? {} : { versionId: versionId(i) }),
    })),
  };
}

t.test('the formulas, worked by hand', async (t) => {
  t.equal(SDK_MAX_ATTEMPTS, 1, 'the SDK makes one attempt per call');
  // Shortest init waits (full jitter, a tenth of nominal): 0.1, 0.2, 0.4, 0.8, 1.6, 3, 3, … s;
  // cycle n+1 starts only within the budget.
  t.equal(initCycleLimit(0), 1);
  t.equal(initCycleLimit(99), 1);
  t.equal(initCycleLimit(100), 2);
  t.equal(initCycleLimit(5 * SECOND), 6, '0.1 + … + 1.6 = 3.1 s fits, + 3.2 = 6.3 s does not');
  t.equal(initCycleLimit(10 * SECOND), 8, '6.3 + 3 = 9.3 s fits, 12.3 s does not');
  t.equal(initCycleLimit(120 * SECOND), 44, 'the default 2m: 6.3 + 3·37 = 117.3 s fits');
  t.equal(maxRetriesWithin({ baseMs: 0, capMs: 0 }, 1), Infinity, 'no backoff, no bound');

  const cases: [string, Parameters<typeof fetchWorstCase>[0], [number, number, number]][] = [
    ['1 secret', { batchable: 1, pinned: 0, failover: false }, [1, 2, 2]],
    ['1 secret, failover', { batchable: 1, pinned: 0, failover: true }, [2, 4, 4]],
    ['20 secrets', { batchable: 20, pinned: 0, failover: false }, [1, 21, 4]],
    ['25 + 1 pinned', { batchable: 25, pinned: 1, failover: false }, [3, 27, 5]],
    ['25 + 1 pinned, failover', { batchable: 25, pinned: 1, failover: true }, [6, 54, 10]],
    ['100 secrets', { batchable: 100, pinned: 0, failover: false }, [5, 101, 14]],
    ['9 pinned only', { batchable: 0, pinned: 9, failover: false }, [9, 9, 2]],
  ];
  for (const [title, shape, [calls, denied, rounds]] of cases) {
    t.match(
      fetchWorstCase(shape),
      { calls, callsBatchDenied: denied, credentialCalls: 1, rounds },
      title,
    );
  }

  // Parameters, paths and finds: their calls (SSM's and Secrets Manager's), and their rounds.
  t.equal(PATH_MAX_CALLS, 110, '1,000 parameters at 10 a page, and 10 short pages');
  t.equal(FIND_MAX_CALLS, 60, '1,000 secrets at 20 a page, and 10 short pages');
  t.equal(TAGGED_FIND_MAX_CALLS, 110, '60 ListSecrets pages, then 50 reads by id');
  const sources: [string, Parameters<typeof fetchWorstCase>[0], number[]][] = [
    ['11 parameters', { batchable: 0, pinned: 0, failover: false, parameters: 11 }, [2, 0, 0, 2]],
    [
      '11 parameters, failover',
      { batchable: 0, pinned: 0, failover: true, parameters: 11 },
      [4, 0, 0, 4],
    ],
    ['5 paths', { batchable: 0, pinned: 0, failover: false, paths: 5 }, [0, 5, 550, 220]],
    [
      'a find and a tagged find, and 1 secret',
      { batchable: 1, pinned: 0, failover: false, finds: 1, taggedFinds: 1 },
      [0, 2, 170, 172],
    ],
  ];
  for (const [title, shape, [parameterCalls, failing, most, rounds]] of sources) {
    t.match(
      fetchWorstCase(shape),
      { parameterCalls, directoryCallsFailing: failing, directoryCalls: most, rounds },
      title,
    );
  }
});

t.test('parameters, paths and finds: the calls one refresh makes, as stated', async (t) => {
  const server = await startDevServer({
    seed: {
      parameters: [
        ...Array.from({ length: 11 }, (_, i) => ({ name: `/app/p${i}`, value: `v${i}` })),
        ...Array.from({ length: 25 }, (_, i) => ({ name: `/app/config/c${i}`, value: `c${i}` })),
      ],
      secrets: Array.from({ length: 45 }, (_, i) => ({
        name: `team/s${i}`,
        value: `s${i}`,
        tags: { env: i < 30 ? 'prod' : 'dev' },
      })),
    },
  });
  t.teardown(() => server.close());
  const shape = { batchable: 0, pinned: 0, failover: false, parameters: 11, paths: 1 };
  const { agent } = await agentRig(t, server, {
    region: 'us-east-1',
    secrets: [
      ...Array.from({ length: 11 }, (_, i) => ({
        name: `p${i}`,
        source: 'parameter',
        id: `/app/p${i}`,
      })),
      { name: 'config', source: 'path', id: '/app/config' },
      { name: 'team', source: 'find', id: 'team/' },
      { name: 'prod', source: 'find', id: 'team/', tag: 'env=prod' },
    ],
  });
  const worst = fetchWorstCase({ ...shape, finds: 1, taggedFinds: 1 });
  const count = (service: string): number =>
    server.requests.list().filter((r) => r.service === service).length;
  const signal = new AbortController().signal;

  t.same((await agent.cycle(signal)).failures, [], 'every source read');
  // Full pages: ceil(11/10) GetParameters, ceil(25/10) path pages, ceil(45/20) find pages,
  // one ListSecrets page and ceil(30/20) reads by id.
  t.equal(count('ssm'), 2 + 3, 'SSM: 2 GetParameters + 3 path pages');
  t.equal(count('secretsmanager'), 3 + 1 + 2, 'Secrets Manager: 3 find pages + 1 list + 2 reads');
  t.ok(count('ssm') <= worst.parameterCalls + PATH_MAX_CALLS, 'within the stated most');
  t.ok(count('secretsmanager') <= FIND_MAX_CALLS + TAGGED_FIND_MAX_CALLS, 'within the stated most');

  // Every call failing: one call per path and find, every GetParameters call.
  server.requests.clear();
  server.faults.add({ kind: 'error5xx' });
  const failed = await agent.cycle(signal);
  t.equal(failed.failures.length, 14, 'every source failed, last good content kept');
  t.equal(
    count('ssm') + count('secretsmanager'),
    worst.parameterCalls + worst.directoryCallsFailing,
    `${worst.parameterCalls} + ${worst.directoryCallsFailing} calls`,
  );
});

t.test('the sidecar never waits longer than its interval after errors', async (t) => {
  const intervals = [5 * SECOND, 7 * SECOND, 5 * 60 * SECOND, 24 * 3600 * SECOND, 2 ** 33];
  for (const interval of intervals) {
    const backoff = refreshRetryBackoff(interval);
    const longest = Math.max(
      ...Array.from({ length: 64 }, (_, n) => backoffDelay(backoff, n, () => 1)),
    );
    t.equal(longest, interval, `${interval} ms: capped at the interval, reached`);
    t.equal(
      backoffDelay(backoff, 0, () => 0),
      Math.round(Math.min(5 * SECOND, interval) / 10),
      'full jitter: down to a tenth',
    );
  }
});

t.test('sleep: delays past a Node timer’s range are slept, not fired after 1 ms', async (t) => {
  // Every delay slept at once: one 200 ms of real time for them all.
  const delays = [MAX_TIMER_MS + 1, 2 ** 31 + 10, 2 ** 40, Infinity];
  const controller = new AbortController();
  const sleeping = delays.map((ms) => {
    let state = 'pending';
    const slept = sleep(ms, controller.signal).then((done) => {
      state = 'resolved';
      return done;
    });
    return { ms, slept, state: () => state };
  });
  await new Promise((r) => setTimeout(r, 200));
  for (const s of sleeping)
    t.equal(s.state(), 'pending', `${s.ms} ms is still sleeping after 200 ms`);
  controller.abort();
  for (const s of sleeping) t.equal(await s.slept, false, `${s.ms} ms: stops when aborted`);
  const signal = new AbortController().signal;
  for (const ms of [0, -5, Number.NaN, 20]) t.equal(await sleep(ms, signal), true, `${ms} ms`);
});

/**
 * Runs init in-process with the shortest waits (the most cycles) and every call failing. With
 * `clock: 'virtual'` the waits and initTimeout run in virtual time (the calls stay real);
 * `elapsed` is then virtual time, which no call on the wire adds to.
 */
async function initEveryCallFailing(
  t: Test,
  shape: { batchable: number; pinned: number; failover: boolean },
  fault: FaultSpec,
  initTimeout: string,
  clock: 'virtual' | 'real' = 'virtual',
): Promise<{
  server: DevServer;
  metrics: AgentMetrics;
  elapsed: number;
  /** Fetches the agent started. */
  cycles: number;
  codes: string[];
  messages: string[];
}> {
  const { seed, secrets } = seedAndSecrets(shape.batchable, shape.pinned);
  const server = await startDevServer({ seed });
  t.teardown(() => server.close());
  server.faults.add(fault);
  const virtual = clock === 'virtual' ? new AgentClock() : undefined;
  const now = (): number => virtual?.now() ?? Date.now();
  const { agent, metrics, logs } = await agentRig(
    t,
    server,
    {
      mode: 'init',
      initTimeout,
      region: 'us-east-1',
      ...(shape.failover ? { failoverRegion: 'us-west-2' } : {}),
      secrets,
    },
    { random: () => 0, ...(virtual === undefined ? {} : { clock: virtual }) },
  );
  const started = now();
  const init = agent.runInit(new AbortController().signal);
  const failures = await (virtual === undefined ? init : virtual.drive(init));
  return {
    server,
    metrics,
    elapsed: now() - started,
    cycles: 1 + logs.filter((l) => l.includes('"msg":"retrying"')).length,
    codes: [...new Set(failures.map((f) => f.error.code))],
    messages: failures.map((f) => f.error.message),
  };
}

for (const failover of [false, true]) {
  for (const [batchable, pinned] of [
    [1, 0],
    [25, 1],
  ] as const) {
    const shape = { batchable, pinned, failover };
    t.test(
      `init, every call throttled, ${batchable}+${pinned} secrets${failover ? ', failover' : ''}: initCycleLimit × calls per fetch`,
      async (t) => {
        const budget = 5 * SECOND;
        const run = await initEveryCallFailing(t, shape, { kind: 'throttle' }, '5s');
        // The first batch call is throttled: that cycle reads its chunk one by one at once,
        // and later cycles keep to GetSecretValue for the cool-down (agent/source/strategy.ts).
        const regions = failover ? 2 : 1;
        const cycles = initCycleLimit(budget);
        const expected = regions * (1 + cycles * (batchable + pinned));
        t.ok(
          regions + cycles * fetchWorstCase(shape).calls <= expected &&
            expected <= cycles * fetchWorstCase(shape).callsBatchDenied,
          'within the worst case of a batch call denied or throttled',
        );
        t.equal(cycles, 6, 'waits of 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s fit in 5 s, + 3.2 s does not');
        // The fetches the agent started: at most the formula's. Each but the last made all its
        // calls; the last may be cut by initTimeout (no call starts or runs past it).
        t.ok(run.cycles >= 2 && run.cycles <= cycles, `${run.cycles} of at most ${cycles} fetches`);
        const calls = smCalls(run.server);
        const perCycle = regions * (batchable + pinned);
        const before = regions + (run.cycles - 1) * perCycle;
        t.ok(
          calls >= before && calls <= before + perCycle,
          `${calls} calls: ${run.cycles} fetches of ${perCycle}, and the batch call once`,
        );
        t.ok(calls <= expected, 'within the formula');
        t.equal(await countedCalls(run.metrics), calls, 'calls the agent counted: the same');
        t.ok(run.codes.includes('THROTTLED'), `failed with throttling: ${run.codes.join(', ')}`);
        t.ok(
          run.codes.every((c) => c === 'THROTTLED' || c === 'AWS_UNAVAILABLE'),
          'or, in a last fetch cut short, out of time',
        );
        // Waits of 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s, in virtual time; nothing past initTimeout.
        t.equal(run.cycles, cycles, 'the shortest waits: every cycle the formula allows');
        t.equal(run.elapsed, 3_100, `waited between cycles: ${run.elapsed} ms`);
        t.ok(run.elapsed <= budget, `ended within initTimeout: ${run.elapsed} ms`);
      },
    );
  }
}

t.test('init, a permanent error: three attempts, and no failover', async (t) => {
  for (const failover of [false, true]) {
    const run = await initEveryCallFailing(
      t,
      { batchable: 1, pinned: 0, failover },
      { kind: 'notFound', operation: 'BatchGetSecretValue' },
      '2m',
    );
    t.equal(smCalls(run.server), INIT_ATTEMPTS_FOR_PERMANENT_ERRORS, `failover: ${failover}`);
    t.equal(INIT_ATTEMPTS_FOR_PERMANENT_ERRORS, 3);
    t.notOk(
      run.server.requests.list().some((r) => r.region === 'us-west-2'),
      'not found is not tried elsewhere',
    );
    t.same(run.codes, ['SECRET_NOT_FOUND']);
    // The shortest waits (random() = 0): a tenth of 1 s, then of 2 s; none after the third.
    t.equal(run.elapsed, 100 + 200, `waits of 0.1 s and 0.2 s: ${run.elapsed} ms`);
  }
});

t.test('init, every call hanging: nothing runs past initTimeout', async (t) => {
  const run = await initEveryCallFailing(
    t,
    { batchable: 25, pinned: 1, failover: true },
    { kind: 'latency', latencyMs: 60_000 },
    '1s',
    // The call is cut by the SDK's own timer: real time, the one thing this test is about.
    'real',
  );
  t.ok(run.elapsed >= 1 * SECOND - 50, `used its time: ${run.elapsed} ms`);
  t.ok(run.elapsed < 1 * SECOND + 1_500, `and no more: ${run.elapsed} ms`);
  // The first batch call hangs until the deadline cuts it (requestTimeout is 10 s); the rest,
  // in both regions, are not started.
  t.equal(await countedCalls(run.metrics), 1, 'one call');
  t.same(run.codes, ['AWS_UNAVAILABLE']);
  t.match(
    run.messages[0],
    /^secret app\/s0: TimeoutError: no answer within the \d+ ms left before initTimeout$/,
  );
  t.match(
    run.messages.at(-1),
    /^secret app\/s25 \(version [-0-9]+\): not read: initTimeout ran out first$/,
  );
});

for (const failover of [false, true]) {
  t.test(
    `one refresh, every call failing${failover ? ', failover' : ''}: calls and time as stated`,
    async (t) => {
      const shape = { batchable: 25, pinned: 1, failover };
      const { seed, secrets } = seedAndSecrets(shape.batchable, shape.pinned);
      const server = await startDevServer({ seed });
      t.teardown(() => server.close());
      const { agent, metrics } = await agentRig(
        t,
        server,
        { region: 'us-east-1', ...(failover ? { failoverRegion: 'us-west-2' } : {}), secrets },
        { requestTimeoutMs: 100 },
      );
      const signal = new AbortController().signal;
      t.same((await agent.cycle(signal)).failures, [], 'a good first refresh');
      const worst = fetchWorstCase(shape);

      server.requests.clear();
      server.faults.add({ kind: 'error5xx' });
      const failed = await agent.cycle(signal);
      t.equal(failed.failures.length, 26, 'every secret failed, last good content kept');
      t.equal(smCalls(server), worst.calls, `5xx: ${worst.calls} calls`);

      // Every call hangs: each is cut at requestTimeout; rounds run one after another.
      server.faults.clear();
      server.faults.add({ kind: 'latency', latencyMs: 60_000 });
      const before = await countedCalls(metrics);
      const started = Date.now();
      const hung = await agent.cycle(signal);
      const elapsed = Date.now() - started;
      t.equal(hung.failures.length, 26);
      t.equal((await countedCalls(metrics)) - before, worst.calls, 'the same calls, counted');
      const rounds = (failover ? 2 : 1) * 3; // 2 batch calls, then 1 GetSecretValue
      // requestTimeout at its 100 ms minimum: the SDK's own timer cuts each call (real time).
      t.ok(elapsed >= rounds * 100 - 50, `${rounds} rounds of 100 ms: ${elapsed} ms`);
      t.ok(
        elapsed < worst.rounds * 100 + 1_500,
        `within rounds × requestTimeout (${worst.rounds} × 100 ms): ${elapsed} ms`,
      );
    },
  );
}

t.test('a sidecar refresh lasts at most one interval, however long the calls hang', async (t) => {
  const server = await startDevServer({ seed: { secrets: [{ name: 'a', value: 'A' }] } });
  t.teardown(() => server.close());
  // requestTimeout (10 s) is longer than the 5 s interval: the interval is what cuts the call,
  // with the SDK's own timer (real time: what this test is about).
  const { agent, logs, logged } = await agentRig(
    t,
    server,
    { region: 'us-east-1', refreshInterval: '5s', secrets: [{ name: 'a', id: 'a' }] },
    { random: () => 0 },
  );
  const controller = new AbortController();
  const loop = agent.runSidecar(controller.signal);
  await logged(/"msg":"all secrets written"/);
  server.faults.add({ kind: 'latency', latencyMs: 60_000 });
  const started = Date.now();
  await logged(/"msg":"retrying after errors"/);
  const elapsed = Date.now() - started;
  controller.abort();
  await loop;
  // The first refresh starts 1 ms after the first write (random() = 0), and its call is cut
  // one interval (5 s) later.
  t.ok(elapsed >= 5 * SECOND - 100, `the call ran until the interval was over: ${elapsed} ms`);
  t.ok(elapsed < 5 * SECOND + 1_500, `and no longer: ${elapsed} ms`);
  t.ok(
    logs.some((l) => /no answer within the \d+ ms left before refreshInterval/.test(l)),
    'the error names the interval',
  );
});

t.test('BatchGetSecretValue denied: N + 1 calls, then N while the denial holds', async (t) => {
  const shape = { batchable: 25, pinned: 1, failover: true };
  const { seed, secrets } = seedAndSecrets(shape.batchable, shape.pinned);
  const server = await startDevServer({ seed });
  t.teardown(() => server.close());
  server.faults.add({ kind: 'accessDenied', operation: 'BatchGetSecretValue' });
  // The primary also throttles every read, so each secret is read in the failover region too.
  server.faults.add({ kind: 'throttle', operation: 'GetSecretValue', region: 'us-east-1' });
  const { agent, metrics, logs } = await agentRig(t, server, {
    region: 'us-east-1',
    failoverRegion: 'us-west-2',
    secrets,
  });
  const signal = new AbortController().signal;
  t.same((await agent.cycle(signal)).failures, [], 'the failover region served every secret');
  const worst = fetchWorstCase(shape);
  t.equal(worst.callsBatchDenied, 2 * (26 + 1));
  t.equal(smCalls(server), worst.callsBatchDenied, 'N + 1 per region');
  t.equal(await countedCalls(metrics), worst.callsBatchDenied, 'counted alike');
  t.equal(await countedCalls(metrics, 'BatchGetSecretValue'), 2, 'one denied call per region');
  t.equal(logs.filter((l) => l.includes('BatchGetSecretValue is denied')).length, 2);
  server.requests.clear();
  t.same((await agent.cycle(signal)).failures, []);
  t.equal(smCalls(server), 2 * 26, 'the next refresh: no batch call, N per region');
});

/** Credentials from the environment only: no static keys for the SDK's chain to find first. */
const NO_STATIC_KEYS = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };

t.test('IRSA, STS throttled: one exchange per cycle, no Secrets Manager call', async (t) => {
  const role = 'arn:aws:iam::123456789012:role/r';
  const server = await startDevServer({
    seed: {
      secrets: [{ name: 'plain', value: 'x' }],
      sts: { audiences: ['sts.amazonaws.com'] },
    },
  });
  t.teardown(() => server.close());
  server.faults.add({ kind: 'throttle', operation: 'AssumeRoleWithWebIdentity' });
  const root = await tempDir(t);
  await writeFile(join(root, 'token'), webIdentityToken());
  const initTimeout = 4 * SECOND;
  const clock = new AgentClock();
  const { agent } = await agentRig(
    t,
    server,
    {
      mode: 'init',
      region: 'us-east-1',
      failoverRegion: 'us-west-2',
      initTimeout: '4s',
      secrets: [{ name: 'p', id: 'plain' }],
    },
    {
      clock,
      random: seededRandom(4),
      env: {
        ...NO_STATIC_KEYS,
        AWS_ROLE_ARN: role,
        AWS_WEB_IDENTITY_TOKEN_FILE: join(root, 'token'),
      },
    },
  );
  const failures = await clock.drive(agent.runInit(new AbortController().signal));
  const sts = server.requests.list({ operation: 'AssumeRoleWithWebIdentity' }).length;
  t.ok(sts >= 2 && sts <= initCycleLimit(initTimeout), `${sts} exchanges, one per cycle`);
  t.equal(smCalls(server), 0, 'no read without credentials, in neither region');
  t.match(
    terminationMessage(failures),
    /^failed to fetch p: secret plain: credentials: Throttling/,
  );
  t.ok(clock.now() <= initTimeout, `within initTimeout: ${clock.now()} ms`);
});

t.test(
  'EKS Pod Identity endpoint failing: asked once per cycle, retried until initTimeout',
  async (t) => {
    const server = await startDevServer({ seed: { secrets: [{ name: 'plain', value: 'x' }] } });
    t.teardown(() => server.close());
    let asked = 0;
    const endpoint = createServer((req, res) => {
      asked++;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => endpoint.close(() => resolve())));
    const { port } = endpoint.address() as AddressInfo;
    const root = await tempDir(t);
    await writeFile(join(root, 'token'), 'pod-identity-agent-token');
    const initTimeout = 8 * SECOND;
    const clock = new AgentClock();
    const { agent } = await agentRig(
      t,
      server,
      { mode: 'init', initTimeout: '8s', secrets: [{ name: 'p', id: 'plain' }] },
      {
        clock,
        random: seededRandom(8),
        containerCredentials: true,
        env: {
          ...NO_STATIC_KEYS,
          AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/v1/credentials`,
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(root, 'token'),
        },
      },
    );
    const failures = await clock.drive(agent.runInit(new AbortController().signal));
    // The agent's own chain asks once per resolution, on loopback as on EKS's 169.254.170.23
    // (the SDK's asked a loopback address twice: its HTTP provider, then its older one).
    const cycles = asked;
    // Waits of at most 1 + 2 + 4 s: a fourth cycle always fits in 8 s, past the three that an
    // error waiting would not cure gets.
    t.ok(
      Number.isInteger(cycles) && cycles >= 4 && cycles <= initCycleLimit(initTimeout),
      `retried like a network error, once per cycle: ${asked} requests`,
    );
    t.match(terminationMessage(failures), /^failed to fetch p: secret plain: credentials: /);
    t.equal(smCalls(server), 0);
    t.ok(clock.now() <= initTimeout, `within initTimeout: ${clock.now()} ms`);
  },
);

t.test('a process: init with every call throttled exits 1 within initTimeout', async (t) => {
  const server = await startDevServer({ seed: { secrets: [{ name: 'plain', value: 'x' }] } });
  t.teardown(() => server.close());
  server.faults.add({ kind: 'throttle' });
  const root = await tempDir(t);
  const initTimeout = 2 * SECOND;
  const started = Date.now();
  const run = await runAgent(
    [
      '--config-json',
      JSON.stringify({
        mode: 'init',
        outputDir: join(root, 'secrets'),
        httpPort: 0,
        terminationLogPath: join(root, 'termination-log'),
        region: 'us-east-1',
        failoverRegion: 'us-west-2',
        initTimeout: '2s',
        secrets: [{ name: 'p', id: 'plain' }],
      }),
    ],
    agentEnv(server.url),
  );
  const elapsed = Date.now() - started;
  t.equal(run.code, 1);
  t.match(
    await readFile(join(root, 'termination-log'), 'utf8'),
    /^failed to fetch p: secret plain: ThrottlingException/,
  );
  const calls = smCalls(server);
  const perCycle = fetchWorstCase({ batchable: 1, pinned: 0, failover: true }).calls;
  t.equal(perCycle, 2, 'one call per region');
  // A first wait of 0.1–1 s: at least two cycles fit in 2 s, at most initCycleLimit.
  t.ok(calls >= 2 * perCycle && calls <= initCycleLimit(initTimeout) * perCycle, `${calls} calls`);
  t.ok(elapsed < initTimeout + 5 * SECOND, `bounded: ${elapsed} ms`);
});

t.test(
  'the Kubernetes Secret: a write that keeps conflicting stops after its attempts',
  async (t) => {
    const server = await startKubeApiServer();
    t.teardown(() => server.close());
    const client = createSecretsClient({
      server: server.url,
      insecureSkipTlsVerify: false,
      token: () => Promise.resolve(ADMIN_TOKEN),
      source: 'test',
    });
    t.teardown(() => client.close());
    const sink = new K8sSecretSink({
      client,
      namespace: 'shop',
      name: 'app',
      logger: silentLogger,
    });
    server.failNext(100, 409);
    const started = Date.now();
    const err = await sink
      .write(new Map([['k', Buffer.from('v')]]), new AbortController().signal)
      .catch((e: unknown) => e);
    t.ok(err instanceof KubeApiError && err.reason === 'Conflict', 'the conflict is returned');
    t.equal(SECRET_WRITE_ATTEMPTS, 6);
    t.equal(server.requests.length, SECRET_WRITE_ATTEMPTS, 'one request per attempt here');
    t.ok(Date.now() - started < 300 + 1_000, 'spread over at most 0.3 s');
  },
);

t.test('reload-url: at most its attempts, its waits between them', async (t) => {
  let posts = 0;
  const app = createServer((req, res) => {
    posts++;
    res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => app.close(() => resolve())));
  const outcomes: string[] = [];
  const clock = new AgentClock();
  const reload = createReloader({
    url: `http://127.0.0.1:${(app.address() as AddressInfo).port}/-/reload`,
    logger: silentLogger,
    onOutcome: (o) => outcomes.push(o),
    clock,
  });
  await clock.drive(reload(['a'], new AbortController().signal));
  const elapsed = clock.now();
  t.equal(posts, RELOAD_ATTEMPTS, `${RELOAD_ATTEMPTS} POSTs`);
  t.same(outcomes, ['failure'], 'then one failure counted');
  // Waits of 1 s then 2 s, jittered to 50–100% (virtual time: the POSTs add none).
  const { baseMs } = RELOAD_BACKOFF;
  t.ok(elapsed >= 1.5 * baseMs, `waited: ${elapsed} ms`);
  t.ok(elapsed <= 3 * baseMs, `at most 1 + 2 s of waits: ${elapsed} ms`);
  t.ok(RELOAD_ATTEMPTS * RELOAD_TIMEOUT_MS + 3 * baseMs <= 18 * SECOND, 'README: 18 s per change');
});

t.test('the docs state the figures the code computes', async (t) => {
  const readme = (await readFile(join(import.meta.dirname, '..', 'docs', 'agent.md'), 'utf8'))
    .replace(/\s+/g, ' ')
    .replace(/ \| /g, ' | ');
  const section = readme.slice(readme.indexOf('## Retries'), readme.indexOf('## Secrets for'));
  const init = initCycleLimit(120 * SECOND);
  t.match(section, `| init, retryable errors | ${init} within the default \`2m\``);
  t.match(
    section,
    `| init, an error waiting rarely cures | ${INIT_ATTEMPTS_FOR_PERMANENT_ERRORS} |`,
  );
  const twenty = fetchWorstCase({ batchable: 20, pinned: 0, failover: true });
  // The batch call throttled once per region, then one GetSecretValue per secret each cycle.
  const throttled = 2 * (1 + init * (twenty.callsBatchDenied / 2 - 1));
  t.match(
    section,
    `at most 2 × (1 + ${init} × 20) = ${throttled.toLocaleString('en-US')} Secrets Manager`,
  );
  t.match(section, `and ${init * twenty.credentialCalls} STS exchanges`);
  const hundred = fetchWorstCase({ batchable: 100, pinned: 0, failover: false });
  t.match(section, `at most R × ${hundred.rounds} × \`requestTimeout\``);
  t.match(
    section,
    `at most ${SECRET_WRITE_ATTEMPTS} attempts (${2 * SECRET_WRITE_ATTEMPTS} requests`,
  );
  t.match(section, `at most ${RELOAD_ATTEMPTS} times per change`);
});
