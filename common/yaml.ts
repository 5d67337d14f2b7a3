/**
 * YAML, loaded on demand: the agent's hot path is JSON (the injector passes JSON), so the
 * library is imported only when a YAML file is read or a `yaml` format is written.
 */
export type YamlApi = Pick<typeof import('yaml'), 'parse' | 'stringify'>;

export async function loadYaml(): Promise<YamlApi> {
  return import('yaml');
}

export async function parseYaml(text: string): Promise<unknown> {
  return (await loadYaml()).parse(text) as unknown;
}
