/**
 * YAML, loaded on demand: the agent's hot path is JSON (the injector passes JSON), so the
 * parser is imported only when a YAML file is read. Bundled, the dynamic import may come back
 * as a CommonJS namespace with the API under `default`.
 */
export async function parseYaml(text: string): Promise<unknown> {
  const yaml = await import('yaml');
  const parse = (yaml.parse as typeof yaml.parse | undefined) ?? yaml.default.parse;
  return parse(text) as unknown;
}
