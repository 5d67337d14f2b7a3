/**
 * Time as a dependency. Code that waits, retries or schedules takes a Clock, so a test or a
 * fleet simulation runs it in virtual time: the same code, no real sleeps.
 */
import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves true after `ms`, or false as soon as the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<boolean>;
  /** Lets other work run (a signal handler, another pod) before going on. */
  turn(): Promise<void>;
}

/** The longest delay a Node timer holds: a longer one (2^31 ms or more) fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

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

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep,
  turn: () => nextTurn(),
};

interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly wake: (woken: boolean) => void;
}

/**
 * Virtual time: `now()` moves only when `run` advances it to the next sleeper. Work between two
 * instants runs at once (it takes no virtual time); `run` advances only once every piece of work
 * is waiting on the clock, so what happens at an instant is complete before the next one.
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #turning = 0;
  /** A binary heap of sleepers by wake time, then by order of sleeping. */
  readonly #heap: Sleeper[] = [];

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Sleepers not yet woken. */
  get pending(): number {
    return this.#heap.length;
  }

  sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    const wait = Number.isNaN(ms) ? 0 : Math.max(0, ms);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        sleeper.cancelled = true;
        resolve(false);
      };
      const sleeper = {
        at: this.#now + wait,
        seq: this.#seq++,
        cancelled: false,
        wake: (woken: boolean) => {
          signal.removeEventListener('abort', onAbort);
          if (!sleeper.cancelled) resolve(woken);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#push(sleeper);
    });
  }

  async turn(): Promise<void> {
    this.#turning++;
    try {
      await nextTurn();
    } finally {
      this.#turning--;
    }
  }

  /**
   * Advances time sleeper by sleeper until `untilMs` (or no sleeper is left), letting the work
   * each one wakes run to its next wait before going on.
   */
  async run(untilMs: number): Promise<void> {
    await this.#settle();
    for (;;) {
      const next = this.#heap[0];
      if (next === undefined || next.at > untilMs) break;
      this.#pop();
      this.#now = Math.max(this.#now, next.at);
      next.wake(true);
      // Everything due at this instant wakes before anything runs: a fair start for all.
      if (this.#heap[0]?.at !== next.at) await this.#settle();
    }
    this.#now = Math.max(this.#now, untilMs);
  }

  /** Until no work is left between two turns: every piece of work waits on the clock. */
  async #settle(): Promise<void> {
    do await nextTurn();
    while (this.#turning > 0);
  }

  #push(s: Sleeper): void {
    const h = this.#heap;
    h.push(s);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i] as Sleeper, h[parent] as Sleeper)) break;
      [h[i], h[parent]] = [h[parent] as Sleeper, h[i] as Sleeper];
      i = parent;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l] as Sleeper, h[m] as Sleeper)) m = l;
      if (r < h.length && before(h[r] as Sleeper, h[m] as Sleeper)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as Sleeper, h[i] as Sleeper];
      i = m;
    }
  }
}

function before(a: Sleeper, b: Sleeper): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** A seeded random source (mulberry32): the same seed, the same sequence, for tests and simulations. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
