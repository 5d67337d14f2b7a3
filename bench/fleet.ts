/**
 * A fleet against one AWS account's quotas.
 *
 * 1. Real processes: K agents (`dist/cli.js agent`, sidecar mode, IRSA through the dev STS,
 *    5 secrets and 2 parameters each, refresh 5 s) against `secrets-agent dev --quota-scale F`,
 *    started by a rollout, then refreshing. F is chosen so that the K agents load the account
 *    as 10,000 pods refreshing every 5 minutes would load AWS's real quotas (F = N·r / (K·R)),
 *    and the rollout of K over W seconds as 1,000 pods within 60 s would.
 * 2. The same run in the simulation (bench/fleet-sim.ts: the agent's own loop, strategy and
 *    backoff on a virtual clock, against the dev endpoint's quota model), to compare with 1.
 * 3. The simulation at full scale: 10,000 pods refreshing every 5 minutes and 100,000 every
 *    hour, each through a rollout of 1,000 pods within 60 s, with SSM's default and higher
 *    throughput; and a fleet past the batch call's quota, to show the switch at work.
 * 4. Kubernetes: the real webhook (`dist/cli.js webhook`) admitting a 1,000-pod rollout, and the
 *    Kubernetes Secret writes the simulated fleet makes (only on change).
 *
 * Prints calls/s per API at peak and at steady state against the quota, throttled calls, time
 * to first write (p50/p99) in the rollout, init failures, calls per pod-hour and dollars a month
 * ($0.05 per 10,000 calls); draws docs/fleet.svg (not with --quick).
 *
 *   node bench/fleet.ts [--quick] [--pods K]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { freePort, webIdentityToken } from '../test/helpers/agent-process.ts';
import { postReview, untilUp, writeServingPair } from '../test/helpers/shipped-webhook.ts';
import { startDevProcess } from './dev-process.ts';
import {
  largestFleets,
  meanOver,
  OPERATIONS,
  peakOver,
  simulateFleet,
  total,
  type FleetResult,
  type FleetScenario,
  type Operation,
} from './fleet-sim.ts';
import { drawFleet } from './fleet-svg.ts';
import {
  agentEnv,
  catalogReview,
  CLI,
  NODE,
  percentile,
  printResult,
  QUICK,
  ROOT,
  round,
  sleep,
  table,
  tempDir,
  benchWebhook,
} from './lib.ts';

/**
 * AWS bills Secrets Manager API calls at $0.05 per 10,000, and SSM Parameter Store's at the same
 * with its higher throughput setting (free at the standard one); STS is free.
 */
export const DOLLARS_PER_CALL = 0.05 / 10_000;

function billed(op: Operation, ssmHigherThroughput: boolean): boolean {
  if (op === 'AssumeRoleWithWebIdentity') return false;
  return op !== 'GetParameters' || ssmHigherThroughput;
}
const SECONDS_PER_MONTH = 30 * 24 * 3600;
const SECRETS = 5;
const PARAMETERS = 2;
const ROLE = 'arn:aws:iam::123456789012:role/fleet';

/** What the goals ask (docs/performance.md). */
const GOAL = {
  initFailures: 0,
  p99FirstWriteMs: 10_000,
  steadyShareOfQuota: 0.5,
} as const;

function argNumber(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const raw = i < 0 ? undefined : process.argv[i + 1];
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

const K = argNumber('--pods', QUICK ? 2 : 12);
const REAL_REFRESH_MS = 5_000;
/** The fleet the simulation stands in for. */
const STANDS_FOR = { pods: 10_000, refreshMs: 300_000, rolloutPods: 1_000, rolloutMs: 60_000 };
/**
 * The fleet the real run stands in for: the same, but a tenth of it with --quick, whose real run
 * proves the path (rollout, first writes, refreshes counted at steady state) rather than measures
 * it: its rollout lasts a second instead of ten.
 */
const REAL_STANDS_FOR = { ...STANDS_FOR, pods: QUICK ? 1_000 : STANDS_FOR.pods };
const F = Math.max(
  1,
  Math.round((REAL_STANDS_FOR.pods * REAL_REFRESH_MS) / (K * REAL_STANDS_FOR.refreshMs)),
);
/** K·F pods started at 1,000 per 60 s, as the account sees them. */
const REAL_ROLLOUT_MS = Math.round(
  (K * F * REAL_STANDS_FOR.rolloutMs) / REAL_STANDS_FOR.rolloutPods,
);
/** Refresh intervals after the rollout before steady state is counted, then counted. */
const REAL_SETTLE_INTERVALS = QUICK ? 1 : 2;
const REAL_STEADY_INTERVALS = QUICK ? 1 : 4;

// ---------------------------------------------------------------------------------------------
// 1. Real processes

interface RealRun {
  readonly pods: number;
  readonly scale: number;
  readonly rolloutMs: number;
  readonly firstWriteMs: readonly number[];
  readonly initFailures: number;
  readonly calls: Record<string, number>;
  readonly throttled: Record<string, number>;
  /** Calls per agent-hour at steady state (5 s refresh), by operation. */
  readonly steadyPerPodHour: Record<string, number>;
}

interface RequestRecord {
  readonly time: string;
  readonly operation: string;
  readonly outcome: string;
}

function fleetSeed(): object {
  return {
    region: 'us-east-1',
    sts: { audiences: ['sts.amazonaws.com'] },
    secrets: Array.from({ length: SECRETS }, (_, i) => ({
      name: `app/s${i}`,
      value: { username: `user${i}`, password: `fleet-password-${i}` },
    })),
    parameters: Array.from({ length: PARAMETERS }, (_, i) => ({
      name: `/app/p${i}`,
      value: `parameter-${i}`,
    })),
  };
}

function agentConfig(dir: string): string {
  return JSON.stringify({
    mode: 'sidecar',
    outputDir: join(dir, 'secrets'),
    httpPort: 0,
    httpAddress: '127.0.0.1',
    refreshInterval: `${REAL_REFRESH_MS / 1000}s`,
    terminationLogPath: join(dir, 'termination-log'),
    secrets: [
      ...Array.from({ length: SECRETS }, (_, i) => ({ name: `s${i}`, id: `app/s${i}` })),
      ...Array.from({ length: PARAMETERS }, (_, i) => ({
        name: `p${i}`,
        id: `/app/p${i}`,
        source: 'parameter',
      })),
    ],
  });
}

interface RealPod {
  readonly child: ChildProcess;
  firstWriteMs: number | undefined;
  exited: boolean;
  stopping: boolean;
}

function startRealPod(dir: string, endpoint: string): RealPod {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, webIdentityToken());
  const env = agentEnv(endpoint, {
    AWS_ROLE_ARN: ROLE,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_ROLE_SESSION_NAME: 'fleet-pod',
  });
  delete env['AWS_ACCESS_KEY_ID'];
  delete env['AWS_SECRET_ACCESS_KEY'];
  const started = performance.now();
  const child = spawn(NODE, [CLI, 'agent', '--config-json', agentConfig(dir)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pod: RealPod = { child, firstWriteMs: undefined, exited: false, stopping: false };
  let out = '';
  const watch = (d: Buffer): void => {
    if (pod.firstWriteMs !== undefined) return;
    out += d.toString();
    if (out.includes('"msg":"all secrets written"')) pod.firstWriteMs = performance.now() - started;
    else if (out.length > 1 << 20) out = out.slice(-4096);
  };
  child.stdout?.on('data', watch);
  child.stderr?.on('data', watch);
  child.once('exit', () => (pod.exited = true));
  return pod;
}

function stopPod(pod: RealPod): Promise<void> {
  pod.stopping = true;
  if (pod.child.exitCode !== null || pod.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    pod.child.once('exit', () => resolve());
    pod.child.kill('SIGTERM');
  });
}

/** Children to stop should the bench itself be stopped. */
const children = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    for (const child of children) child.kill('SIGTERM');
    process.exit(130);
  });

async function realRun(): Promise<RealRun> {
  const work = tempDir('sa-bench-fleet-');
  const dev = await startDevProcess(fleetSeed(), work, ['--quota-scale', String(F)]);
  children.add(dev.child);
  const pods: RealPod[] = [];
  const started = Date.now();
  try {
    for (let i = 0; i < K; i++) {
      const at = (REAL_ROLLOUT_MS * i) / K;
      await sleep(Math.max(0, at - (Date.now() - started)));
      const dir = join(work, `pod${i}`);
      mkdirSync(dir, { recursive: true });
      const pod = startRealPod(dir, dev.url);
      children.add(pod.child);
      pods.push(pod);
    }
    const steadyFrom = REAL_ROLLOUT_MS + REAL_SETTLE_INTERVALS * REAL_REFRESH_MS;
    const end = steadyFrom + REAL_STEADY_INTERVALS * REAL_REFRESH_MS;
    await sleep(Math.max(0, end - (Date.now() - started)));
    const records = await requestLog(dev.url);
    const initFailures = pods.filter((p) => p.exited && !p.stopping).length;
    const calls: Record<string, number> = {};
    const throttled: Record<string, number> = {};
    const steady: Record<string, number> = {};
    for (const r of records) {
      calls[r.operation] = (calls[r.operation] ?? 0) + 1;
      if (/^Throttling/.test(r.outcome)) throttled[r.operation] = (throttled[r.operation] ?? 0) + 1;
      const at = Date.parse(r.time) - started;
      if (at >= steadyFrom && at < end) steady[r.operation] = (steady[r.operation] ?? 0) + 1;
    }
    const podHours = (K * (end - steadyFrom)) / 3_600_000;
    return {
      pods: K,
      scale: F,
      rolloutMs: REAL_ROLLOUT_MS,
      firstWriteMs: pods.flatMap((p) => (p.firstWriteMs === undefined ? [] : [p.firstWriteMs])),
      initFailures: initFailures + pods.filter((p) => p.firstWriteMs === undefined).length,
      calls,
      throttled,
      steadyPerPodHour: Object.fromEntries(
        Object.entries(steady).map(([op, n]) => [op, n / podHours]),
      ),
    };
  } finally {
    await Promise.all(pods.map(stopPod));
    await dev.stop();
  }
}

async function requestLog(url: string): Promise<RequestRecord[]> {
  const res = await fetch(`${url}/_dev/requests`);
  const body = (await res.json()) as { requests: RequestRecord[] };
  return body.requests;
}

// ---------------------------------------------------------------------------------------------
// 2, 3. The simulation

interface SimSummary {
  readonly label: string;
  readonly pods: number;
  readonly refresh: string;
  readonly ssm: 'default' | 'higher throughput';
  readonly scale: number;
  readonly perApi: Record<
    Operation,
    {
      readonly quota: number;
      readonly peak: number;
      readonly steady: number;
      readonly steadyShare: number;
      readonly throttled: number;
    }
  >;
  readonly throttled: number;
  readonly p50FirstWriteMs: number;
  readonly p99FirstWriteMs: number;
  readonly initFailures: number;
  /** Reads failed after the first write, each keeping its last good file. */
  readonly keptLastGood: number;
  readonly restarts: number;
  readonly callsPerPodHour: number;
  readonly dollarsPerMonth: number;
  readonly secretWritesPeak: number;
  readonly secretWritesSteady: number;
  readonly wallMs: number;
  readonly goalMet: boolean;
}

function summarize(label: string, r: FleetResult): SimSummary {
  const { from, to } = r.steady;
  const perApi = Object.fromEntries(
    OPERATIONS.map((op) => {
      const steady = meanOver(r.series.calls[op], from, to);
      return [
        op,
        {
          quota: r.quota[op],
          peak: peakOver(r.series.calls[op], r.rolloutAt),
          steady: round(steady, 2),
          steadyShare: round(steady / r.quota[op], 3),
          throttled: total(r.series.throttled[op]),
        },
      ];
    }),
  ) as SimSummary['perApi'];
  const steadyCalls = OPERATIONS.reduce(
    (sum, op) => sum + meanOver(r.series.calls[op], from, to),
    0,
  );
  const ssmHigh = r.scenario.quotas.ssmHigherThroughput === true;
  const billedCalls = OPERATIONS.filter((op) => billed(op, ssmHigh)).reduce(
    (sum, op) => sum + meanOver(r.series.calls[op], from, to),
    0,
  );
  const callsPerPodHour = (steadyCalls * 3600) / r.scenario.pods;
  const p99 = percentile(r.firstWriteMs, 99);
  const summary = {
    label,
    pods: r.scenario.pods,
    refresh: `${r.scenario.refreshMs / 60_000}m`,
    ssm:
      r.scenario.quotas.ssmHigherThroughput === true
        ? ('higher throughput' as const)
        : ('default' as const),
    scale: r.scenario.quotas.scale ?? 1,
    perApi,
    throttled: OPERATIONS.reduce((sum, op) => sum + perApi[op].throttled, 0),
    p50FirstWriteMs: percentile(r.firstWriteMs, 50),
    p99FirstWriteMs: p99,
    initFailures: r.initFailures,
    keptLastGood: r.keptLastGood,
    restarts: r.endedAfterReady,
    callsPerPodHour: round(callsPerPodHour, 2),
    dollarsPerMonth: Math.round(billedCalls * SECONDS_PER_MONTH * DOLLARS_PER_CALL),
    secretWritesPeak: peakOver(r.secretWrites, r.rolloutAt),
    secretWritesSteady: round(meanOver(r.secretWrites, from, to), 3),
    wallMs: Math.round(r.wallMs),
  };
  const goalMet =
    summary.initFailures === GOAL.initFailures &&
    summary.restarts === 0 &&
    summary.p99FirstWriteMs <= GOAL.p99FirstWriteMs &&
    OPERATIONS.every((op) => perApi[op].steadyShare <= GOAL.steadyShareOfQuota);
  return { ...summary, goalMet };
}

function scenario(
  pods: number,
  refreshMs: number,
  ssmHigherThroughput: boolean,
  startMs: readonly number[],
): FleetScenario {
  return {
    pods,
    secrets: SECRETS,
    parameters: PARAMETERS,
    refreshMs,
    rolloutPods: Math.min(STANDS_FOR.rolloutPods, pods),
    rolloutMs: STANDS_FOR.rolloutMs,
    quotas: { ssmHigherThroughput },
    callMs: CALL_MS,
    startMs,
    k8sSecret: true,
  };
}

/** One call's round trip in the simulation (a regional AWS endpoint from EKS: tens of ms). */
const CALL_MS = 20;

// ---------------------------------------------------------------------------------------------
// 4. The webhook through a 1,000-pod rollout

interface WebhookRun {
  readonly admissions: number;
  readonly perSecond: number;
  readonly p99Ms: number;
  readonly rolloutNeedsPerSecond: number;
}

async function webhookRollout(count: number): Promise<WebhookRun> {
  const work = tempDir('sa-bench-fleet-webhook-');
  writeServingPair(work);
  const port = await freePort();
  const child = benchWebhook(work, port);
  children.add(child);
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 16 });
  try {
    const review = (i: number): string =>
      catalogReview(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    await untilUp(child, async () => (await admit(port, agent, review(0))) === 200, 'webhook');
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    // The ReplicaSet controller creates a rollout's pods in parallel bursts: 16 in flight.
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          const i = next++;
          const t0 = performance.now();
          const status = await admit(port, agent, review(i));
          if (status !== 200) throw new Error(`admission ${i}: HTTP ${status}`);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return {
      admissions: count,
      perSecond: round(count / seconds, 0),
      p99Ms: round(percentile(latencies, 99), 1),
      rolloutNeedsPerSecond: round(STANDS_FOR.rolloutPods / (STANDS_FOR.rolloutMs / 1000), 1),
    };
  } finally {
    agent.destroy();
    child.kill('SIGTERM');
  }
}

async function admit(port: number, agent: HttpsAgent, body: string): Promise<number> {
  return (await postReview(port, body, { agent })).status;
}

// ---------------------------------------------------------------------------------------------
// Run

function money(n: number): string {
  return `$${n.toLocaleString('en-US')}`;
}

function printSims(sims: readonly SimSummary[]): void {
  process.stdout.write(
    `${table(
      [
        'fleet',
        'SSM',
        'calls/pod-h',
        '$/month',
        'p50 first write',
        'p99 first write',
        'init failures',
        'kept last good',
        'restarts',
        'throttled',
        'goal',
        'wall',
      ],
      sims.map((s) => [
        `${s.pods.toLocaleString('en-US')} @ ${s.refresh}${s.scale === 1 ? '' : ` (1/${s.scale})`}`,
        s.ssm,
        s.callsPerPodHour,
        money(s.dollarsPerMonth),
        `${round(s.p50FirstWriteMs / 1000, 2)} s`,
        `${round(s.p99FirstWriteMs / 1000, 2)} s`,
        s.initFailures,
        s.keptLastGood,
        s.restarts,
        s.throttled,
        s.goalMet ? 'met' : 'not met',
        `${round(s.wallMs / 1000, 1)} s`,
      ]),
    )}\n\n`,
  );
  process.stdout.write(
    `${table(
      ['fleet', 'API', 'quota/s', 'peak/s', 'steady/s', 'steady % quota', 'throttled'],
      sims.flatMap((s) =>
        OPERATIONS.map((op) => [
          `${s.pods.toLocaleString('en-US')} @ ${s.refresh}, SSM ${s.ssm}`,
          op,
          s.perApi[op].quota,
          s.perApi[op].peak,
          s.perApi[op].steady,
          `${round(s.perApi[op].steadyShare * 100, 1)}%`,
          s.perApi[op].throttled,
        ]),
      ),
    )}\n`,
  );
}

const real = await realRun();
process.stdout.write(
  `Real processes: ${real.pods} agents (dist/cli.js), refresh ${REAL_REFRESH_MS / 1000} s, ` +
    `quotas / ${real.scale}, rolled out over ${round(real.rolloutMs / 1000, 1)} s ` +
    `(as ${(real.pods * real.scale * (STANDS_FOR.refreshMs / REAL_REFRESH_MS)).toLocaleString('en-US')} pods at 5 min)\n\n`,
);
/**
 * The simulation's process start: the real agents' times to first write, less the three calls
 * a first fetch makes (STS, the batch call, GetParameters), drawn per pod.
 */
const realStartMs =
  real.firstWriteMs.length === 0
    ? [300]
    : real.firstWriteMs.map((ms) => Math.max(0, ms - 3 * CALL_MS));
const calibration = summarize(
  'simulated, same run',
  await simulateFleet({
    pods: K,
    secrets: SECRETS,
    parameters: PARAMETERS,
    refreshMs: REAL_REFRESH_MS,
    rolloutPods: K,
    rolloutMs: REAL_ROLLOUT_MS,
    quotas: { scale: F },
    callMs: CALL_MS,
    startMs: realStartMs,
    cold: true,
    steadyIntervals: REAL_STEADY_INTERVALS,
    seed: 7,
  }),
);
const realSteady = (op: string): number => round(real.steadyPerPodHour[op] ?? 0, 0);
process.stdout.write(
  `${table(
    [
      '',
      'p50 first write',
      'p99 first write',
      'init failures',
      'throttled',
      ...OPERATIONS.map((op) => `${op}/pod-h`),
    ],
    [
      [
        'real',
        `${round(percentile(real.firstWriteMs, 50) / 1000, 2)} s`,
        `${round(percentile(real.firstWriteMs, 99) / 1000, 2)} s`,
        real.initFailures,
        Object.values(real.throttled).reduce((a, b) => a + b, 0),
        ...OPERATIONS.map(realSteady),
      ],
      [
        'simulated',
        `${round(calibration.p50FirstWriteMs / 1000, 2)} s`,
        `${round(calibration.p99FirstWriteMs / 1000, 2)} s`,
        calibration.initFailures,
        calibration.throttled,
        ...OPERATIONS.map((op) => round((calibration.perApi[op].steady * 3600) / K, 0)),
      ],
    ],
  )}\n\n`,
);

const startMs = realStartMs;
const runs: [string, FleetScenario][] = QUICK
  ? [['1,000 @ 5m', scenario(1_000, 300_000, true, startMs)]]
  : [
      ['10,000 @ 5m, SSM higher throughput', scenario(10_000, 300_000, true, startMs)],
      ['10,000 @ 5m, SSM default', scenario(10_000, 300_000, false, startMs)],
      ['100,000 @ 1h, SSM higher throughput', scenario(100_000, 3_600_000, true, startMs)],
      ['50,000 @ 5m (past the batch quota)', scenario(50_000, 300_000, true, startMs)],
    ];
const results: FleetResult[] = [];
const sims: SimSummary[] = [];
for (const [label, s] of runs) {
  const r = await simulateFleet(s);
  results.push(r);
  sims.push(summarize(label, r));
}
process.stdout.write(
  "Simulated fleets (the agent's own loop, strategy and backoff, virtual time)\n\n",
);
printSims(sims);

const first = results[0] as FleetResult;
const perPodPerInterval = Object.fromEntries(
  OPERATIONS.map((op) => [
    op,
    (meanOver(first.series.calls[op], first.steady.from, first.steady.to) *
      first.scenario.refreshMs) /
      1000 /
      first.scenario.pods,
  ]),
) as Record<Operation, number>;
const limits = {
  ssmDefault: largestFleets(perPodPerInterval, false, GOAL.steadyShareOfQuota),
  ssmHigherThroughput: largestFleets(perPodPerInterval, true, GOAL.steadyShareOfQuota),
};
process.stdout.write(
  `\nLargest fleet per account with every API at ≤ 50% of its quota (${SECRETS} secrets, ${PARAMETERS} parameters a pod)\n\n${table(
    ['refresh', 'SSM default', 'limited by', 'SSM higher throughput', 'limited by'],
    limits.ssmDefault.map((d, i) => {
      const h = limits.ssmHigherThroughput[i] ?? d;
      return [
        d.refresh,
        d.pods.toLocaleString('en-US'),
        d.limitedBy,
        h.pods.toLocaleString('en-US'),
        h.limitedBy,
      ];
    }),
  )}\n`,
);

const webhook = await webhookRollout(QUICK ? 100 : STANDS_FOR.rolloutPods);
process.stdout.write(
  `\nWebhook (dist/cli.js webhook), ${webhook.admissions} admissions, 16 in flight: ` +
    `${webhook.perSecond}/s, p99 ${webhook.p99Ms} ms; a rollout of 1,000 pods in 60 s needs ` +
    `${webhook.rolloutNeedsPerSecond}/s\n`,
);
const goalRun = sims[0] as SimSummary;
process.stdout.write(
  `Kubernetes Secret writes (simulated fleet, only on change): peak ${goalRun.secretWritesPeak}/s ` +
    `in the rollout, ${goalRun.secretWritesSteady}/s at steady state\n`,
);

if (!QUICK) {
  const svg = drawFleet(results[0] as FleetResult, results[1] as FleetResult);
  writeFileSync(join(ROOT, 'docs', 'fleet.svg'), svg);
  process.stdout.write('\nwrote docs/fleet.svg\n');
}

printResult('fleet', {
  real: {
    ...real,
    p50FirstWriteMs: percentile(real.firstWriteMs, 50),
    p99FirstWriteMs: percentile(real.firstWriteMs, 99),
  },
  calibration,
  simulations: sims,
  limits,
  webhook,
  goal: GOAL,
});
