/**
 * The agent's work: fetch every secret, render it, write the set, and keep it fresh.
 * One cycle = one fetch of all secrets. Init mode runs cycles until all succeed (bounded);
 * sidecar mode keeps running them every interval, keeping the last good content of a secret
 * whose read fails.
 */
import { performance } from 'node:perf_hooks';
import type { AgentConfig, SecretSpec } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { backoffDelay, jittered, sleep } from './backoff.ts';
import type { AgentMetrics } from './metrics.ts';
import type { SecretFile, WriteResult } from './sink/files.ts';
import { refKey, type SecretRef, type SecretSource } from './source/source.ts';
import type { SecretValue } from './types.ts';

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
  readonly random?: () => number;
  readonly now?: () => number;
}

export interface SecretFailure {
  readonly secret: string;
  readonly error: AgentError;
}

export interface CycleResult {
  readonly failures: readonly SecretFailure[];
  readonly changed: readonly string[];
}

/** Init: retry throttling, 5xx and network errors until initTimeout; anything else a few times. */
const INIT_BACKOFF = { baseMs: 1_000, capMs: 30_000 } as const;
const INIT_ATTEMPTS_FOR_PERMANENT_ERRORS = 3;
const REFRESH_JITTER = 0.1;
const REFRESH_RETRY_BASE_MS = 5_000;

export function specRef(spec: SecretSpec): SecretRef {
  return {
    id: spec.id,
    ...(spec.versionStage === undefined ? {} : { versionStage: spec.versionStage }),
    ...(spec.versionId === undefined ? {} : { versionId: spec.versionId }),
  };
}

export class Agent {
  readonly #deps: AgentDeps;
  readonly #lastGood = new Map<string, SecretFile>();
  #ready = false;

  constructor(deps: AgentDeps) {
    this.#deps = deps;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** One fetch → render → write of every secret. Per-secret failures are returned, not thrown. */
  async cycle(signal: AbortSignal): Promise<CycleResult> {
    const { config, source, metrics, logger } = this.#deps;
    const started = performance.now();
    const outcomes = await source.fetch(config.secrets.map(specRef), signal);
    const failures: SecretFailure[] = [];
    const fresh = new Map<string, SecretFile>();
    const now = (this.#deps.now ?? Date.now)() / 1000;
    for (const spec of config.secrets) {
      const outcome = outcomes.get(refKey(specRef(spec)));
      try {
        if (outcome === undefined)
          throw new AgentError('AWS_REQUEST', `secret ${spec.id}: no answer`);
        if (!outcome.ok) throw outcome.error;
        const content = this.#deps.render(spec, outcome.value);
        fresh.set(spec.name, { name: spec.name, content, mode: spec.mode ?? config.fileMode });
        metrics.fetchTotal.inc({ secret: spec.name, outcome: 'success' });
        metrics.lastSuccess.set({ secret: spec.name }, now);
      } catch (err) {
        const error =
          err instanceof AgentError
            ? err
            : new AgentError('RENDER_FAILED', `secret ${spec.id}: cannot render`);
        failures.push({ secret: spec.name, error });
        metrics.fetchTotal.inc({ secret: spec.name, outcome: error.code });
        logger.warn('secret fetch failed', {
          secret: spec.name,
          id: spec.id,
          code: error.code,
          error: error.message,
        });
      }
    }
    metrics.fetchDuration.observe((performance.now() - started) / 1000);
    const changed = await this.#writeFiles(fresh);
    if (failures.length === 0 && !this.#ready) {
      this.#ready = true;
      metrics.ready.set(1);
      logger.info('all secrets written', { secrets: config.secrets.length, dir: config.outputDir });
    }
    return { failures, changed };
  }

  /** Writes fresh content, keeping the last good content of secrets that failed this time. */
  async #writeFiles(fresh: ReadonlyMap<string, SecretFile>): Promise<readonly string[]> {
    const { config, metrics, logger } = this.#deps;
    const set: SecretFile[] = [];
    for (const spec of config.secrets) {
      const file = fresh.get(spec.name) ?? this.#lastGood.get(spec.name);
      if (file !== undefined) set.push(file);
    }
    if (set.length === 0) return [];
    const result = await this.#deps.files.write(set);
    for (const file of set) this.#lastGood.set(file.name, file);
    for (const name of result.changed) {
      metrics.updatesTotal.inc({ secret: name });
      logger.info('secret file updated', { secret: name });
    }
    return result.changed;
  }

  /** Init mode: resolves with no failures, or the failures of the last attempt. */
  async runInit(signal: AbortSignal): Promise<readonly SecretFailure[]> {
    const now = this.#deps.now ?? Date.now;
    const deadline = now() + this.#deps.config.initTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const { failures } = await this.#cycleOrFailure(signal);
      if (signal.aborted) return [interrupted(this.#deps.config)];
      if (failures.length === 0) return failures;
      const permanent = failures.some((f) => !f.error.retryable);
      const wait = backoffDelay(INIT_BACKOFF, attempt, this.#deps.random);
      const outOfTime = now() + wait > deadline;
      if (outOfTime || (permanent && attempt + 1 >= INIT_ATTEMPTS_FOR_PERMANENT_ERRORS))
        return failures;
      this.#deps.logger.info('retrying', {
        attempt: attempt + 1,
        inMs: wait,
        failed: failures.map((f) => f.secret),
      });
      if (!(await sleep(wait, signal))) return [interrupted(this.#deps.config)];
    }
  }

  /** Sidecar mode: refreshes until the signal aborts. */
  async runSidecar(signal: AbortSignal): Promise<void> {
    const { config, logger } = this.#deps;
    let errorsInARow = 0;
    while (!signal.aborted) {
      const { failures } = await this.#cycleOrFailure(signal);
      if (signal.aborted) return;
      errorsInARow = failures.length === 0 ? 0 : errorsInARow + 1;
      const wait =
        errorsInARow === 0
          ? jittered(config.refreshIntervalMs, REFRESH_JITTER, this.#deps.random)
          : backoffDelay(
              {
                baseMs: Math.min(REFRESH_RETRY_BASE_MS, config.refreshIntervalMs),
                capMs: config.refreshIntervalMs,
              },
              errorsInARow - 1,
              this.#deps.random,
            );
      if (errorsInARow > 0)
        logger.info('retrying after errors', { inMs: wait, failed: failures.map((f) => f.secret) });
      await sleep(wait, signal);
    }
  }

  /** A cycle whose whole failure (a write error, an unexpected throw) counts against every secret. */
  async #cycleOrFailure(signal: AbortSignal): Promise<CycleResult> {
    try {
      return await this.cycle(signal);
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
  return `failed to fetch ${first.secret}: ${first.error.message}${more}`.replace(/\s*\n\s*/g, ' ');
}
