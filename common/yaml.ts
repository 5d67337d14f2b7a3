/**
 * YAML, loaded on demand: the agent's hot path is JSON (the injector passes JSON), so the
 * library is imported only when a YAML file is read or a `yaml` format is written. Bundled, the
 * dynamic import may come back as a CommonJS namespace with the API under `default`.
 */
export type YamlApi = Pick<typeof import('yaml'), 'parse' | 'stringify'>;

export async function loadYaml(): Promise<YamlApi> {
  const yaml = await import('yaml');
  return (yaml.parse as typeof yaml.parse | undefined) === undefined ? yaml.default : yaml;
}

export async function parseYaml(text: string): Promise<unknown> {
  return (await loadYaml()).parse(text) as unknown;
}
