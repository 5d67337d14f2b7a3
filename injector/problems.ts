/**
 * Problems with a pod's annotations, collected: one admission reports every problem at once, up
 * to MAX_PROBLEMS; past that they are counted, not kept, so what a pod can make the injector
 * hold, format and send stays small however many bad items it has. The last entry of a full
 * collection stands for the rest ("… and N more").
 */
import { booleanProblem, parseBooleanText, quote } from '../common/values.ts';
import { Bounded } from './bounded.ts';
import { ANNOTATION_PREFIX } from './types.ts';

export { MAX_PROBLEMS } from './bounded.ts';
export { quote };

/** One thing wrong with the annotations; `annotation` is the full key. */
export interface Problem {
  readonly annotation: string;
  readonly message: string;
  /** Set on the last entry of a full collection: this many more problems were not kept. */
  readonly more?: number;
}

/** What a full collection counts in place of a problem it does not keep. */
const OMITTED: Problem = { annotation: ANNOTATION_PREFIX, message: '' };

export class Collector {
  private readonly bounded = new Bounded<Problem>();
  /**
   * A problem with `secrets-agent.io/<key>`. A message that costs work to say (a suggestion) is
   * passed as a function, called only if the problem is kept.
   */
  add(key: string, message: string | (() => string)): void {
    if (this.full) this.bounded.push(OMITTED);
    else
      this.push({
        annotation: `${ANNOTATION_PREFIX}${key}`,
        message: typeof message === 'string' ? message : message(),
      });
  }
  push(problem: Problem): void {
    this.bounded.push(problem);
  }
  get full(): boolean {
    return this.bounded.full;
  }
  get count(): number {
    return this.bounded.count;
  }
  get problems(): readonly Problem[] {
    return this.bounded.list((more) => ({
      annotation: ANNOTATION_PREFIX,
      message: `and ${more} more`,
      more,
    }));
  }
}

/** `annotation: message`, one per problem; the last of a full collection says how many more. */
export function formatProblem(p: Problem): string {
  return p.more === undefined ? `${p.annotation}: ${p.message}` : `… and ${p.more} more`;
}

/** How many problems the list stands for: the kept ones and those counted past the bound. */
export function problemCount(problems: readonly Problem[]): number {
  let n = 0;
  for (const p of problems) n += p.more ?? 1;
  return n;
}

/** A yes/no annotation: "true" or "false", else a problem. */
export function parseBoolean(value: string, key: string, out: Collector): boolean | undefined {
  const parsed = parseBooleanText(value);
  if (parsed === undefined) out.add(key, booleanProblem(value));
  return parsed;
}
