/** A problem the configuration schema (common/config.ts) finds, and how it is said. */
import { renderPath, type FieldPath, type ProblemKind } from './field.ts';

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
  readonly refs?: readonly FieldPath[];
}

/** Where a schema check reports what it finds. */
export interface ProblemSink {
  add(kind: ProblemKind, path: FieldPath, message: string, ...refs: FieldPath[]): void;
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
