/** A problem the configuration schema (common/config.ts) finds, and how it is said. */

/**
 * One thing wrong with a configuration: the field's path (`secrets[2].format`) and what is
 * wrong with it. `{0}`, `{1}` … in the message stand for the fields in `refs`, so a caller
 * that names fields differently (the injector names annotations) can say the whole sentence in
 * its own terms.
 */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
  readonly refs?: readonly string[];
}

/** The problem's message with every field it refers to named by `name`. */
export function configProblemMessage(
  problem: ConfigProblem,
  name: (path: string) => string = (path) => path,
): string {
  return problem.message.replace(/\{(\d+)\}/g, (_, i: string) =>
    name(problem.refs?.[Number(i)] ?? '?'),
  );
}

/** `path: message`, every field named by `name` (the configuration's own paths by default). */
export function formatConfigProblem(
  problem: ConfigProblem,
  name: (path: string) => string = (path) => path,
): string {
  return `${name(problem.path)}: ${configProblemMessage(problem, name)}`;
}
