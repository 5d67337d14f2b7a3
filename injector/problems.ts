/**
 * Problems with a pod's annotations, collected: one admission reports every problem at once, up
 * to MAX_PROBLEMS; past that they are counted, not kept, so what a pod can make the injector
 * hold, format and send stays small however many bad items it has. The last entry of a full
 * collection stands for the rest ("… and N more").
 */
import { key as keyOf, type FieldPath, type ProblemKind } from '../common/field.ts';
import {
  badValue,
  booleanProblem,
  parseBooleanText,
  quote,
  type BadValue,
} from '../common/values.ts';
import { Bounded } from './bounded.ts';
import { ANNOTATION_PREFIX } from './types.ts';

export { MAX_PROBLEMS } from './bounded.ts';
export { quote };
export type { FieldPath, ProblemKind };

/**
 * One thing wrong with the annotations: its kind and its path, the annotation it names
 * (`metadata.annotations[secrets-agent.io/mode]`, see annotationPath).
 */
export interface Problem {
  readonly kind: ProblemKind;
  readonly path: FieldPath;
  readonly message: string;
  /**
   * The annotation's value (or the configuration's, for a schema problem) the problem is about,
   * shortened as a message shows it: annotation values are the pod author's words, never a
   * secret's value.
   */
  readonly badValue?: BadValue;
  /** A problem the agent's schema found: the configuration field it is about. */
  readonly field?: FieldPath;
  /** The other annotations the message names (the source in another region, the way out). */
  readonly refs?: readonly FieldPath[];
  /** Set on the last entry of a full collection: this many more problems were not kept. */
  readonly more?: number;
}

const ANNOTATIONS: FieldPath = ['metadata', 'annotations'];

/** The path of the annotation `secrets-agent.io/<name>` (`name` without the prefix). */
export function annotationPath(name: string): FieldPath {
  return keyOf(ANNOTATIONS, `${ANNOTATION_PREFIX}${name}`);
}

/** The full annotation key a problem names (the prefix alone for the "… and N more" entry). */
export function annotationOf(p: Problem): string {
  const last = p.path[p.path.length - 1];
  return typeof last === 'object' ? last.key : ANNOTATION_PREFIX;
}

/** What a full collection counts in place of a problem it does not keep. */
const OMITTED: Problem = { kind: 'too-many', path: ANNOTATIONS, message: '' };

export class Collector {
  private readonly bounded = new Bounded<Problem>();
  /**
   * A problem with `secrets-agent.io/<name>`, about `value` when it is given (the annotation's
   * value as written). A message that costs work to say (a suggestion) is passed as a function,
   * called only if the problem is kept.
   */
  add(kind: ProblemKind, name: string, message: string | (() => string), value?: string): void {
    if (this.full) {
      this.bounded.push(OMITTED);
      return;
    }
    const bad = badValue(value);
    this.push({
      kind,
      path: annotationPath(name),
      message: typeof message === 'string' ? message : message(),
      ...(bad === undefined ? {} : { badValue: bad }),
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
      kind: 'too-many',
      path: ANNOTATIONS,
      message: `and ${more} more`,
      more,
    }));
  }
}

/** `annotation: message`, one per problem; the last of a full collection says how many more. */
export function formatProblem(p: Problem): string {
  return p.more === undefined ? `${annotationOf(p)}: ${p.message}` : `… and ${p.more} more`;
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
  if (parsed === undefined) out.add('invalid', key, booleanProblem(value), value);
  return parsed;
}
