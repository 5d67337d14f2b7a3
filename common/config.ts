/**
 * The agent's configuration: the document the injector writes into the agent container's args
 * and that users write by hand to run the agent on ECS, a VM or docker compose. It is parsed
 * from unknown input once, at start; every error names the field (`secrets[2].format`), and
 * the result is frozen. README's "Agent configuration" section documents the same schema.
 */
import { AgentError } from './errors.ts';
import { formatDuration, parseDuration } from './duration.ts';

export const MODES = ['init', 'sidecar'] as const;
export type Mode = (typeof MODES)[number];

export const FORMATS = ['raw', 'json', 'yaml', 'dotenv', 'env', 'properties'] as const;
export type Format = (typeof FORMATS)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type ConfigLogLevel = (typeof LOG_LEVELS)[number];

/** File names: letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const MAX_FILE_NAME = 200;

export const MIN_REFRESH_INTERVAL_MS = 5_000;
const DEFAULT_REFRESH_MS = 5 * 60_000;
const DEFAULT_INIT_TIMEOUT_MS = 2 * 60_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULTS = {
  mode: 'sidecar',
  outputDir: '/secrets',
  refreshInterval: '5m',
  initTimeout: '2m',
  requestTimeout: '10s',
  httpAddress: '0.0.0.0',
  httpPort: 9102,
  fileMode: 0o644,
  terminationLogPath: '/dev/termination-log',
  logLevel: 'info',
  format: 'raw',
} as const;

export interface SecretSpec {
  /** The file name under outputDir, and the Secret key with k8sSecret. */
  readonly name: string;
  /** The secret's name, full ARN or partial ARN. */
  readonly id: string;
  readonly versionStage?: string;
  readonly versionId?: string;
  /** JMESPath selecting one value from a JSON secret. */
  readonly key?: string;
  /** `{{ field }}` template rendered with the JSON secret's fields. */
  readonly template?: string;
  readonly format: Format;
  /** File mode; undefined means the config's fileMode. */
  readonly mode?: number;
  /** With k8sSecret: each top-level JSON field becomes a Secret key of its own. */
  readonly extract: boolean;
}

export interface K8sSecretTarget {
  readonly name: string;
  /** Defaults to the pod's namespace (the service-account namespace file, or POD_NAMESPACE). */
  readonly namespace?: string;
}

export interface AgentConfig {
  readonly mode: Mode;
  readonly outputDir: string;
  readonly refreshIntervalMs: number;
  readonly initTimeoutMs: number;
  /** One AWS request's timeout (each attempt; the SDK retries). */
  readonly requestTimeoutMs: number;
  readonly region?: string;
  readonly failoverRegion?: string;
  readonly httpAddress: string;
  /** 0 turns the health and metrics server off. */
  readonly httpPort: number;
  readonly fileMode: number;
  readonly terminationLogPath: string;
  readonly logLevel: ConfigLogLevel;
  readonly reloadUrl?: string;
  readonly k8sSecret?: K8sSecretTarget;
  readonly secrets: readonly SecretSpec[];
}

/** The config as written in a file or argument (durations as strings, modes as octal). */
export interface AgentConfigInput {
  mode?: Mode;
  outputDir?: string;
  refreshInterval?: string;
  initTimeout?: string;
  requestTimeout?: string;
  region?: string;
  failoverRegion?: string;
  httpAddress?: string;
  httpPort?: number;
  fileMode?: string;
  terminationLogPath?: string;
  logLevel?: ConfigLogLevel;
  reloadUrl?: string;
  k8sSecret?: { name: string; namespace?: string };
  secrets: {
    name: string;
    id: string;
    versionStage?: string;
    versionId?: string;
    key?: string;
    template?: string;
    format?: Format;
    mode?: string;
    extract?: boolean;
  }[];
}

export const CONFIG_FIELDS = [
  'mode',
  'outputDir',
  'refreshInterval',
  'initTimeout',
  'requestTimeout',
  'region',
  'failoverRegion',
  'httpAddress',
  'httpPort',
  'fileMode',
  'terminationLogPath',
  'logLevel',
  'reloadUrl',
  'k8sSecret',
  'secrets',
] as const;
export const SECRET_FIELDS = [
  'name',
  'id',
  'versionStage',
  'versionId',
  'key',
  'template',
  'format',
  'mode',
  'extract',
] as const;

/** Collects every problem, so one error lists them all. */
class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }
}

type Obj = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(obj: Obj, allowed: readonly string[], path: string, problems: Problems): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      problems.add(
        path === '' ? key : `${path}.${key}`,
        `unknown field (known: ${allowed.join(', ')})`,
      );
    }
  }
}

function optString(obj: Obj, key: string, path: string, problems: Problems): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    problems.add(path, 'must be a non-empty string');
    return undefined;
  }
  return value;
}

function optEnum<T extends string>(
  obj: Obj,
  key: string,
  allowed: readonly T[],
  path: string,
  problems: Problems,
): T | undefined {
  const value = optString(obj, key, path, problems);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    problems.add(path, `must be one of ${allowed.join(', ')}; got "${value}"`);
    return undefined;
  }
  return value as T;
}

function optDuration(obj: Obj, key: string, path: string, problems: Problems): number | undefined {
  const value = optString(obj, key, path, problems);
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) {
    problems.add(path, `must be a duration such as 30s, 5m or 1h; got "${value}"`);
  }
  return ms;
}

/**
 * The reload URL must stay inside the pod: an http(s) URL on a loopback address. Anything else
 * would send the names of changed files to another host.
 */
export function isPodLocalUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback =
    host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  return (url.protocol === 'http:' || url.protocol === 'https:') && loopback;
}

/** Octal file modes: "0400", "400", "0o400"; owner read is required so the files are usable. */
export function parseFileMode(text: string): number | undefined {
  const match = /^(?:0o?)?([0-7]{3})$/.exec(text.trim());
  return match?.[1] === undefined ? undefined : Number.parseInt(match[1], 8);
}

function optFileMode(obj: Obj, key: string, path: string, problems: Problems): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  const mode = typeof value === 'string' ? parseFileMode(value) : undefined;
  if (mode === undefined) {
    problems.add(
      path,
      `must be an octal file mode such as "0400" or "0644"; got ${JSON.stringify(value)}`,
    );
    return undefined;
  }
  if ((mode & 0o444) === 0) problems.add(path, 'must let someone read the file (e.g. 0400)');
  return mode;
}

function parseSecretName(raw: Obj, at: string, problems: Problems): { name?: string; id?: string } {
  const name = optString(raw, 'name', `${at}.name`, problems);
  const id = optString(raw, 'id', `${at}.id`, problems);
  if (raw['name'] === undefined) problems.add(`${at}.name`, 'is required');
  if (raw['id'] === undefined) problems.add(`${at}.id`, 'is required');
  if (name !== undefined && (!FILE_NAME.test(name) || name.length > MAX_FILE_NAME)) {
    problems.add(
      `${at}.name`,
      `"${name}" is not a valid file name (letters, digits, ".", "_", "-"; starting with a letter or digit; at most ${MAX_FILE_NAME} characters)`,
    );
  }
  return { ...(name === undefined ? {} : { name }), ...(id === undefined ? {} : { id }) };
}

/** key, template and format: how the value becomes the file. */
function parseRendering(
  raw: Obj,
  at: string,
  problems: Problems,
): Pick<SecretSpec, 'key' | 'template' | 'format'> {
  const key = optString(raw, 'key', `${at}.key`, problems);
  const template = optString(raw, 'template', `${at}.template`, problems);
  const format = optEnum(raw, 'format', FORMATS, `${at}.format`, problems) ?? DEFAULTS.format;
  if (key !== undefined && template !== undefined) {
    problems.add(
      `${at}.template`,
      'cannot be combined with key: a template already selects fields',
    );
  }
  if (template !== undefined && format !== 'raw') {
    problems.add(
      `${at}.format`,
      'must be raw (or absent) with a template: the template is the format',
    );
  }
  return {
    format,
    ...(key === undefined ? {} : { key }),
    ...(template === undefined ? {} : { template }),
  };
}

function parseSecret(raw: unknown, index: number, problems: Problems): SecretSpec | undefined {
  const at = `secrets[${index}]`;
  if (!isObject(raw)) {
    problems.add(at, 'must be an object with at least name and id');
    return undefined;
  }
  checkKeys(raw, SECRET_FIELDS, at, problems);
  const { name, id } = parseSecretName(raw, at, problems);
  const rendering = parseRendering(raw, at, problems);
  const extract = raw['extract'];
  if (extract !== undefined && typeof extract !== 'boolean') {
    problems.add(`${at}.extract`, 'must be true or false');
  }
  const versionStage = optString(raw, 'versionStage', `${at}.versionStage`, problems);
  const versionId = optString(raw, 'versionId', `${at}.versionId`, problems);
  const mode = optFileMode(raw, 'mode', `${at}.mode`, problems);
  if (name === undefined || id === undefined) return undefined;
  return {
    name,
    id,
    ...rendering,
    extract: extract === true,
    ...(versionStage === undefined ? {} : { versionStage }),
    ...(versionId === undefined ? {} : { versionId }),
    ...(mode === undefined ? {} : { mode }),
  };
}

function parseK8sSecret(raw: unknown, problems: Problems): K8sSecretTarget | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) {
    problems.add('k8sSecret', 'must be an object with a name');
    return undefined;
  }
  checkKeys(raw, ['name', 'namespace'], 'k8sSecret', problems);
  const name = optString(raw, 'name', 'k8sSecret.name', problems);
  const namespace = optString(raw, 'namespace', 'k8sSecret.namespace', problems);
  if (name === undefined) {
    if (raw['name'] === undefined) problems.add('k8sSecret.name', 'is required');
    return undefined;
  }
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
    problems.add(
      'k8sSecret.name',
      `"${name}" is not a valid Kubernetes object name (lower-case DNS subdomain)`,
    );
  }
  return namespace === undefined ? { name } : { name, namespace };
}

function parseHttpPort(raw: Obj, problems: Problems): number {
  const value = raw['httpPort'];
  if (value === undefined) return DEFAULTS.httpPort;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    problems.add(
      'httpPort',
      `must be a port number from 0 (off) to 65535; got ${JSON.stringify(value)}`,
    );
    return DEFAULTS.httpPort;
  }
  return value;
}

function checkUnique(secrets: readonly SecretSpec[], problems: Problems): void {
  const seen = new Map<string, number>();
  secrets.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first === undefined) seen.set(s.name, i);
    else problems.add(`secrets[${i}].name`, `"${s.name}" is already used by secrets[${first}]`);
  });
}

function parseTiming(
  raw: Obj,
  problems: Problems,
): { refreshIntervalMs: number; initTimeoutMs: number; requestTimeoutMs: number } {
  const refreshIntervalMs =
    optDuration(raw, 'refreshInterval', 'refreshInterval', problems) ?? DEFAULT_REFRESH_MS;
  if (refreshIntervalMs < MIN_REFRESH_INTERVAL_MS) {
    problems.add(
      'refreshInterval',
      `must be at least ${formatDuration(MIN_REFRESH_INTERVAL_MS)} (every refresh is a paid AWS call)`,
    );
  }
  const initTimeoutMs =
    optDuration(raw, 'initTimeout', 'initTimeout', problems) ?? DEFAULT_INIT_TIMEOUT_MS;
  const requestTimeoutMs =
    optDuration(raw, 'requestTimeout', 'requestTimeout', problems) ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (requestTimeoutMs < 100) problems.add('requestTimeout', 'must be at least 100ms');
  return { refreshIntervalMs, initTimeoutMs, requestTimeoutMs };
}

function parseSecrets(raw: Obj, problems: Problems): SecretSpec[] {
  const rawSecrets = raw['secrets'];
  const secrets: SecretSpec[] = [];
  if (!Array.isArray(rawSecrets) || rawSecrets.length === 0) {
    problems.add('secrets', 'must list at least one secret');
    return secrets;
  }
  rawSecrets.forEach((s: unknown, i) => {
    const spec = parseSecret(s, i, problems);
    if (spec !== undefined) secrets.push(spec);
  });
  checkUnique(secrets, problems);
  return secrets;
}

/** region, failoverRegion, reloadUrl: the optional top-level strings with rules of their own. */
function parseOptionalTargets(
  raw: Obj,
  problems: Problems,
): Pick<AgentConfig, 'region' | 'failoverRegion' | 'reloadUrl'> {
  const reloadUrl = optString(raw, 'reloadUrl', 'reloadUrl', problems);
  if (reloadUrl !== undefined && !isPodLocalUrl(reloadUrl)) {
    problems.add(
      'reloadUrl',
      `must be an http:// or https:// URL inside the pod (127.0.0.1, localhost or [::1]); got "${reloadUrl}"`,
    );
  }
  const region = optString(raw, 'region', 'region', problems);
  const failoverRegion = optString(raw, 'failoverRegion', 'failoverRegion', problems);
  if (failoverRegion !== undefined && failoverRegion === region) {
    problems.add('failoverRegion', 'must differ from region');
  }
  return {
    ...(region === undefined ? {} : { region }),
    ...(failoverRegion === undefined ? {} : { failoverRegion }),
    ...(reloadUrl === undefined ? {} : { reloadUrl }),
  };
}

/** Parses and validates a configuration document. Throws one CONFIG_INVALID listing every problem. */
export function parseAgentConfig(raw: unknown): AgentConfig {
  const problems = new Problems();
  if (!isObject(raw)) {
    throw new AgentError('CONFIG_INVALID', 'configuration must be an object with a secrets list');
  }
  checkKeys(raw, CONFIG_FIELDS, '', problems);
  const secrets = parseSecrets(raw, problems);
  const k8sSecret = parseK8sSecret(raw['k8sSecret'], problems);
  secrets.forEach((s, i) => {
    if (s.extract && k8sSecret === undefined) {
      problems.add(`secrets[${i}].extract`, 'needs k8sSecret: extraction writes Secret keys');
    }
  });
  const config: AgentConfig = {
    mode: optEnum(raw, 'mode', MODES, 'mode', problems) ?? DEFAULTS.mode,
    outputDir: optString(raw, 'outputDir', 'outputDir', problems) ?? DEFAULTS.outputDir,
    ...parseTiming(raw, problems),
    httpAddress: optString(raw, 'httpAddress', 'httpAddress', problems) ?? DEFAULTS.httpAddress,
    httpPort: parseHttpPort(raw, problems),
    fileMode: optFileMode(raw, 'fileMode', 'fileMode', problems) ?? DEFAULTS.fileMode,
    terminationLogPath:
      optString(raw, 'terminationLogPath', 'terminationLogPath', problems) ??
      DEFAULTS.terminationLogPath,
    logLevel: optEnum(raw, 'logLevel', LOG_LEVELS, 'logLevel', problems) ?? DEFAULTS.logLevel,
    secrets,
    ...parseOptionalTargets(raw, problems),
    ...(k8sSecret === undefined ? {} : { k8sSecret }),
  };
  if (problems.list.length > 0) {
    throw new AgentError(
      'CONFIG_INVALID',
      `invalid agent configuration:\n  ${problems.list.join('\n  ')}`,
    );
  }
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
