/**
 * A fleet against one account's quotas, all in virtual time: the dev endpoint's quota model on
 * the wire, the agent's full-jitter backoff over many pods, the spread of the first refresh, the
 * switch from BatchGetSecretValue to GetSecretValue under throttling, and the bound on a
 * throttled init. No test here waits on a real clock.
 */
import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  Agent,
  firstRefreshDelay,
  INIT_BACKOFF,
  THROTTLED_INIT_REPORT_MS,
} from '../agent/agent.ts';
import { backoffDelay } from '../agent/backoff.ts';
import { createAgentMetrics } from '../agent/metrics.ts';
import { prepareRenderer, renderFile } from '../agent/render.ts';
import { createAwsSource } from '../agent/source/aws.ts';
import { translateAwsError } from '../agent/source/errors.ts';
import { refKey, type FetchOutcome, type SecretSource } from '../agent/source/source.ts';
import { BATCH_THROTTLED_COOL_DOWN } from '../agent/source/strategy.ts';
import { seededRandom, VirtualClock } from '../common/clock.ts';
import { parseAgentConfig } from '../common/config.ts';
import { createLogger, silentLogger } from '../common/log.ts';
import { QuotaModel, QUOTAS } from '../dev/quota.ts';
import { startDevServer, type DevServer } from '../dev/server.ts';
import {
  largestFleets,
  LIMIT_INTERVALS,
  meanOver,
  simulateFleet,
  total,
} from '../bench/fleet-sim.ts';
import { useLoopbackAwsEnv, webIdentityToken } from './helpers/agent-process.ts';
import { awsJson } from './helpers/aws-json.ts';

async function quotaServer(
  t: Test,
  quotas: { scale: number; ssmHigherThroughput?: boolean },
  now: () => number,
): Promise<DevServer> {
  const server = await startDevServer({
    seed: {
      region: 'us-east-1',
      secrets: [
        { name: 'a', value: 'A' },
        { name: 'b', value: 'B' },
      ],
      parameters: [{ name: '/p/one', value: '1' }],
    },
    quotas,
    now,
  });
  t.teardown(() => server.close());
  return server;
}

t.test('the quota model answers as AWS does: ThrottlingException, HTTP 400', async (t) => {
  let now = 0;
  // BatchGetSecretValue at 100/s ÷ 1000: one call per 10 s, a bucket of one.
  const server = await quotaServer(t, { scale: 1000 }, () => now);
  const batch = { SecretIdList: ['a'] };
  const first = await awsJson(server.url, 'secretsmanager.BatchGetSecretValue', batch);
  t.equal(first.status, 200);
  const second = await awsJson(server.url, 'secretsmanager.BatchGetSecretValue', batch);
  t.same(second, {
    status: 400,
    errorType: 'ThrottlingException',
    body: { __type: 'ThrottlingException', message: 'Rate exceeded', Message: 'Rate exceeded' },
  });
  const get = await awsJson(server.url, 'secretsmanager.GetSecretValue', { SecretId: 'a' });
  t.equal(get.status, 200, 'GetSecretValue has a bucket of its own');
  now += 9_999;
  t.equal((await awsJson(server.url, 'secretsmanager.BatchGetSecretValue', batch)).status, 400);
  now += 1;
  t.equal(
    (await awsJson(server.url, 'secretsmanager.BatchGetSecretValue', batch)).status,
    200,
    'refilled at the quota’s rate',
  );
  t.same(
    server.requests.list({ operation: 'BatchGetSecretValue' }).map((r) => r.outcome),
    ['ok', 'ThrottlingException', 'ThrottlingException', 'ok'],
    'the request log records each throttled call',
  );
  t.equal(
    translateAwsError({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }, 'x')
      .code,
    'THROTTLED',
    'which the agent reads as throttling',
  );
});

t.test('SSM: one 40/s quota for its three reads; higher throughput splits it', async (t) => {
  const now = (): number => 0;
  const shared = await quotaServer(t, { scale: 40 }, now);
  const names = { Names: ['/p/one'] };
  t.equal((await awsJson(shared.url, 'AmazonSSM.GetParameters', names)).status, 200);
  const byPath = await awsJson(shared.url, 'AmazonSSM.GetParametersByPath', { Path: '/p' });
  t.equal(byPath.status, 400);
  t.equal(byPath.body['__type'], 'ThrottlingException', 'the path call shares the bucket');
  const high = await quotaServer(t, { scale: 40, ssmHigherThroughput: true }, now);
  t.equal((await awsJson(high.url, 'AmazonSSM.GetParameters', names)).status, 200);
  t.equal(
    (await awsJson(high.url, 'AmazonSSM.GetParametersByPath', { Path: '/p' })).status,
    200,
    'with higher throughput, the path call has its own quota',
  );
});

t.test('STS: Throttling in the query protocol’s XML, HTTP 400', async (t) => {
  const server = await quotaServer(t, { scale: 600 }, () => 0);
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: 'arn:aws:iam::123456789012:role/fleet',
    RoleSessionName: 'pod',
    WebIdentityToken: webIdentityToken(),
  }).toString();
  const post = () =>
    fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
  t.equal((await post()).status, 200);
  const throttled = await post();
  t.equal(throttled.status, 400);
  const xml = await throttled.text();
  t.match(xml, '<Type>Sender</Type>');
  t.match(xml, '<Code>Throttling</Code>');
  t.match(xml, '<Message>Rate exceeded</Message>');
});

t.test('a bucket never admits more than its burst plus its rate over time', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...Object.keys(QUOTAS)),
      fc.integer({ min: 1, max: 10_000 }),
      fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 300 }),
      async (operation, scale, gaps) => {
        const model = new QuotaModel({ scale });
        const rate = model.rate(operation) ?? 0;
        let now = 0;
        let admitted = 0;
        for (const gap of gaps) {
          now += gap;
          if (model.admit(operation, now)) admitted += 1;
        }
        const bound = Math.max(1, rate) + (rate * now) / 1000;
        return admitted <= Math.floor(bound + 1e-9);
      },
    ),
    { numRuns: 200 },
  );
  t.pass('200 generated arrival patterns, none over the bound');
});

t.test('full jitter: pods throttled at one instant retry spread, not in step', async (t) => {
  const pods = 2_000;
  const bins = 10;
  for (const attempt of [0, 2, 5]) {
    const nominal = Math.min(INIT_BACKOFF.capMs, INIT_BACKOFF.baseMs * 2 ** attempt);
    const counts = new Array<number>(bins).fill(0);
    const waits = new Set<number>();
    for (let seed = 1; seed <= pods; seed++) {
      const wait = backoffDelay(INIT_BACKOFF, attempt, seededRandom(seed));
      waits.add(wait);
      if (wait < nominal * 0.1 - 1 || wait > nominal)
        t.fail(`${wait} outside 10–100% of ${nominal}`);
      const bin = Math.min(bins - 1, Math.floor((wait / nominal) * bins));
      counts[bin] = (counts[bin] ?? 0) + 1;
    }
    // Uniform over 10–100%: every bin from the second on holds about pods/9 (222); none
    // more than a third above it. A 50% floor would put none in the first five bins and
    // double the others.
    const expected = pods / (bins - 1);
    const busiest = Math.max(...counts);
    t.ok(busiest < expected * 1.34, `attempt ${attempt}: busiest tenth ${busiest} of ${pods}`);
    t.ok(
      counts.slice(1).every((c) => c > expected * 0.66),
      `attempt ${attempt}: every tenth from 10% on is used: ${counts.join(' ')}`,
    );
    t.ok(waits.size > pods / 4, `attempt ${attempt}: ${waits.size} distinct waits`);
  }
});

/** A source that answers every ref at once, recording when it was asked. */
function instantSource(clock: VirtualClock, log: number[]): SecretSource {
  return {
    fetch(refs) {
      log.push(clock.now());
      const out = new Map<string, FetchOutcome>();
      for (const ref of refs)
        out.set(refKey(ref), { ref, ok: true, value: { arn: 'arn', versionId: 'v', string: 'x' } });
      return Promise.resolve(out);
    },
    close() {},
  };
}

const files = { write: () => Promise.resolve({ status: 'written' as const, changed: [] }) };

async function oneSecretConfig(refreshInterval: string, initTimeout = '2m') {
  const config = await parseAgentConfig({
    outputDir: '/fleet/secrets',
    httpPort: 0,
    refreshInterval,
    initTimeout,
    secrets: [{ name: 'a', id: 'a' }],
  });
  await prepareRenderer(config.secrets);
  return config;
}

t.test('the first refresh after a rollout is spread over the whole interval', async (t) => {
  const interval = 300_000;
  const config = await oneSecretConfig('5m');
  const clock = new VirtualClock(0);
  const pods = 1_000;
  const fetches: number[][] = [];
  const stop = new AbortController();
  const loops = Array.from({ length: pods }, (_, i) => {
    const log: number[] = [];
    fetches.push(log);
    return new Agent({
      config,
      source: instantSource(clock, log),
      files,
      metrics: createAgentMetrics(),
      logger: silentLogger,
      render: renderFile,
      clock,
      random: seededRandom(i + 1),
    }).runSidecar(stop.signal);
  });
  // Every pod starts at 0 (a rollout at its most synchronised): run two intervals.
  await clock.run(2 * interval);
  stop.abort();
  await clock.run(2 * interval);
  await Promise.all(loops);
  const firstRefresh = fetches.map((log) => log[1] ?? Number.NaN);
  t.ok(
    firstRefresh.every((at) => at > 0 && at <= interval),
    'each within one interval of the first write',
  );
  const bins = new Array<number>(10).fill(0);
  for (const at of firstRefresh) {
    const bin = Math.min(9, Math.floor((at / interval) * 10));
    bins[bin] = (bins[bin] ?? 0) + 1;
  }
  t.ok(
    bins.every((n) => n > 70 && n < 130),
    `about a tenth of the pods in each tenth of the interval: ${bins.join(' ')}`,
  );
  t.equal(
    firstRefreshDelay(interval, () => 0),
    1,
    'never at once',
  );
  t.equal(
    firstRefreshDelay(interval, () => 0.999_999_9),
    interval,
    'never past the interval',
  );
});

t.test('a throttled init says so after 10 s, and gives up at initTimeout', async (t) => {
  const config = await oneSecretConfig('5m', '2m');
  const clock = new VirtualClock(0);
  const logs: string[] = [];
  let calls = 0;
  const throttled: SecretSource = {
    fetch(refs) {
      calls += 1;
      const error = translateAwsError(
        {
          name: 'ThrottlingException',
          message: 'Rate exceeded',
          $metadata: { httpStatusCode: 400 },
        },
        'secret a',
      );
      return Promise.resolve(new Map(refs.map((ref) => [refKey(ref), { ref, ok: false, error }])));
    },
    close() {},
  };
  const agent = new Agent({
    config,
    source: throttled,
    files,
    metrics: createAgentMetrics(),
    logger: createLogger({ write: (line: string) => logs.push(line) }, { level: 'debug' }),
    render: renderFile,
    clock,
    random: seededRandom(3),
  });
  let endedAt = Number.NaN;
  const init = agent.runInit(new AbortController().signal).then((failures) => {
    endedAt = clock.now();
    return failures;
  });
  await clock.run(10 * 60_000);
  const failures = await init;
  t.ok(endedAt <= config.initTimeoutMs, `reported at ${endedAt} ms, within initTimeout`);
  t.same(
    failures.map((f) => f.error.code),
    ['THROTTLED'],
  );
  const reports = logs
    .map((l) => JSON.parse(l) as { msg: string; time: string; forMs?: number })
    .filter((l) => l.msg === 'AWS is throttling the first fetch; still trying');
  t.equal(reports.length, 1, 'one warning');
  t.ok((reports[0]?.forMs ?? 0) >= THROTTLED_INIT_REPORT_MS, 'after 10 s of throttling');
  t.ok(calls >= 2, `${calls} fetches, each after a full-jitter wait`);
});

t.test('the batch call, throttled, gives way to GetSecretValue for a cool-down', async (t) => {
  let now = 0;
  // BatchGetSecretValue at 1/s (a bucket of one); GetSecretValue at 100/s.
  const server = await quotaServer(t, { scale: 100 }, () => now);
  useLoopbackAwsEnv();
  process.env['AWS_ENDPOINT_URL'] = server.url;
  const counted: string[] = [];
  const source = createAwsSource({
    region: 'us-east-1',
    logger: silentLogger,
    onApiCall: (operation, outcome) => counted.push(`${operation} ${outcome}`),
    now: () => now,
    random: () => 0.5,
  });
  t.teardown(() => source.close());
  const refs = [{ id: 'a' }, { id: 'b' }];
  const fetchAll = async () => {
    const out = await source.fetch(refs, AbortSignal.timeout(10_000));
    return [...out.values()].every((o) => o.ok);
  };
  const calls = () => {
    const list = server.requests.list().map((r) => `${r.operation} ${r.outcome}`);
    server.requests.clear();
    return list.sort();
  };
  t.ok(await fetchAll());
  t.same(calls(), ['BatchGetSecretValue ok'], 'one batch call for both');
  t.ok(await fetchAll(), 'throttled, and still read');
  t.same(
    calls(),
    ['BatchGetSecretValue ThrottlingException', 'GetSecretValue ok', 'GetSecretValue ok'],
    'the same secrets one by one, at once',
  );
  const { minMs, maxMs } = BATCH_THROTTLED_COOL_DOWN;
  const coolDown = minMs + 0.5 * (maxMs - minMs);
  now += coolDown - 1;
  t.ok(await fetchAll());
  t.same(calls(), ['GetSecretValue ok', 'GetSecretValue ok'], 'no batch call in the cool-down');
  now += 1;
  t.ok(await fetchAll());
  t.same(calls(), ['BatchGetSecretValue ok'], 'then the batch call again');
  t.ok(counted.includes('BatchGetSecretValue throttled'), 'counted as throttled');
});

t.test('a fleet over the batch quota sheds onto GetSecretValue, and no pod fails', async (t) => {
  // 600 pods at a 1-minute refresh: 10 batch calls/s against a quota of 100/100 = 1/s.
  const r = await simulateFleet({
    pods: 600,
    secrets: 5,
    parameters: 0,
    refreshMs: 60_000,
    rolloutPods: 100,
    rolloutMs: 10_000,
    quotas: { scale: 100 },
    callMs: 20,
    startMs: 300,
    seed: 5,
  });
  const { from, to } = r.steady;
  const batch = meanOver(r.series.calls.BatchGetSecretValue, from, to);
  const batchOk = batch - meanOver(r.series.throttled.BatchGetSecretValue, from, to);
  t.equal(r.initFailures, 0, 'no init failed');
  t.equal(r.firstWriteMs.length, 100, 'every rollout pod wrote its files');
  t.ok(total(r.series.throttled.BatchGetSecretValue) > 0, 'the batch call was throttled');
  t.ok(batchOk <= r.quota.BatchGetSecretValue * 1.05, `batch calls answered: ${batchOk}/s`);
  t.ok(batch < 10 / 2, `most pods left the batch call: ${batch} of 10 calls/s`);
  t.equal(total(r.series.throttled.GetSecretValue), 0, 'GetSecretValue had room');
});

t.test('the docs state the fleet limits and bounds the code computes', async (t) => {
  const root = join(import.meta.dirname, '..');
  const flat = async (path: string): Promise<string> =>
    (await readFile(join(root, path), 'utf8')).replace(/\s+/g, ' ');
  // A pod of 5 secrets and 2 parameters: one batch call and one GetParameters per refresh.
  const perPod = {
    AssumeRoleWithWebIdentity: 0,
    BatchGetSecretValue: 1,
    GetSecretValue: 0,
    GetParameters: 1,
  };
  const high = largestFleets(perPod, true, 0.5);
  const low = largestFleets(perPod, false, 0.5);
  const n = (refresh: string, table: typeof high): string =>
    (table.find((l) => l.refresh === refresh)?.pods ?? 0).toLocaleString('en-US');
  const readme = await flat('README.md');
  t.match(readme, `up to **${n('5m', high)} pods at the default 5-minute refresh**`);
  t.match(readme, `(${n('1m', high)} at 1 minute, ${n('1h', high)} at 1 hour)`);
  t.match(readme, `${n('5m', low)} pods at 5 minutes (${n('1h', low)} at 1 hour)`);
  const performance = await flat('docs/performance.md');
  for (const l of Object.keys(LIMIT_INTERVALS))
    t.match(
      performance,
      `| ${l} | ${n(l, low)} | ${low.find((x) => x.refresh === l)?.limitedBy ?? ''} | ${n(l, high)} |`,
      `performance.md: the limits at ${l}`,
    );
  const limits = await flat('docs/limits.md');
  t.match(limits, `a warning after ${THROTTLED_INIT_REPORT_MS / 1000} s`);
  const { minMs, maxMs } = BATCH_THROTTLED_COOL_DOWN;
  t.match(limits, `for ${minMs / 60_000}–${maxMs / 60_000} min (uniform)`);
});

t.test('a retry reads only what failed; the next refresh reads everything', async (t) => {
  const config = await parseAgentConfig({
    outputDir: '/fleet/secrets',
    httpPort: 0,
    refreshInterval: '5m',
    secrets: [
      { name: 'a', id: 'a' },
      { name: 'p', id: '/p', source: 'parameter' },
    ],
  });
  await prepareRenderer(config.secrets);
  const clock = new VirtualClock(0);
  const asked: string[][] = [];
  let throttleParameters = 2;
  const source: SecretSource = {
    fetch(refs) {
      asked.push(refs.map((r) => r.id));
      const out = new Map<string, FetchOutcome>();
      for (const ref of refs) {
        const throttled = ref.kind === 'parameter' && throttleParameters-- > 0;
        out.set(
          refKey(ref),
          throttled
            ? {
                ref,
                ok: false,
                error: translateAwsError(
                  { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } },
                  'parameter /p',
                ),
              }
            : { ref, ok: true, value: { arn: 'arn', versionId: 'v', string: 'x' } },
        );
      }
      return Promise.resolve(out);
    },
    close() {},
  };
  const stop = new AbortController();
  const loop = new Agent({
    config,
    source,
    files,
    metrics: createAgentMetrics(),
    logger: silentLogger,
    render: renderFile,
    clock,
    random: seededRandom(9),
  }).runSidecar(stop.signal);
  await clock.run(config.refreshIntervalMs * 2);
  stop.abort();
  await clock.run(config.refreshIntervalMs * 2);
  await loop;
  t.same(asked.slice(0, 4), [['a', '/p'], ['/p'], ['/p'], ['a', '/p']]);
});

t.test(
  'the virtual clock wakes every sleeper at its time, in order, after pending work',
  async (t) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 3 })), {
          minLength: 1,
          maxLength: 50,
        }),
        async (sleeps) => {
          const clock = new VirtualClock(1_000);
          const woken: { at: number; due: number }[] = [];
          const signal = new AbortController().signal;
          const all = sleeps.map(async ([ms, turns]) => {
            // Work before the sleep that takes turns: the clock must wait for it.
            for (let i = 0; i < turns; i++) await clock.turn();
            const due = clock.now() + ms;
            await clock.sleep(ms, signal);
            woken.push({ at: clock.now(), due });
          });
          await clock.run(1_000 + 20_000);
          await Promise.all(all);
          const inOrder = woken.every((w, i) => i === 0 || (woken[i - 1]?.at ?? 0) <= w.at);
          return woken.length === sleeps.length && inOrder && woken.every((w) => w.at === w.due);
        },
      ),
      { numRuns: 100 },
    );
    t.pass('100 generated schedules');
  },
);
