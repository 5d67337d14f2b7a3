/** Capped exponential backoff with jitter, its worst case, and an abortable sleep. */
import { setTimeout as delay } from 'node:timers/promises';

export interface Backoff {
  readonly baseMs: number;
  readonly capMs: number;
}

/** The longest delay a Node timer holds: a longer one (2^31 ms or more) fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Jitter keeps every wait between this fraction of its nominal length and all of it. */
const JITTER_FLOOR = 0.5;

/** The wait before retry number `attempt` (0-based): base·2^attempt, capped, jittered to 50–100%. */
export function backoffDelay(
  b: Backoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  return Math.round(nominal(b, attempt) * (JITTER_FLOOR + random() * (1 - JITTER_FLOOR)));
}

function nominal(b: Backoff, attempt: number): number {
  return Math.min(b.capMs, b.baseMs * 2 ** Math.min(attempt, 30));
}

/**
 * The most retries that can start within `budgetMs`: every wait as short as jitter allows
 * (half its nominal length) and every attempt taking no time. Retry n starts only if the waits
 * before it, its own included, fit in the budget.
 */
export function maxRetriesWithin(b: Backoff, budgetMs: number): number {
  if (!(b.baseMs > 0 && b.capMs > 0)) return Number.POSITIVE_INFINITY;
  let spent = 0;
  for (let n = 0; ; n++) {
    spent += Math.round(nominal(b, n) * JITTER_FLOOR);
    if (spent > budgetMs) return n;
  }
}

/** `ms` spread by ±fraction, so replicas started together do not call AWS together. */
export function jittered(ms: number, fraction: number, random: () => number = Math.random): number {
  return Math.round(ms * (1 - fraction + random() * 2 * fraction));
}

/**
 * Resolves after `ms`, or early (false) when the signal aborts. Waits longer than a Node timer
 * holds are slept in pieces, so they never collapse into 1 ms.
 */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  let left = Number.isNaN(ms) ? 0 : Math.max(0, ms);
  do {
    if (signal.aborted) return false;
    const step = Math.min(left, MAX_TIMER_MS);
    try {
      await delay(step, undefined, { signal });
    } catch {
      return false;
    }
    left -= step;
  } while (left > 0);
  return true;
}
