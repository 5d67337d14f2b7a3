/**
 * What one admission collects about a pod (problems with its annotations, shape errors) is kept
 * up to MAX_PROBLEMS items and past that only counted, in the collector itself: however many bad
 * items a pod has, what the injector holds, formats, logs and answers about them stays small.
 */

/** The most problems kept for one pod; the rest are counted. */
export const MAX_PROBLEMS = 32;

/** Items up to a bound, then only their count. */
export class Bounded<T> {
  private readonly kept: T[] = [];
  private omitted = 0;
  private readonly max: number;
  constructor(max = MAX_PROBLEMS) {
    this.max = max;
  }
  push(item: T): void {
    if (this.kept.length < this.max) this.kept.push(item);
    else this.omitted++;
  }
  /** No more is kept: a caller may skip the work of saying a problem (a suggestion). */
  get full(): boolean {
    return this.kept.length >= this.max;
  }
  get count(): number {
    return this.kept.length + this.omitted;
  }
  /** The kept items, and `more(n)` for the `n` not kept. */
  list(more: (n: number) => T): T[] {
    return this.omitted === 0 ? [...this.kept] : [...this.kept, more(this.omitted)];
  }
}
