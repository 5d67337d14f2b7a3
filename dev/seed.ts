/**
 * The seed file (YAML or JSON): secrets with their versions, stages and tags, SSM parameters,
 * static credentials and STS settings. Validated once, every problem named by its path
 * (`secrets[2].value: ...`) in one SEED_INVALID error.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { AgentError } from '../common/errors.ts';
import type { StaticCredential } from './credentials.ts';
import { PARAMETER_TYPES, type ParameterStore, type ParameterType } from './parameters.ts';
import { AWSCURRENT, type SecretStore, type SecretValue } from './store.ts';
import type { StsConfig } from './state.ts';

/** The file's shape, as written. */
export interface SeedInput {
  readonly region?: string;
  readonly accountId?: string;
  readonly secrets?: readonly SeedSecretInput[];
  readonly parameters?: readonly SeedParameterInput[];
  readonly credentials?: readonly StaticCredential[];
  readonly sts?: StsConfig;
}

export type SeedValueInput = string | Readonly<Record<string, unknown>>;

export interface SeedSecretInput {
  readonly name: string;
  /** A string, or an object stored as its JSON text. */
  readonly value?: SeedValueInput;
  /** Base64 of a binary secret. */
  readonly binary?: string;
  /** Several versions with their stages, instead of `value`/`binary`. */
  readonly versions?: readonly SeedVersionInput[];
  /** Tags, key to value (a `find` with a tag selects by them). */
  readonly tags?: Readonly<Record<string, string>>;
}

/** An SSM parameter: one version; a list is a StringList (stored comma-separated). */
export interface SeedParameterInput {
  readonly name: string;
  readonly value: string | readonly string[];
  /** String (the default), StringList or SecureString. */
  readonly type?: ParameterType;
  readonly labels?: readonly string[];
}

export interface SeedVersionInput {
  readonly value?: SeedValueInput;
  readonly binary?: string;
  readonly stages: readonly string[];
  readonly id?: string;
}

/** The validated seed. */
export interface Seed {
  readonly region: string;
  readonly accountId: string;
  readonly secrets: readonly SeedSecret[];
  readonly parameters: readonly SeedParameter[];
  readonly credentials: readonly StaticCredential[];
  readonly sts: StsConfig;
}

export interface SeedParameter {
  readonly name: string;
  readonly value: string;
  readonly type: ParameterType;
  readonly labels: readonly string[];
}

export interface SeedSecret {
  readonly name: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly versions: readonly {
    readonly value: SecretValue;
    readonly stages: readonly string[];
    readonly id?: string;
  }[];
}

export const EMPTY_SEED: Seed = {
  region: 'us-east-1',
  accountId: '123456789012',
  secrets: [],
  parameters: [],
  credentials: [],
  sts: {},
};

type Raw = Record<string, unknown>;

class Problems {
  readonly list: string[] = [];
  /** Records a problem; returns undefined so a parser can `return p.add(…)` for "no value". */
  add(path: string, message: string): undefined {
    this.list.push(`${path}: ${message}`);
    return undefined;
  }
}

export async function loadSeedFile(path: string): Promise<Seed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AgentError('SEED_INVALID', `seed ${path}: cannot read: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseSeedText(text, path);
}

export function parseSeedText(text: string, source = 'seed'): Seed {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new AgentError(
      'SEED_INVALID',
      `${source}: not valid YAML or JSON: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return parseSeed(raw, source);
}

/** Validates an untrusted seed document. Throws SEED_INVALID naming every bad path. */
export function parseSeed(raw: unknown, source = 'seed'): Seed {
  const p = new Problems();
  if (!isRaw(raw)) {
    p.add('(root)', 'must be a mapping with a "secrets" list');
    throw failure(source, p);
  }
  unknownKeys(raw, '', ['region', 'accountId', 'secrets', 'parameters', 'credentials', 'sts'], p);
  const region = optString(raw, 'region', 'region', p) ?? EMPTY_SEED.region;
  const accountId = optString(raw, 'accountId', 'accountId', p) ?? EMPTY_SEED.accountId;
  if (!/^\d{12}$/.test(accountId)) p.add('accountId', 'must be 12 digits');
  const secrets = parseList(raw['secrets'], 'secrets', p, parseSecret);
  duplicates(
    secrets.map((s) => s.name),
    'secrets',
    'name',
    p,
  );
  const parameters = parseList(raw['parameters'], 'parameters', p, parseParameter);
  duplicates(
    parameters.map((x) => x.name),
    'parameters',
    'name',
    p,
  );
  const seed: Seed = {
    region,
    accountId,
    secrets,
    parameters,
    credentials: parseList(raw['credentials'], 'credentials', p, parseCredential),
    sts: parseSts(raw['sts'], p),
  };
  if (p.list.length > 0) throw failure(source, p);
  PARSED.add(seed);
  return seed;
}

const PARSED = new WeakSet<Seed>();

/** A seed as given to startDevServer: already validated, or a document to validate now. */
export function toSeed(input: Seed | SeedInput | undefined): Seed {
  if (input === undefined) return EMPTY_SEED;
  return PARSED.has(input as Seed) ? (input as Seed) : parseSeed(input, 'seed');
}

function failure(source: string, p: Problems): AgentError {
  return new AgentError('SEED_INVALID', `${source} is invalid:\n  ${p.list.join('\n  ')}`);
}

function parseSecret(raw: unknown, path: string, p: Problems): SeedSecret | undefined {
  if (!isRaw(raw)) return p.add(path, 'must be a mapping with at least a "name"');
  unknownKeys(raw, path, ['name', 'value', 'binary', 'versions', 'tags'], p);
  const name = optString(raw, 'name', `${path}.name`, p);
  if (name === undefined) p.add(`${path}.name`, 'is required');
  else if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name))
    p.add(`${path}.name`, 'may hold only letters, digits and /_+=.@-');
  const versions = parseVersions(raw, path, p);
  const tags = raw['tags'];
  if (
    tags !== undefined &&
    !(isRaw(tags) && Object.values(tags).every((v) => typeof v === 'string'))
  )
    p.add(`${path}.tags`, 'must be a mapping of tag keys to string values');
  if (name === undefined) return undefined;
  return {
    name,
    versions,
    ...(isRaw(tags) ? { tags: tags as Readonly<Record<string, string>> } : {}),
  };
}

function parseParameter(raw: unknown, path: string, p: Problems): SeedParameter | undefined {
  if (!isRaw(raw)) return p.add(path, 'must be a mapping with "name" and "value"');
  unknownKeys(raw, path, ['name', 'value', 'type', 'labels'], p);
  const name = optString(raw, 'name', `${path}.name`, p);
  if (name === undefined) p.add(`${path}.name`, 'is required');
  else if (!/^[A-Za-z0-9/_.-]{1,1011}$/.test(name) || name.includes('//'))
    p.add(`${path}.name`, 'may hold only letters, digits and /_.- (an SSM parameter name)');
  const value = raw['value'];
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else if (Array.isArray(value) && value.every((v) => typeof v === 'string' && !v.includes(',')))
    text = value.join(',');
  else
    p.add(`${path}.value`, 'must be a string, or a list of strings without commas (a StringList)');
  const type = raw['type'] ?? (Array.isArray(value) ? 'StringList' : 'String');
  if (!(PARAMETER_TYPES as readonly unknown[]).includes(type))
    p.add(`${path}.type`, `must be one of ${PARAMETER_TYPES.join(', ')}`);
  const labels = optStringList(raw['labels'], `${path}.labels`, p) ?? [];
  if (name === undefined || text === undefined) return undefined;
  return { name, value: text, type: type as ParameterType, labels };
}

function parseVersions(raw: Raw, path: string, p: Problems): SeedSecret['versions'] {
  if (raw['versions'] === undefined) {
    const value = parseValue(raw, path, p, false);
    return value === undefined ? [] : [{ value, stages: [AWSCURRENT] }];
  }
  if (raw['value'] !== undefined || raw['binary'] !== undefined)
    p.add(path, 'use either "value"/"binary" or "versions", not both');
  const versions = parseList(raw['versions'], `${path}.versions`, p, parseVersion);
  const stagePaths = new Map<string, string>();
  versions.forEach((v, i) => {
    for (const stage of v.stages) {
      const other = stagePaths.get(stage);
      if (other !== undefined)
        p.add(`${path}.versions[${i}].stages`, `"${stage}" is already on ${other}`);
      stagePaths.set(stage, `${path}.versions[${i}]`);
    }
  });
  if (versions.length > 0 && !stagePaths.has(AWSCURRENT))
    p.add(`${path}.versions`, 'one version must have the AWSCURRENT stage');
  duplicates(
    versions.flatMap((v) => (v.id === undefined ? [] : [v.id])),
    `${path}.versions`,
    'id',
    p,
  );
  return versions;
}

function parseVersion(
  raw: unknown,
  path: string,
  p: Problems,
): SeedSecret['versions'][number] | undefined {
  if (!isRaw(raw)) return p.add(path, 'must be a mapping with "value" or "binary" and "stages"');
  unknownKeys(raw, path, ['value', 'binary', 'stages', 'id'], p);
  const value = parseValue(raw, path, p, true);
  const stages = optStringList(raw['stages'], `${path}.stages`, p);
  if (stages === undefined || stages.length === 0)
    p.add(`${path}.stages`, 'must list at least one stage');
  const id = optString(raw, 'id', `${path}.id`, p);
  if (id !== undefined && !/^[A-Za-z0-9-]{32,64}$/.test(id))
    p.add(`${path}.id`, 'must be 32 to 64 letters, digits or dashes (a UUID)');
  if (value === undefined || stages === undefined) return undefined;
  return { value, stages, ...(id === undefined ? {} : { id }) };
}

function parseValue(
  raw: Raw,
  path: string,
  p: Problems,
  required: boolean,
): SecretValue | undefined {
  const value = raw['value'];
  const binary = raw['binary'];
  if (value !== undefined && binary !== undefined)
    return p.add(path, 'has both "value" and "binary"');
  if (binary !== undefined) {
    if (
      typeof binary !== 'string' ||
      !/^[A-Za-z0-9+/]+={0,2}$/.test(binary) ||
      binary.length % 4 !== 0
    ) {
      return p.add(`${path}.binary`, 'must be a base64 string');
    }
    return { kind: 'binary', bytes: Buffer.from(binary, 'base64') };
  }
  if (value === undefined) return required ? p.add(path, 'needs "value" or "binary"') : undefined;
  if (typeof value === 'string') return { kind: 'string', text: value };
  if (isRaw(value)) return { kind: 'string', text: JSON.stringify(value) };
  return p.add(`${path}.value`, 'must be a string or a mapping (stored as JSON)');
}

function parseCredential(raw: unknown, path: string, p: Problems): StaticCredential | undefined {
  if (!isRaw(raw)) return p.add(path, 'must be a mapping with accessKeyId and secretAccessKey');
  unknownKeys(raw, path, ['accessKeyId', 'secretAccessKey', 'roleArn'], p);
  const accessKeyId = optString(raw, 'accessKeyId', `${path}.accessKeyId`, p);
  const secretAccessKey = optString(raw, 'secretAccessKey', `${path}.secretAccessKey`, p);
  const roleArn = optString(raw, 'roleArn', `${path}.roleArn`, p);
  if (accessKeyId === undefined) p.add(`${path}.accessKeyId`, 'is required');
  if (secretAccessKey === undefined) p.add(`${path}.secretAccessKey`, 'is required');
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined;
  return { accessKeyId, secretAccessKey, ...(roleArn === undefined ? {} : { roleArn }) };
}

function parseSts(raw: unknown, p: Problems): StsConfig {
  if (raw === undefined) return {};
  if (!isRaw(raw)) return (p.add('sts', 'must be a mapping'), {});
  unknownKeys(raw, 'sts', ['audiences'], p);
  const audiences = optStringList(raw['audiences'], 'sts.audiences', p);
  return audiences === undefined ? {} : { audiences };
}

function parseList<T>(
  raw: unknown,
  path: string,
  p: Problems,
  item: (raw: unknown, path: string, p: Problems) => T | undefined,
): T[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return (p.add(path, 'must be a list'), []);
  return raw.flatMap((x: unknown, i) => {
    const parsed = item(x, `${path}[${i}]`, p);
    return parsed === undefined ? [] : [parsed];
  });
}

function optString(raw: Raw, key: string, path: string, p: Problems): string | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') return p.add(path, 'must be a non-empty string');
  return v;
}

function optStringList(raw: unknown, path: string, p: Problems): string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || !raw.every((x) => typeof x === 'string' && x !== '')) {
    return p.add(path, 'must be a list of non-empty strings');
  }
  return raw as string[];
}

function unknownKeys(raw: Raw, path: string, known: readonly string[], p: Problems): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key))
      p.add(path === '' ? key : `${path}.${key}`, `unknown field (known: ${known.join(', ')})`);
  }
}

function duplicates(values: readonly string[], path: string, field: string, p: Problems): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) p.add(path, `${field} "${v}" appears more than once`);
    seen.add(v);
  }
}

function isRaw(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Loads the seed's secrets into a store, and its parameters into a parameter store. */
export function applySeed(store: SecretStore, seed: Seed, parameters?: ParameterStore): void {
  for (const s of seed.secrets) {
    const secret = store.secret(s.name);
    for (const [key, value] of Object.entries(s.tags ?? {})) secret.tags.set(key, value);
    for (const v of s.versions) store.addVersion(secret, v.value, v.id, v.stages);
  }
  for (const x of seed.parameters) parameters?.put(x.name, x.value, x.type, x.labels);
}
