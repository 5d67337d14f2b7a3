/**
 * The JMESPath engine, loaded on demand: a plain `key-` expression (common/key-path.ts) needs
 * none, and most pods write only those. The agent loads it when its configuration holds any
 * other expression, before checking it; the injector keeps it loaded.
 */
export type JmesPath = typeof import('@jmespath-community/jmespath');

let loading: Promise<JmesPath> | undefined;

export function loadJmesPath(): Promise<JmesPath> {
  loading ??= import('@jmespath-community/jmespath');
  return loading;
}
