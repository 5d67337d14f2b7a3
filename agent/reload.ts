/**
 * `reload-url`: after the files change, tell the app with a POST inside the pod (Prometheus'
 * `/-/reload`, an app's own endpoint). Retried a few times; a failure is counted and logged,
 * never fatal: the files are already in place.
 */
import type { Logger } from '../common/log.ts';
import { backoffDelay, sleep } from './backoff.ts';

export type ReloadOutcome = 'success' | 'failure';

export interface ReloaderOptions {
  readonly url: string;
  readonly logger: Logger;
  readonly onOutcome: (outcome: ReloadOutcome) => void;
  readonly attempts?: number;
  readonly timeoutMs?: number;
  readonly backoff?: { readonly baseMs: number; readonly capMs: number };
}

export type Reloader = (changed: readonly string[], signal: AbortSignal) => Promise<void>;

export function createReloader(options: ReloaderOptions): Reloader {
  const attempts = options.attempts ?? 3;
  const backoff = options.backoff ?? { baseMs: 1_000, capMs: 5_000 };
  return async (changed, signal) => {
    let last = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0 && !(await sleep(backoffDelay(backoff, attempt - 1), signal))) return;
      try {
        const res = await fetch(options.url, {
          method: 'POST',
          // The names of the files that changed; never their content.
          headers: { 'x-secrets-agent-changed': changed.join(',') },
          signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs ?? 5_000)]),
        });
        await res.body?.cancel();
        if (res.ok) {
          options.onOutcome('success');
          options.logger.info('app reloaded', { url: options.url, status: res.status, changed });
          return;
        }
        last = `HTTP ${res.status}`;
      } catch (err) {
        if (signal.aborted) return;
        last =
          err instanceof Error
            ? `${err.name}: ${(err.cause as Error | undefined)?.message ?? err.message}`
            : 'error';
      }
    }
    options.onOutcome('failure');
    options.logger.warn('app reload failed', { url: options.url, attempts, error: last, changed });
  };
}
