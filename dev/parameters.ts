/**
 * The emulator's SSM parameters: each a name, a type and its versions (numbered from 1, each
 * with its labels). ARNs carry the region of the request that asks.
 */
export type ParameterType = 'String' | 'StringList' | 'SecureString';
export const PARAMETER_TYPES: readonly ParameterType[] = ['String', 'StringList', 'SecureString'];

export interface ParameterVersion {
  readonly version: number;
  readonly value: string;
  readonly labels: Set<string>;
  /** Epoch milliseconds. */
  readonly modified: number;
}

export interface ParameterRecord {
  readonly name: string;
  readonly type: ParameterType;
  readonly versions: ParameterVersion[];
}

/** A parameter read by name (or ARN) and optional `:version` / `:label` selector. */
export interface SelectedParameter {
  readonly parameter: ParameterRecord;
  readonly version: ParameterVersion;
  /** The selector as requested (`:3`, `:prod`), or undefined for the latest version. */
  readonly selector?: string;
}

export class ParameterStore {
  readonly accountId: string;
  readonly now: () => number;
  readonly #parameters = new Map<string, ParameterRecord>();

  constructor(options: { accountId?: string; now?: () => number } = {}) {
    this.accountId = options.accountId ?? '123456789012';
    this.now = options.now ?? Date.now;
  }

  arn(parameter: ParameterRecord, region: string): string {
    const name = parameter.name.startsWith('/') ? parameter.name.slice(1) : parameter.name;
    return `arn:aws:ssm:${region}:${this.accountId}:parameter/${name}`;
  }

  /** Adds a version (the type stays the first one's); returns the version number. */
  put(
    name: string,
    value: string,
    type: ParameterType = 'String',
    labels: readonly string[] = [],
  ): number {
    let parameter = this.#parameters.get(name);
    if (parameter === undefined) {
      parameter = { name, type, versions: [] };
      this.#parameters.set(name, parameter);
    }
    for (const label of labels) for (const v of parameter.versions) v.labels.delete(label);
    const version = parameter.versions.length + 1;
    parameter.versions.push({ version, value, labels: new Set(labels), modified: this.now() });
    return version;
  }

  delete(name: string): boolean {
    return this.#parameters.delete(name);
  }

  /** By name or ARN, with an optional selector; undefined when there is no such version. */
  select(requested: string): SelectedParameter | undefined {
    const match = /^(.*?)(:[^:/]+)?$/.exec(
      requested.replace(/^arn:[^:]+:ssm:[^:]*:\d{12}:parameter/, ''),
    );
    let name = match?.[1] ?? requested;
    const selector = match?.[2];
    if (requested.startsWith('arn:')) {
      if (!requested.includes(`:${this.accountId}:`)) return undefined;
      if (!this.#parameters.has(name) && name.startsWith('/')) name = name.slice(1);
    }
    const parameter = this.#parameters.get(name) ?? this.#parameters.get(`/${name}`);
    if (parameter === undefined) return undefined;
    if (selector === undefined) {
      const latest = parameter.versions.at(-1);
      return latest === undefined ? undefined : { parameter, version: latest };
    }
    const key = selector.slice(1);
    const version = /^\d+$/.test(key)
      ? parameter.versions.find((v) => v.version === Number(key))
      : parameter.versions.find((v) => v.labels.has(key));
    return version === undefined ? undefined : { parameter, version, selector };
  }

  /** The parameters below a path (`/a/b`): all levels, or only the next one. Sorted by name. */
  underPath(path: string, recursive: boolean): ParameterRecord[] {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    return [...this.#parameters.values()]
      .filter((p) => p.name.startsWith(prefix) && p.versions.length > 0)
      .filter((p) => recursive || !p.name.slice(prefix.length).includes('/'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
