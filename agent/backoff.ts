/** Capped exponential backoff with jitter, and an abortable sleep. */
import { setTimeout as delay } from 'node:timers/promises';

export interface Backoff {
  readonly baseMs: number;
  readonly capMs: number;
}

/** The wait before retry number `attempt` (0-based): base·2^attempt, capped, jittered to 50–100%. */
export function backoffDelay(
  b: Backoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(b.capMs, b.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp * (0.5 + random() * 0.5));
}

/** `ms` spread by ±fraction, so replicas started together do not call AWS together. */
export function jittered(ms: number, fraction: number, random: () => number = Math.random): number {
  return Math.round(ms * (1 - fraction + random() * 2 * fraction));
}

/** Resolves after `ms`, or early (false) when the signal aborts. */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
