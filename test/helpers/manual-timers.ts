/**
 * Timers in virtual time, for code that takes its timers (common/listener.ts): `advance(ms)`
 * fires what falls due, in order; `whenPending(n)` waits, on events, until n timers are armed.
 */
import type { ListenerTimers } from '../../common/listener.ts';

interface Timer {
  readonly at: number;
  readonly fn: () => void;
}

export class ManualTimers implements ListenerTimers {
  #now = 0;
  #next = 0;
  readonly #timers = new Map<number, Timer>();
  #waiters: { n: number; resolve: () => void }[] = [];

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#next;
    this.#timers.set(id, { at: this.#now + ms, fn });
    this.#wake();
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers armed and not yet fired nor cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Resolves once at least `n` timers are armed. */
  whenPending(n: number): Promise<void> {
    if (this.pending >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  /** Moves time on by `ms`, firing each timer that falls due, earliest first. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = [...this.#timers]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at);
      const first = due[0];
      if (first === undefined) break;
      this.#timers.delete(first[0]);
      this.#now = first[1].at;
      first[1].fn();
    }
    this.#now = until;
  }

  #wake(): void {
    const ready = this.#waiters.filter((w) => this.pending >= w.n);
    this.#waiters = this.#waiters.filter((w) => this.pending < w.n);
    for (const w of ready) w.resolve();
  }
}
