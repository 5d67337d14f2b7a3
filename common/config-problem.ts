/** A problem the configuration schema (common/config.ts) finds, and how it is said. */
import { renderPath, type FieldPath, type ProblemKind } from './field.ts';
import { badValue, type BadValue } from './values.ts';

/**
 * One thing wrong with a configuration: its kind, the field's path (`secrets[2].format`) and
 * what is wrong with it. `{0}`, `{1}` … in the message stand for the fields in `refs`, so a
 * caller that names fields differently (the injector names annotations) can say the whole
 * sentence in its own terms.
 */
export interface ConfigProblem {
  readonly kind: ProblemKind;
  readonly path: FieldPath;
  readonly message: string;
  /**
   * The value found at `path`, as the author wrote it (shortened), where the check read one: not
   * an object, never a user or password in a URL.
   */
  readonly badValue?: BadValue;
  readonly refs?: readonly FieldPath[];
}

/** What a check says of a value: its words, and the value when they show it. */
export type Said = string | { readonly message: string; readonly badValue?: BadValue };

/** The words, with the value they show kept as the problem's `badValue`. */
export function saidOf(message: string, value: unknown): Said {
  const bad = badValue(value);
  return bad === undefined ? message : { message, badValue: bad };
}

/** Where a schema check reports what it finds. */
export interface ProblemSink {
  add(kind: ProblemKind, path: FieldPath, said: Said, ...refs: FieldPath[]): void;
}

/** The problem's message with every field it refers to named by `name`. */
export function configProblemMessage(
  problem: ConfigProblem,
  name: (path: FieldPath) => string = renderPath,
): string {
  return problem.message.replace(/\{(\d+)\}/g, (_, i: string) => {
    const ref = problem.refs?.[Number(i)];
    return ref === undefined ? '?' : name(ref);
  });
}

/** `path: message`, every field named by `name` (the configuration's own paths by default). */
export function formatConfigProblem(
  problem: ConfigProblem,
  name: (path: FieldPath) => string = renderPath,
): string {
  return `${name(problem.path)}: ${configProblemMessage(problem, name)}`;
}
