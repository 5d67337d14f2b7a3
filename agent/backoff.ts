/** Capped exponential backoff with jitter, its worst case, and jittered intervals. */
export { MAX_TIMER_MS, sleep } from '../common/clock.ts';

export interface Backoff {
  readonly baseMs: number;
  readonly capMs: number;
  /** Each wait is spread uniformly from this fraction of its nominal length to all of it. */
  readonly jitterFloor?: number;
}

/** Waits within a pod (the reload POSTs): 50–100% of nominal. */
const DEFAULT_JITTER_FLOOR = 0.5;

/**
 * Waits that every pod of a fleet may start at the same instant (AWS throttled them all):
 * "full jitter" (AWS's term), 10–100% of nominal, so they retry spread over the whole window
 * and never in step. The floor above zero keeps the retries in a budget bounded
 * (maxRetriesWithin).
 */
export const FULL_JITTER_FLOOR = 0.1;

/** The wait before retry number `attempt` (0-based): base·2^attempt, capped, then jittered. */
export function backoffDelay(
  b: Backoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  const floor = b.jitterFloor ?? DEFAULT_JITTER_FLOOR;
  return Math.round(nominal(b, attempt) * (floor + random() * (1 - floor)));
}

function nominal(b: Backoff, attempt: number): number {
  return Math.min(b.capMs, b.baseMs * 2 ** Math.min(attempt, 30));
}

/**
 * The most retries that can start within `budgetMs`: every wait as short as jitter allows
 * (its jitter floor of its nominal length) and every attempt taking no time. Retry n starts only if
 * the waits before it, its own included, fit in the budget.
 */
export function maxRetriesWithin(b: Backoff, budgetMs: number): number {
  if (!(b.baseMs > 0 && b.capMs > 0)) return Number.POSITIVE_INFINITY;
  let spent = 0;
  for (let n = 0; ; n++) {
    spent += Math.round(nominal(b, n) * (b.jitterFloor ?? DEFAULT_JITTER_FLOOR));
    if (spent > budgetMs) return n;
  }
}

/** `ms` spread by ±fraction, so replicas started together do not call AWS together. */
export function jittered(ms: number, fraction: number, random: () => number = Math.random): number {
  return Math.round(ms * (1 - fraction + random() * 2 * fraction));
}
