/**
 * The agent's work: fetch every secret, render it, write the set, and keep it fresh.
 * One cycle = one fetch of all secrets (a retry after failures: of those that failed). Init
 * mode runs cycles until all succeed (bounded); sidecar mode keeps running them every interval,
 * keeping the last good content of a secret whose read fails. Every wait goes through a Clock.
 */
import { type Clock, systemClock } from '../common/clock.ts';
import type { AgentConfig, SecretSpec } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { secretFieldPath } from '../common/source-ids.ts';
import type { Logger } from '../common/log.ts';
import {
  backoffDelay,
  FULL_JITTER_FLOOR,
  jittered,
  maxRetriesWithin,
  type Backoff,
} from './backoff.ts';
import type { AgentMetrics } from './metrics.ts';
import type { Reloader } from './reload.ts';
import {
  pathCollision,
  relativePathProblem,
  topName,
  type HeldSource,
  type SecretFile,
  type WriteResult,
} from './sink/files.ts';
import { secretData, type SecretEntry, type SecretWriteOutcome } from './sink/k8s-secret.ts';
import {
  refKey,
  type Deadline,
  type DirectoryItem,
  type FetchOutcome,
  type SecretRef,
  type SecretSource,
} from './source/source.ts';
import type { SecretValue } from './types.ts';

/**
 * Seconds on the monotonic clock since `start` (process.hrtime.bigint()). Not the global
 * `performance`: its first use loads node:perf_hooks and ten more of Node's modules.
 */
function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export interface FileWriter {
  write(files: readonly SecretFile[]): Promise<WriteResult>;
}

export interface AgentDeps {
  readonly config: AgentConfig;
  readonly source: SecretSource;
  readonly files: FileWriter;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly render: (spec: SecretSpec, value: SecretValue) => Uint8Array;
  /** With a reload URL (sidecar mode): told after files change, once the app is running. */
  readonly reload?: Reloader;
  /** With a k8sSecret target: the sink, and the renderer of `extract` keys. */
  readonly secret?: {
    readonly writer: SecretWriter;
    readonly extract: (spec: SecretSpec, value: SecretValue) => ReadonlyMap<string, Uint8Array>;
  };
  /** Told every cycle's failures (Kubernetes Events on the pod: events.ts). */
  readonly events?: { report(failures: readonly SecretFailure[]): void };
  readonly random?: () => number;
  readonly now?: () => number;
  /** What every wait and deadline reads (virtual in tests and the fleet simulation). */
  readonly clock?: Clock;
  /**
   * A sidecar's full garbage collection, run once each cycle is done (before it sleeps): what a
   * cycle leaves behind would otherwise pile up in the old generation until V8's own limit,
   * which is reached only after many cycles (agent/command.ts: Node's gc() where exposed).
   */
  readonly collectGarbage?: () => void;
}

export interface SecretFailure {
  /** The secret's file name, or for a failed Secret write, `Secret <namespace>/<name>`. */
  readonly secret: string;
  readonly error: AgentError;
  /** True when writing the Kubernetes Secret failed, not fetching. */
  readonly write?: boolean;
}

/** Where the agent keeps the Kubernetes Secret (the sink, narrowed to what the loop needs). */
export interface SecretWriter {
  readonly target: string;
  write(data: ReadonlyMap<string, Uint8Array>, signal: AbortSignal): Promise<SecretWriteOutcome>;
}

/**
 * One secret, rendered: its file (a directory source: its files, `<name>/<path>`), and its keys
 * in the Kubernetes Secret.
 */
interface Rendered {
  readonly files: readonly SecretFile[];
  readonly entries: readonly SecretEntry[];
}

export interface CycleResult {
  readonly failures: readonly SecretFailure[];
  readonly changed: readonly string[];
}

/**
 * Init: retry throttling, 5xx and network errors until initTimeout; anything else a few times.
 * The agent's loop is the only retry layer (the source makes each call once per cycle).
 */
export const INIT_BACKOFF: Backoff = {
  baseMs: 1_000,
  capMs: 30_000,
  jitterFloor: FULL_JITTER_FLOOR,
};
export const INIT_ATTEMPTS_FOR_PERMANENT_ERRORS = 3;
const REFRESH_JITTER = 0.1;
const REFRESH_RETRY_BASE_MS = 5_000;
/** An init still throttled this long after it started says so (a warning), and keeps trying. */
export const THROTTLED_INIT_REPORT_MS = 10_000;

/**
 * The wait before the first refresh: uniform over the whole interval, whatever the pod's start.
 * Pods started together (a rollout) spread their refreshes evenly over the interval from the
 * first one on, instead of calling AWS together every interval; never later than one interval.
 */
export function firstRefreshDelay(refreshIntervalMs: number, random: () => number): number {
  return Math.max(1, Math.round(random() * refreshIntervalMs));
}

/**
 * The most cycles init runs before initTimeout: no cycle starts, and no call runs, past it;
 * waits are at least a tenth of their nominal 1 s·2^n (capped at 30 s). 44 for the default 2m.
 */
export function initCycleLimit(initTimeoutMs: number): number {
  return 1 + maxRetriesWithin(INIT_BACKOFF, initTimeoutMs);
}

/** The sidecar's backoff after failed refreshes: 5 s doubling, never above the interval. */
export function refreshRetryBackoff(refreshIntervalMs: number): Backoff {
  return {
    baseMs: Math.min(REFRESH_RETRY_BASE_MS, refreshIntervalMs),
    capMs: refreshIntervalMs,
    jitterFloor: FULL_JITTER_FLOOR,
  };
}

/** Bounded outcome labels of secrets_agent_k8s_secret_writes_total for failed writes. */
const SECRET_WRITE_OUTCOMES: Partial<Record<AgentError['code'], string>> = {
  KUBE_FORBIDDEN: 'forbidden',
  SECRET_NOT_MANAGED: 'not_managed',
  SECRET_DATA_INVALID: 'invalid',
  KUBE_REQUEST: 'invalid',
  KUBE_UNAVAILABLE: 'unavailable',
  KUBE_CONFIG: 'error',
};

export function specRef(spec: SecretSpec): SecretRef {
  const source = spec.source ?? 'secretsmanager';
  if (source !== 'secretsmanager')
    return {
      kind: source,
      id: spec.id,
      ...(spec.tag === undefined ? {} : { tag: spec.tag }),
    };
  return {
    id: spec.id,
    ...(spec.versionStage === undefined ? {} : { versionStage: spec.versionStage }),
    ...(spec.versionId === undefined ? {} : { versionId: spec.versionId }),
  };
}

export class Agent {
  readonly #deps: AgentDeps;
  readonly #lastGood = new Map<string, Rendered>();
  /** The secrets whose last read failed, to say when they read again. */
  #failing = new Set<string>();
  /** Sources whose new content did not fit on the volume at the last write. */
  #held: readonly HeldSource[] = [];
  #ready = false;

  constructor(deps: AgentDeps) {
    this.#deps = deps;
  }

  get #clock(): Clock {
    return this.#deps.clock ?? systemClock;
  }

  #now(): number {
    return this.#deps.now?.() ?? this.#clock.now();
  }

  get #random(): () => number {
    return this.#deps.random ?? Math.random;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Why some files lag behind (for `/readyz`): the sources that did not fit, or undefined. */
  get detail(): string | undefined {
    if (this.#held.length === 0) return undefined;
    const names = this.#held.map((h) => `${h.name} (${h.code}, ${h.bytes} bytes)`).join(', ');
    return `no room on the volume for: ${names}; their last content stays`;
  }

  /**
   * One fetch, render and write of every secret. Per-secret failures are returned, not thrown.
   * With a deadline, no AWS call starts or runs past it.
   */
  async cycle(
    signal: AbortSignal,
    deadline?: Deadline,
    only?: ReadonlySet<string>,
  ): Promise<CycleResult> {
    const { config, source, metrics, logger } = this.#deps;
    const started = process.hrtime.bigint();
    // A retry reads only what failed: the rest keeps what it read a moment ago. Under
    // throttling, this is what keeps one throttled API from multiplying the calls to the others.
    const specs =
      only === undefined ? config.secrets : config.secrets.filter((s) => only.has(s.name));
    const outcomes = await source.fetch(specs.map(specRef), signal, deadline);
    const failures: SecretFailure[] = [];
    const fresh = new Map<string, Rendered>();
    const now = this.#now() / 1000;
    for (const spec of specs) {
      // Each render is bounded (agent/budget.ts); between two, SIGTERM gets its turn.
      await this.#clock.turn();
      if (signal.aborted) throw new AgentError('INTERRUPTED', 'stopped while rendering');
      try {
        fresh.set(spec.name, this.#render(spec, outcomes.get(refKey(specRef(spec)))));
        metrics.fetchTotal.inc({ secret: spec.name, outcome: 'success' });
        metrics.lastSuccess.set({ secret: spec.name }, now);
      } catch (err) {
        const error =
          err instanceof AgentError
            ? err
            : new AgentError(
                'RENDER_FAILED',
                `${spec.source ?? 'secret'} ${spec.id}: cannot render`,
              );
        failures.push({ secret: spec.name, error });
        metrics.fetchTotal.inc({ secret: spec.name, outcome: error.code });
      }
    }
    this.#logFetchOutcomes(failures);
    metrics.fetchDuration.observe(secondsSince(started));
    // Secrets that failed this time keep their last good content, in the files and the Secret.
    const current = config.secrets.flatMap((spec) => {
      const r = fresh.get(spec.name) ?? this.#lastGood.get(spec.name);
      return r === undefined ? [] : [r];
    });
    const { changed, held } = await this.#writeFiles(current.flatMap((r) => r.files));
    failures.push(...held);
    for (const spec of config.secrets) {
      const r = fresh.get(spec.name);
      if (r !== undefined) this.#lastGood.set(spec.name, r);
    }
    failures.push(...(await this.#writeSecret(current, signal)));
    // Before the first complete write the app has not started (the startup probe holds it).
    if (this.#ready && changed.length > 0) await this.#deps.reload?.(changed, signal);
    if (failures.length === 0 && !this.#ready) {
      this.#ready = true;
      metrics.ready.set(1);
      logger.info('all secrets written', { secrets: config.secrets.length, dir: config.outputDir });
    }
    return { failures, changed };
  }

  /**
   * One warning per kind of failure, naming every secret it hit (a failed batch call fails up
   * to twenty secrets the same way), and one line when secrets that failed read again.
   */
  #logFetchOutcomes(failures: readonly SecretFailure[]): void {
    const { config, logger } = this.#deps;
    const ids = new Map(config.secrets.map((s) => [s.name, s.id]));
    const groups = new Map<string, { error: AgentError; secrets: string[] }>();
    for (const f of failures) {
      const id = ids.get(f.secret) ?? '';
      const key = `${f.error.code} ${id === '' ? f.error.message : f.error.message.replaceAll(id, '')}`;
      const group = groups.get(key) ?? { error: f.error, secrets: [] };
      group.secrets.push(f.secret);
      groups.set(key, group);
    }
    for (const { error, secrets } of groups.values()) {
      const [first] = secrets;
      logger.warn('secret fetch failed', {
        ...(secrets.length === 1 ? { secret: first, id: ids.get(first ?? '') } : { secrets }),
        code: error.code,
        error: error.message,
      });
    }
    const failing = new Set(failures.map((f) => f.secret));
    const recovered = [...this.#failing].filter((name) => !failing.has(name));
    if (recovered.length > 0) logger.info('secrets read again', { secrets: recovered });
    this.#failing = failing;
  }

  #render(spec: SecretSpec, outcome: FetchOutcome | undefined): Rendered {
    if (outcome === undefined) throw new AgentError('AWS_REQUEST', `secret ${spec.id}: no answer`);
    if (!outcome.ok) throw outcome.error;
    const path = secretFieldPath(spec.name);
    const items =
      'items' in outcome
        ? directoryItems(spec, outcome.items)
        : [{ path: spec.name, key: spec.name, value: outcome.value, upstream: spec.id }];
    const files: SecretFile[] = [];
    const entries: SecretEntry[] = [];
    const mode = spec.mode ?? this.#deps.config.fileMode;
    for (const item of items) {
      const content = this.#renderItem(
        spec,
        item.value,
        'items' in outcome ? item.path : undefined,
      );
      files.push({ name: item.path, content, mode });
      // A directory item is named by its upstream name: two items of one source can collide.
      const from = 'items' in outcome ? `${path} (${item.upstream})` : path;
      entries.push({ key: item.key, value: content, from });
      if (spec.extract && this.#deps.secret !== undefined) {
        for (const [key, value] of this.#deps.secret.extract(spec, item.value)) {
          entries.push({ key, value, from: secretFieldPath(spec.name, 'extract') });
        }
      }
    }
    return { files, entries };
  }

  /** One value rendered; a directory item's error names the item's file. */
  #renderItem(spec: SecretSpec, value: SecretValue, path: string | undefined): Uint8Array {
    try {
      return this.#deps.render(spec, value);
    } catch (err) {
      if (path === undefined || !(err instanceof AgentError)) throw err;
      throw new AgentError(err.code, `${err.message} (file ${path})`, {
        retryable: err.retryable,
      });
    }
  }

  /**
   * Writes the files; returns the names whose content changed, and a failure per source whose
   * new content did not fit (the others landed).
   */
  async #writeFiles(
    set: readonly SecretFile[],
  ): Promise<{ changed: readonly string[]; held: SecretFailure[] }> {
    const { metrics, logger } = this.#deps;
    if (set.length === 0) return { changed: [], held: [] };
    const result = await this.#deps.files.write(set);
    // A directory source's files count under its name: labels never carry discovered ids.
    for (const name of new Set(result.changed.map(topName))) {
      metrics.updatesTotal.inc({ secret: name });
      logger.info('secret file updated', { secret: name });
    }
    return { changed: result.changed, held: this.#noteHeld(result.held ?? []) };
  }

  /** The metric, the log line and the failure of each source that did not fit; 0 once it does. */
  #noteHeld(held: readonly HeldSource[]): SecretFailure[] {
    const { metrics, logger, config } = this.#deps;
    const now = new Set(held.map((h) => h.name));
    for (const h of this.#held)
      if (!now.has(h.name)) metrics.fileNoSpace.set({ secret: h.name }, 0);
    this.#held = held;
    return held.map((h) => {
      metrics.fileNoSpace.set({ secret: h.name }, 1);
      const message = `secret file ${h.name} (${h.bytes} bytes) does not fit on the volume ${config.outputDir}: ${h.code}; its last content stays`;
      logger.warn('secret file does not fit', {
        secret: h.name,
        code: h.code,
        bytes: h.bytes,
        dir: config.outputDir,
      });
      return {
        secret: h.name,
        error: new AgentError('WRITE_FAILED', message, { retryable: true }),
      };
    });
  }

  /** Keeps the Kubernetes Secret in step; a failure is returned, never thrown. */
  async #writeSecret(
    current: readonly Rendered[],
    signal: AbortSignal,
  ): Promise<readonly SecretFailure[]> {
    const { metrics, logger } = this.#deps;
    const writer = this.#deps.secret?.writer;
    if (writer === undefined || current.length === 0) return [];
    try {
      const { data, problems } = secretData(
        current.flatMap((r) => r.entries),
        writer.target,
      );
      // The keys left out fail alone: every other key is written.
      const failures = problems.map((error) => this.#keyFailure(writer.target, error));
      const outcome = await writer.write(data, signal);
      metrics.k8sSecretWrites.inc({ outcome });
      if (outcome !== 'unchanged')
        logger.info('Kubernetes Secret written', {
          secret: writer.target,
          outcome,
          keys: [...data.keys()],
        });
      return failures;
    } catch (err) {
      if (signal.aborted) throw err;
      const error =
        err instanceof AgentError
          ? err
          : new AgentError('KUBE_UNAVAILABLE', `Secret ${writer.target}: write failed`, {
              retryable: true,
            });
      metrics.k8sSecretWrites.inc({ outcome: SECRET_WRITE_OUTCOMES[error.code] ?? 'error' });
      logger.warn('Kubernetes Secret write failed', {
        secret: writer.target,
        code: error.code,
        error: error.message,
      });
      return [{ secret: `Secret ${writer.target}`, error, write: true }];
    }
  }

  /** A key left out of the Secret: counted, logged by name, a failure of its own. */
  #keyFailure(target: string, error: AgentError): SecretFailure {
    this.#deps.metrics.k8sSecretWrites.inc({
      outcome: SECRET_WRITE_OUTCOMES[error.code] ?? 'error',
    });
    this.#deps.logger.warn('Kubernetes Secret key left out', {
      secret: target,
      code: error.code,
      error: error.message,
    });
    return { secret: `Secret ${target}`, error, write: true };
  }

  /**
   * Init mode: resolves with no failures, or the failures of the last attempt. At most
   * initCycleLimit(initTimeout) cycles, and none (nor any AWS call) past initTimeout; with an
   * error that waiting rarely cures, at most INIT_ATTEMPTS_FOR_PERMANENT_ERRORS.
   */
  async runInit(signal: AbortSignal): Promise<readonly SecretFailure[]> {
    const started = this.#now();
    const deadline: Deadline = {
      at: started + this.#deps.config.initTimeoutMs,
      name: 'initTimeout',
    };
    let reported = false;
    let only: ReadonlySet<string> | undefined;
    for (let attempt = 0; ; attempt++) {
      const { failures } = await this.#cycleOrFailure(signal, deadline, only);
      if (signal.aborted) return [interrupted(this.#deps.config)];
      if (failures.length === 0) return failures;
      const permanent = failures.some((f) => !f.error.retryable);
      const wait = backoffDelay(INIT_BACKOFF, attempt, this.#random);
      const outOfTime = this.#now() + wait > deadline.at;
      if (outOfTime || (permanent && attempt + 1 >= INIT_ATTEMPTS_FOR_PERMANENT_ERRORS))
        return failures;
      const throttled = failures.filter((f) => f.error.code === 'THROTTLED');
      if (!reported && throttled.length > 0 && this.#now() - started >= THROTTLED_INIT_REPORT_MS) {
        reported = true;
        this.#deps.logger.warn('AWS is throttling the first fetch; still trying', {
          secrets: throttled.map((f) => f.secret),
          forMs: this.#now() - started,
          untilMs: deadline.at - this.#now(),
        });
      }
      this.#deps.logger.info('retrying', {
        attempt: attempt + 1,
        inMs: wait,
        failed: failures.map((f) => f.secret),
      });
      if (!(await this.#clock.sleep(wait, signal))) return [interrupted(this.#deps.config)];
      only = failedReads(failures);
    }
  }

  /**
   * Sidecar mode. Its first write is an init step, with init's rules (runInit): the app waits
   * for it, so it either completes within initTimeout or the sidecar resolves with the
   * failures, to exit with the one line as init does. Then it refreshes until the signal aborts
   * (and resolves with no failures), each refresh within one interval.
   */
  async runSidecar(signal: AbortSignal): Promise<readonly SecretFailure[]> {
    const { config, logger } = this.#deps;
    const first = await this.runInit(signal);
    if (signal.aborted) return [];
    if (first.length > 0) return first;
    this.#deps.collectGarbage?.();
    let errorsInARow = 0;
    let only: ReadonlySet<string> | undefined;
    await this.#clock.sleep(firstRefreshDelay(config.refreshIntervalMs, this.#random), signal);
    while (!signal.aborted) {
      // A refresh lasts at most one interval: no call starts or runs past it.
      const deadline: Deadline = {
        at: this.#now() + config.refreshIntervalMs,
        name: 'refreshInterval',
      };
      const { failures } = await this.#cycleOrFailure(signal, deadline, only);
      if (signal.aborted) return [];
      this.#deps.collectGarbage?.();
      errorsInARow = failures.length === 0 ? 0 : errorsInARow + 1;
      only = errorsInARow === 0 ? undefined : failedReads(failures);
      const wait =
        errorsInARow === 0
          ? jittered(config.refreshIntervalMs, REFRESH_JITTER, this.#random)
          : backoffDelay(
              refreshRetryBackoff(config.refreshIntervalMs),
              errorsInARow - 1,
              this.#random,
            );
      if (errorsInARow > 0)
        logger.info('retrying after errors', { inMs: wait, failed: failures.map((f) => f.secret) });
      await this.#clock.sleep(wait, signal);
    }
    return [];
  }

  /** A cycle whose whole failure (a write error, an unexpected throw) counts against every secret. */
  async #cycleOrFailure(
    signal: AbortSignal,
    deadline?: Deadline,
    only?: ReadonlySet<string>,
  ): Promise<CycleResult> {
    const result = await this.#cycleOrError(signal, deadline, only);
    this.#deps.events?.report(result.failures);
    return result;
  }

  async #cycleOrError(
    signal: AbortSignal,
    deadline?: Deadline,
    only?: ReadonlySet<string>,
  ): Promise<CycleResult> {
    try {
      return await this.cycle(signal, deadline, only);
    } catch (err) {
      if (signal.aborted) return { failures: [], changed: [] };
      const error =
        err instanceof AgentError
          ? err
          : new AgentError(
              'WRITE_FAILED',
              `refresh failed: ${err instanceof Error ? err.name : 'error'}`,
              { retryable: true },
            );
      this.#deps.logger.error('refresh failed', { code: error.code, error: error.message });
      return {
        failures: this.#deps.config.secrets.map((s) => ({ secret: s.name, error })),
        changed: [],
      };
    }
  }
}

/**
 * A directory source's items as files `<name>/<path>` and Secret keys `<name>.<path with "."
 * for "/">`; a path that would leave the directory, or two that collide, fail the source.
 */
function directoryItems(
  spec: SecretSpec,
  items: readonly DirectoryItem[],
): { path: string; key: string; value: SecretValue; upstream: string }[] {
  const what = `${spec.source ?? 'secret'} ${spec.id}`;
  const prefix = spec.id.endsWith('/') || spec.source === 'find' ? spec.id : `${spec.id}/`;
  const out = items.map((item) => {
    const problem = relativePathProblem(item.path);
    if (problem !== undefined)
      throw new AgentError(
        'RENDER_FAILED',
        `${what}: ${JSON.stringify(item.path)} cannot be a file name: it ${problem}`,
      );
    return {
      path: `${spec.name}/${item.path}`,
      key: `${spec.name}.${item.path.replaceAll('/', '.')}`,
      value: item.value,
      upstream: item.value.name ?? `${prefix}${item.path}`,
    };
  });
  const collision = pathCollision(out.map((i) => i.path));
  if (collision !== undefined)
    throw new AgentError(
      'RENDER_FAILED',
      collision[0] === collision[1]
        ? `${what}: two items are both named ${collision[0]}`
        : `${what}: ${collision[0]} would be both a file and the directory of ${collision[1]}`,
    );
  return out;
}

/**
 * What a retry after these failures reads: the secrets that failed, or everything (undefined)
 * when writing failed, since then no secret's content is known to be in place.
 */
function failedReads(failures: readonly SecretFailure[]): ReadonlySet<string> | undefined {
  if (failures.some((f) => f.write === true || f.error.code === 'WRITE_FAILED')) return undefined;
  return new Set(failures.map((f) => f.secret));
}

function interrupted(config: AgentConfig): SecretFailure {
  const names = config.secrets.map((s) => s.name).join(', ');
  return {
    secret: names,
    error: new AgentError('INTERRUPTED', 'stopped before every secret was written'),
  };
}

/** The one line for /dev/termination-log: which secret, which error, never a value. */
export function terminationMessage(failures: readonly SecretFailure[]): string {
  const [first, ...rest] = failures;
  if (first === undefined) return '';
  const more =
    rest.length === 0 ? '' : ` (and ${rest.length} more: ${rest.map((f) => f.secret).join(', ')})`;
  const verb =
    first.write === true
      ? 'failed to write Kubernetes'
      : first.error.code === 'WRITE_FAILED'
        ? 'failed to write'
        : 'failed to fetch';
  return `${verb} ${first.secret}: ${first.error.message}${more}`.replace(/\s*\n\s*/g, ' ');
}
