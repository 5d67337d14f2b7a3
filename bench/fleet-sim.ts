/**
 * A fleet in virtual time: thousands of the agent's own `Agent` loops (its scheduling, first
 * refresh spread, backoff and init bound), each reading through the agent's own Secrets Manager
 * strategy (agent/source/strategy.ts: batching, the switch to GetSecretValue when the batch call
 * is throttled, the cool-down) and the agent's error translation, against the dev endpoint's own
 * quota model (dev/quota.ts) on a VirtualClock. Only the wire is simulated: each call takes
 * `callMs` and is admitted or throttled by the account's token buckets. bench/fleet.ts runs real
 * agent processes against the real endpoint to calibrate it.
 */
import { Agent, type SecretWriter } from '../agent/agent.ts';
import { createAgentMetrics } from '../agent/metrics.ts';
import { prepareRenderer } from '../agent/render.ts';
import type { SecretFile, WriteResult } from '../agent/sink/files.ts';
import type { SecretWriteOutcome } from '../agent/sink/k8s-secret.ts';
import { translateAwsError } from '../agent/source/errors.ts';
import {
  describeRef,
  refKey,
  type FetchOutcome,
  type SecretRef,
  type SecretSource,
} from '../agent/source/source.ts';
import {
  newBatchState,
  readSecrets,
  type ChunkOutcome,
  type SecretCalls,
} from '../agent/source/strategy.ts';
import { seededRandom, VirtualClock } from '../common/clock.ts';
import { parseAgentConfig, type AgentConfig } from '../common/config.ts';
import { silentLogger } from '../common/log.ts';
import { QuotaModel, quotaTable, type QuotaOptions } from '../dev/quota.ts';

/** GetParameters reads up to 10 names a call (agent/source/ssm.ts). */
const PARAMETERS_PER_CALL = 10;
/** Credentials from STS last an hour; the SDK renews them 5 minutes before they expire. */
const CREDENTIALS_RENEW_MS = 55 * 60_000;
const CONTENT = new TextEncoder().encode('value');

export const OPERATIONS = [
  'AssumeRoleWithWebIdentity',
  'BatchGetSecretValue',
  'GetSecretValue',
  'GetParameters',
] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface FleetScenario {
  /** Pods in the fleet. */
  readonly pods: number;
  readonly secrets: number;
  readonly parameters: number;
  readonly refreshMs: number;
  /** Pods replaced by the rollout, started evenly over `rolloutMs`. */
  readonly rolloutPods: number;
  readonly rolloutMs: number;
  readonly quotas: QuotaOptions;
  /** One call's round trip. */
  readonly callMs: number;
  /**
   * From a pod's start to its agent's first call (the process starting): fixed, or drawn from
   * samples (the real-process run's).
   */
  readonly startMs: number | readonly number[];
  /** With a Kubernetes Secret target: count its writes. */
  readonly k8sSecret?: boolean;
  /**
   * No fleet before the rollout: the rollout starts every pod, from the start, with quotas
   * enforced from the start (the real-process run's shape, to compare with it).
   */
  readonly cold?: boolean;
  /** Intervals the steady window lasts (1 by default). */
  readonly steadyIntervals?: number;
  readonly seed?: number;
}

export interface Series {
  /** Calls a second per operation, by second since the start. */
  readonly calls: Record<Operation, Float64Array>;
  readonly throttled: Record<Operation, Float64Array>;
}

export interface FleetResult {
  readonly scenario: FleetScenario;
  /** When the rollout started, and the steady window, in seconds since the start. */
  readonly rolloutAt: number;
  readonly steady: { readonly from: number; readonly to: number };
  readonly series: Series;
  /** Time to first write of every pod the rollout started, in ms. */
  readonly firstWriteMs: readonly number[];
  /** The same, with each pod's start in ms since the rollout began, in start order. */
  readonly firstWrites: readonly { readonly startMs: number; readonly ms: number }[];
  readonly initFailures: number;
  /**
   * Reads that failed once the pod was ready: each kept its last good file, and the pod stayed
   * ready and running (a sidecar never exits after its first write).
   */
  readonly keptLastGood: number;
  /** Sidecars that ended after their first write (a restart): none, by design. */
  readonly endedAfterReady: number;
  readonly secretWrites: Float64Array;
  /** Quota per operation at this scale, calls a second. */
  readonly quota: Record<Operation, number>;
  readonly wallMs: number;
}

/** A per-second counter over the whole run. */
function counters(seconds: number): Record<Operation, Float64Array> {
  return Object.fromEntries(OPERATIONS.map((op) => [op, new Float64Array(seconds)])) as Record<
    Operation,
    Float64Array
  >;
}

class Account {
  readonly series: Series;
  /** Before this (ms), every call is admitted: the fleet was running before the scenario. */
  enforceFrom = 0;
  readonly #quotas: QuotaModel;
  readonly #clock: VirtualClock;
  readonly #callMs: number;

  constructor(quotas: QuotaModel, clock: VirtualClock, callMs: number, seconds: number) {
    this.#quotas = quotas;
    this.#clock = clock;
    this.#callMs = callMs;
    this.series = { calls: counters(seconds), throttled: counters(seconds) };
  }

  /** One call: admitted or throttled on arrival, answered `callMs` later. */
  async call(operation: Operation, signal: AbortSignal): Promise<boolean> {
    const now = this.#clock.now();
    const second = Math.floor(now / 1000);
    const admitted = this.#quotas.admit(operation, now) || now < this.enforceFrom;
    const calls = this.series.calls[operation];
    if (second < calls.length) calls[second] = (calls[second] ?? 0) + 1;
    if (!admitted) {
      const throttled = this.series.throttled[operation];
      if (second < throttled.length) throttled[second] = (throttled[second] ?? 0) + 1;
    }
    await this.#clock.sleep(this.#callMs, signal);
    return admitted;
  }
}

/** AWS's throttling error, as the agent translates it. */
function throttled(ref: SecretRef): FetchOutcome {
  return {
    ref,
    ok: false,
    error: translateAwsError(
      { name: 'ThrottlingException', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } },
      describeRef(ref),
    ),
  };
}

function value(ref: SecretRef): FetchOutcome {
  return { ref, ok: true, value: { arn: `arn:${ref.id}`, versionId: 'v1', string: 'value' } };
}

/** One pod's view of the account: the agent's strategy over simulated calls. */
function podSource(
  account: Account,
  clock: VirtualClock,
  random: () => number,
  onFailedRead: () => void,
): SecretSource {
  const batch = newBatchState();
  let credentialsUntil = -Infinity;
  const calls = (signal: AbortSignal): SecretCalls => ({
    async batch(chunk, results) {
      if (!(await account.call('BatchGetSecretValue', signal))) return 'throttled';
      for (const ref of chunk) results.set(refKey(ref), value(ref));
      return 'answered';
    },
    async get(ref) {
      return (await account.call('GetSecretValue', signal)) ? value(ref) : throttled(ref);
    },
  });
  return {
    async fetch(refs, signal) {
      const results = new Map<string, ChunkOutcome>();
      if (clock.now() >= credentialsUntil) {
        if (!(await account.call('AssumeRoleWithWebIdentity', signal))) {
          for (const ref of refs) results.set(refKey(ref), throttled(ref));
          for (let i = 0; i < refs.length; i++) onFailedRead();
          return results;
        }
        credentialsUntil = clock.now() + CREDENTIALS_RENEW_MS;
      }
      const parameters = refs.filter((r) => r.kind === 'parameter');
      for (let i = 0; i < parameters.length; i += PARAMETERS_PER_CALL) {
        const chunk = parameters.slice(i, i + PARAMETERS_PER_CALL);
        const ok = await account.call('GetParameters', signal);
        for (const ref of chunk) results.set(refKey(ref), ok ? value(ref) : throttled(ref));
      }
      await readSecrets(
        refs.filter((r) => r.kind === undefined),
        calls(signal),
        batch,
        { now: () => clock.now(), random, logger: silentLogger, region: 'us-east-1' },
        results,
      );
      for (const outcome of results.values()) if (!outcome.ok) onFailedRead();
      return results;
    },
    close() {},
  };
}

export async function fleetConfig(scenario: FleetScenario): Promise<AgentConfig> {
  const config = await parseAgentConfig({
    mode: 'sidecar',
    outputDir: '/fleet/secrets',
    httpPort: 0,
    refreshInterval: `${scenario.refreshMs / 1000}s`,
    secrets: [
      ...Array.from({ length: scenario.secrets }, (_, i) => ({ name: `s${i}`, id: `app/s${i}` })),
      ...Array.from({ length: scenario.parameters }, (_, i) => ({
        name: `p${i}`,
        id: `/app/p${i}`,
        source: 'parameter',
      })),
    ],
  });
  await prepareRenderer(config.secrets);
  return config;
}

interface Pod {
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

/**
 * Runs the scenario. The fleet was running before it: its pods start spread over the first
 * interval and AWS's quotas apply from the second interval's end, when every pod is refreshing
 * at its own phase. The rollout replaces `rolloutPods` of them half an interval later, and the
 * steady window is the last `steadyIntervals` intervals, from two intervals after the rollout.
 */
export async function simulateFleet(scenario: FleetScenario): Promise<FleetResult> {
  const wallStarted = performance.now();
  const I = scenario.refreshMs;
  const cold = scenario.cold === true;
  const warm = cold ? 0 : 2 * I;
  const rolloutAt = cold ? 0 : Math.round(warm + I / 2);
  const steadyFrom = rolloutAt + scenario.rolloutMs + 2 * I;
  const end = steadyFrom + (scenario.steadyIntervals ?? 1) * I;
  const seconds = Math.ceil(end / 1000) + 1;
  const clock = new VirtualClock(0);
  const quotas = new QuotaModel(scenario.quotas);
  const account = new Account(quotas, clock, scenario.callMs, seconds);
  account.enforceFrom = warm;
  const config = await fleetConfig(scenario);
  const metrics = createAgentMetrics();
  const random = seededRandom(scenario.seed ?? 1);
  const firstWrites: { startMs: number; ms: number }[] = [];
  const secretWrites = new Float64Array(seconds);
  let initFailures = 0;
  let keptLastGood = 0;
  let endedAfterReady = 0;

  const startPod = (at: number, measured: boolean): Pod => {
    const stop = new AbortController();
    const podRandom = seededRandom(Math.floor(random() * 2 ** 32));
    let written = false;
    const files = {
      write(set: readonly SecretFile[]): Promise<WriteResult> {
        // The first write of every file: what the app (held by the startup probe) waits for.
        const complete = set.length === config.secrets.length;
        if (!written && complete && measured)
          firstWrites.push({ startMs: at - rolloutAt, ms: clock.now() - at });
        const changed = written ? [] : set.map((f) => f.name);
        written ||= complete;
        return Promise.resolve({ status: changed.length > 0 ? 'written' : 'unchanged', changed });
      },
    };
    let last: string | undefined;
    const secret: SecretWriter = {
      target: 'app',
      write(data): Promise<SecretWriteOutcome> {
        const text = [...data].map(([k, v]) => `${k}=${Buffer.from(v).toString('hex')}`).join();
        if (text === last) return Promise.resolve('unchanged');
        const second = Math.floor(clock.now() / 1000);
        if (second < secretWrites.length) secretWrites[second] = (secretWrites[second] ?? 0) + 1;
        const outcome = last === undefined ? 'created' : 'updated';
        last = text;
        return Promise.resolve(outcome);
      },
    };
    const failedRead = (): void => {
      if (agent.ready) keptLastGood += 1;
    };
    const agent: Agent = new Agent({
      config,
      source: podSource(account, clock, podRandom, failedRead),
      files,
      metrics,
      logger: silentLogger,
      // Rendering is not what a fleet shares: one fixed content keeps 100,000 pods in memory.
      render: () => CONTENT,
      clock,
      random: podRandom,
      ...(scenario.k8sSecret === true
        ? { secret: { writer: secret, extract: () => new Map() } }
        : {}),
    });
    const starting =
      typeof scenario.startMs === 'number'
        ? scenario.startMs
        : (scenario.startMs[Math.floor(podRandom() * scenario.startMs.length)] ?? 0);
    const done = (async () => {
      if (!(await clock.sleep(at - clock.now() + starting, stop.signal))) return;
      const failures = await agent.runSidecar(stop.signal);
      if (failures.length > 0 && !stop.signal.aborted) initFailures += 1;
      if (agent.ready && !stop.signal.aborted) endedAfterReady += 1;
    })();
    return { stop, done };
  };

  const pods: Pod[] = [];
  if (!cold) for (let i = 0; i < scenario.pods; i++) pods.push(startPod(random() * I, false));
  await clock.run(rolloutAt);
  const rollout = cold ? scenario.rolloutPods : Math.min(scenario.rolloutPods, scenario.pods);
  for (let i = 0; i < rollout; i++) {
    const at = rolloutAt + (scenario.rolloutMs * i) / rollout;
    const old = pods[i];
    // A rolling update: the new pod starts, the old one stops as it does.
    pods[i] = startPod(at, true);
    if (old !== undefined)
      void clock.sleep(at - clock.now(), old.stop.signal).then(() => old.stop.abort());
  }
  await clock.run(end);
  for (const pod of pods) pod.stop.abort();
  await clock.run(end);
  await Promise.all(pods.map((p) => p.done));
  const quota = Object.fromEntries(
    OPERATIONS.map((op) => [op, quotas.rate(op) ?? Number.POSITIVE_INFINITY]),
  ) as Record<Operation, number>;
  return {
    scenario,
    rolloutAt: rolloutAt / 1000,
    steady: { from: steadyFrom / 1000, to: end / 1000 },
    series: account.series,
    firstWriteMs: firstWrites.map((w) => w.ms),
    firstWrites: firstWrites.sort((a, b) => a.startMs - b.startMs),
    initFailures,
    keptLastGood,
    endedAfterReady,
    secretWrites,
    quota,
    wallMs: performance.now() - wallStarted,
  };
}

/** Mean of a per-second series over [from, to) seconds. */
export function meanOver(series: Float64Array, from: number, to: number): number {
  let sum = 0;
  const a = Math.max(0, Math.floor(from));
  const b = Math.min(series.length, Math.ceil(to));
  for (let i = a; i < b; i++) sum += series[i] ?? 0;
  return b > a ? sum / (b - a) : 0;
}

/** The highest one-second count in [from, to). */
export function peakOver(series: Float64Array, from = 0, to = series.length): number {
  let peak = 0;
  for (let i = Math.max(0, Math.floor(from)); i < Math.min(series.length, Math.ceil(to)); i++)
    peak = Math.max(peak, series[i] ?? 0);
  return peak;
}

export function total(series: Float64Array): number {
  let sum = 0;
  for (const x of series) sum += x;
  return sum;
}

/** Refresh intervals the fleet limits are stated for, in seconds. */
export const LIMIT_INTERVALS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600 } as const;

/**
 * The largest fleet whose steady calls stay within `share` of every quota, per refresh
 * interval: each pod's steady calls per interval by API (one batch call for up to 20 secrets,
 * one GetParameters for up to 10 parameters; measured in the simulation) against the quota.
 */
export function largestFleets(
  perPodPerInterval: Readonly<Record<Operation, number>>,
  ssmHigherThroughput: boolean,
  share: number,
): { refresh: keyof typeof LIMIT_INTERVALS; pods: number; limitedBy: string }[] {
  const table = quotaTable({ ssmHigherThroughput });
  return (Object.keys(LIMIT_INTERVALS) as (keyof typeof LIMIT_INTERVALS)[]).map((refresh) => {
    const seconds = LIMIT_INTERVALS[refresh];
    let limit = Number.POSITIVE_INFINITY;
    let by = '';
    for (const op of OPERATIONS) {
      const calls = perPodPerInterval[op];
      // STS: one exchange an hour per pod, not per refresh; far from its quota.
      if (!(calls > 0.05)) continue;
      const n = (share * (table[op]?.perSecond ?? Infinity) * seconds) / calls;
      if (n < limit) [limit, by] = [n, op];
    }
    return { refresh, pods: twoDigits(limit), limitedBy: by };
  });
}

/** Rounded down to two significant digits: 180,240 is 180,000. */
export function twoDigits(n: number): number {
  if (!Number.isFinite(n) || n < 100) return Math.floor(n);
  const unit = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.floor(n / unit) * unit;
}
