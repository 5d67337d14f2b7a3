/**
 * `reload-url`: after the files change, tell the app with a POST inside the pod (Prometheus'
 * `/-/reload`, an app's own endpoint). Retried a few times; a failure is counted and logged,
 * never fatal: the files are already in place.
 *
 * Plain node:http, not fetch: a first fetch loads Node's undici (tens of milliseconds and its
 * memory), which nothing else in the agent needs.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type Clock, systemClock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { backoffDelay } from './backoff.ts';

export type ReloadOutcome = 'success' | 'failure';

/**
 * Per change: at most 3 POSTs, each answered within 5 s, 1 s then 2 s apart (jittered to
 * 50–100%): at most 18 s before the failure is counted.
 */
export const RELOAD_ATTEMPTS = 3;
export const RELOAD_TIMEOUT_MS = 5_000;
export const RELOAD_BACKOFF = { baseMs: 1_000, capMs: 5_000 } as const;

export interface ReloaderOptions {
  readonly url: string;
  readonly logger: Logger;
  readonly onOutcome: (outcome: ReloadOutcome) => void;
  readonly attempts?: number;
  readonly timeoutMs?: number;
  readonly backoff?: { readonly baseMs: number; readonly capMs: number };
  /** What the waits between attempts read (virtual in tests). */
  readonly clock?: Clock;
}

export type Reloader = (changed: readonly string[], signal: AbortSignal) => Promise<void>;

/** One POST: resolves to the HTTP status, rejects on a network error or the timeout. */
function post(
  url: string,
  changed: readonly string[],
  timeoutMs: number,
  signal: AbortSignal,
): Promise<number> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        // The names of the files that changed; never their content.
        headers: { 'x-secrets-agent-changed': changed.join(','), 'content-length': 0 },
        signal,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function createReloader(options: ReloaderOptions): Reloader {
  const attempts = options.attempts ?? RELOAD_ATTEMPTS;
  const backoff = options.backoff ?? RELOAD_BACKOFF;
  const clock = options.clock ?? systemClock;
  return async (changed, signal) => {
    let last = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0 && !(await clock.sleep(backoffDelay(backoff, attempt - 1), signal))) return;
      try {
        const status = await post(
          options.url,
          changed,
          options.timeoutMs ?? RELOAD_TIMEOUT_MS,
          signal,
        );
        if (status >= 200 && status < 300) {
          options.onOutcome('success');
          options.logger.info('app reloaded', { url: options.url, status, changed });
          return;
        }
        last = `HTTP ${status}`;
      } catch (err) {
        if (signal.aborted) return;
        last =
          err instanceof Error
            ? `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}`
            : 'error';
      }
    }
    options.onOutcome('failure');
    options.logger.warn('app reload failed', { url: options.url, attempts, error: last, changed });
  };
}
