/**
 * Virtual time for the agent's own loop against a real loopback endpoint: the clock moves only
 * when the agent is asleep on it, never while a call is on the wire. The calls, their answers
 * and the files are real; backoff waits, refresh intervals and deadlines take no real time.
 */
import { VirtualClock } from '../../common/clock.ts';

/** No test here needs more than a day of virtual time: past it, the loop is stuck. */
const LIMIT_MS = 24 * 3_600_000;

export class AgentClock extends VirtualClock {
  /** The wake times of the sleeps not yet over. */
  readonly #due: number[] = [];
  #onSleep: (() => void) | undefined;

  override sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    const at = this.now() + (Number.isNaN(ms) ? 0 : Math.max(0, ms));
    this.#due.push(at);
    const slept = super.sleep(ms, signal);
    this.#onSleep?.();
    return slept.finally(() => this.#due.splice(this.#due.indexOf(at), 1));
  }

  /** Advances time until `work` settles, and returns what it returns. */
  async drive<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const over = work.then(
      () => (settled = true),
      () => (settled = true),
    );
    await this.#advance(() => settled, over);
    return work;
  }

  /**
   * Advances time until `done` holds when the agent next goes to sleep (or `alongside`, the
   * agent's loop, ends: its result is the caller's to check).
   */
  async until(done: () => boolean, alongside: Promise<unknown>): Promise<void> {
    let ended = false;
    const over = alongside.then(
      () => (ended = true),
      () => (ended = true),
    );
    await this.#advance(() => ended || done(), over);
  }

  async #advance(stop: () => boolean, over: Promise<unknown>): Promise<void> {
    const start = this.now();
    for (;;) {
      // Work in flight (a call on the wire) ends in a sleep, or in the end of the work.
      if (this.#due.length === 0 && !stop())
        await Promise.race([over, new Promise<void>((r) => (this.#onSleep = r))]);
      this.#onSleep = undefined;
      if (stop()) return;
      const next = Math.min(...this.#due);
      if (next - start > LIMIT_MS) throw new Error(`still not done after ${LIMIT_MS} virtual ms`);
      await this.run(next);
    }
  }
}
