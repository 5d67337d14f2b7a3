/**
 * The agent's configuration: the document the injector writes into the agent container's args
 * and that users write by hand to run the agent on ECS, a VM or docker compose.
 *
 * This schema is the one home of every rule about a configuration. The agent parses its
 * configuration with it once, at start; the injector maps a pod's annotations onto a
 * configuration and asks the same validator, translating each problem's field path
 * (`secrets[2].format`) back to the annotation it came from. So the injector admits exactly
 * what the agent accepts. The result is frozen. docs/agent.md ("Agent configuration")
 * documents the same schema; its tables are config-doc.ts written out.
 */
import { parseDuration } from './duration.ts';
import { AgentError } from './errors.ts';
import { isObject, type JsonObject } from './json.ts';
import { isPodLocalUrl, quote, region } from './values.ts';
import {
  checkKeys,
  optDuration,
  optEnum,
  optFileMode,
  optString,
  Problems,
  type FieldCtx,
} from './config-fields.ts';
import { checkRegions } from './region.ts';
import * as transport from './config-transport.ts';

export { proxyAddressProblem, regionProblem } from './values.ts';
export {
  configProblemMessage,
  formatConfigProblem,
  type ConfigProblem,
  type ProblemSink,
} from './config-problem.ts';
import { formatConfigProblem, saidOf, type ConfigProblem } from './config-problem.ts';
import { child, index, ROOT, type FieldPath } from './field.ts';
import { OWNERS_LIMIT, parseOwners, type SecretOwner } from './config-owners.ts';
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain } from './kube.ts';
import * as ids from './source-ids.ts';
import { loadJmesPath, type JmesPath } from './jmespath.ts';
import { plainKeyPath } from './key-path.ts';
import {
  loadTemplateEngine,
  plainTemplate,
  templateChecker,
  type TemplateEngine,
} from './template.ts';

export const MODES = ['init', 'sidecar'] as const;
export type Mode = (typeof MODES)[number];

export const FORMATS = ['raw', 'json', 'yaml', 'dotenv', 'env', 'properties'] as const;
export type Format = (typeof FORMATS)[number];

export { SOURCES, type SourceKind } from './source-ids.ts';
type SourceKind = ids.SourceKind;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type ConfigLogLevel = (typeof LOG_LEVELS)[number];

/** File names: letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Every bound on a configuration value, in one place. Durations in milliseconds, lengths in
 * characters. docs/limits.md lists them.
 */
export const LIMITS = {
  refreshIntervalMs: { min: 5_000, max: 24 * 3_600_000 },
  initTimeoutMs: { min: 1_000, max: 3_600_000 },
  requestTimeoutMs: { min: 100, max: 5 * 60_000 },
  secrets: { min: 1, max: 200 },
  fileNameLength: 200,
  /** Secrets Manager's own limit on a SecretId. */
  secretIdLength: 2048,
  versionStageLength: 256,
  versionIdLength: { min: 32, max: 64 },
  /** SSM's own limit on a parameter name or ARN (with a `:version` or `:label` selector). */
  parameterNameLength: 2048,
  /** SSM's own limit on a GetParametersByPath path. */
  parameterPathLength: 2048,
  /** Secrets Manager's limit on a filter value (a `find` prefix, a tag key=value). */
  findPrefixLength: 512,
  tagKeyLength: 128,
  tagValueLength: 256,
  /** A Kubernetes Secret's name (a DNS-1123 subdomain). */
  secretNameLength: 253,
  /** Files one directory source may hold (a path or find matching more is an error). */
  directoryItems: 1000,
  keyLength: 4096,
  templateLength: 16_384,
  urlLength: 2048,
  pathLength: 4096,
  /** The local API's port: unprivileged, so the agent needs no capability to bind it. */
  localApiPort: { min: 1024, max: 65535 },
  /** Owners of the Kubernetes Secret one agent names (config-owners.ts). */
  secretOwners: OWNERS_LIMIT,
} as const;

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
  localApiPort: 2773,
} as const;

export interface SecretSpec {
  /** The file name under outputDir, and the Secret key with k8sSecret. */
  readonly name: string;
  /** Where the value comes from (see SOURCES); absent means secretsmanager. */
  readonly source?: SourceKind;
  /**
   * secretsmanager: the secret's name, full ARN or partial ARN. parameter: the parameter's name
   * or ARN, optionally with `:version` or `:label`. path: the SSM path. find: the name prefix.
   */
  readonly id: string;
  /** find: only secrets carrying this tag. */
  readonly tag?: { readonly key: string; readonly value: string };
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
  /**
   * What owns the pod (its controller, as the injector saw it at admission): a Secret the agent
   * created gets these as owner references, so Kubernetes deletes it when they are all gone.
   */
  readonly owners?: readonly SecretOwner[];
}

export type { SecretOwner } from './config-owners.ts';

export interface AgentConfig extends transport.TransportConfig {
  readonly mode: Mode;
  readonly outputDir: string;
  readonly refreshIntervalMs: number;
  readonly initTimeoutMs: number;
  /** One AWS call's timeout (each call is made once; the agent's loop retries). */
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
  /** Serve the AWS Secrets Manager Agent's HTTP protocol on 127.0.0.1 (sidecar mode only). */
  readonly localApi: boolean;
  readonly localApiPort: number;
  readonly secrets: readonly SecretSpec[];
}

/** One secret as written in a configuration document. */
export interface SecretInput {
  name: string;
  /** Absent: secretsmanager. */
  source?: string;
  id: string;
  /** find: `key=value`. */
  tag?: string;
  versionStage?: string;
  versionId?: string;
  key?: string;
  template?: string;
  format?: string;
  mode?: string;
  extract?: boolean;
}

/** The config as written in a file or argument (durations as strings, modes as octal). */
export interface AgentConfigInput extends transport.TransportInput {
  mode?: string;
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
  logLevel?: string;
  reloadUrl?: string;
  k8sSecret?: { name: string; namespace?: string; owners?: SecretOwner[] };
  localApi?: boolean;
  localApiPort?: number;
  secrets: SecretInput[];
}

export const CONFIG_FIELDS = [
  'mode',
  'outputDir',
  'refreshInterval',
  'initTimeout',
  'requestTimeout',
  'region',
  'failoverRegion',
  ...transport.TRANSPORT_FIELDS,
  'httpAddress',
  'httpPort',
  'fileMode',
  'terminationLogPath',
  'logLevel',
  'reloadUrl',
  'k8sSecret',
  'localApi',
  'localApiPort',
  'secrets',
] as const;
export const SECRET_FIELDS = [
  'name',
  'source',
  'id',
  'tag',
  'versionStage',
  'versionId',
  'key',
  'template',
  'format',
  'mode',
  'extract',
] as const;

export type ConfigCheck =
  | { readonly ok: true; readonly config: AgentConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** The context every field check gets. */
interface Ctx extends FieldCtx {
  readonly problems: Problems;
  /** Why a template does not compile (templateChecker), where the engine is loaded. */
  readonly templateProblem: ((source: string) => string | undefined) | undefined;
  /** The JMESPath engine, where loaded: a `key` that is not plain needs it. */
  readonly jmespath: Pick<JmesPath, 'compile'> | undefined;
  /** Whether the document names a Kubernetes Secret (which `extract` needs). */
  readonly k8sSecret: boolean;
}

const SECRETS: FieldPath = ['secrets'];
const K8S_SECRET: FieldPath = ['k8sSecret'];

const SECRET_ID = /^[A-Za-z0-9/_+=.@:-]+$/;
const VERSION_STAGE = /^[A-Za-z0-9_.-]+$/;
const VERSION_ID = /^[A-Za-z0-9-]+$/;

function fileName(value: string): string | undefined {
  return FILE_NAME.test(value)
    ? undefined
    : `${quote(value)} is not a valid file name (letters, digits, ".", "_", "-"; starting with a letter or digit)`;
}

function secretId(value: string): string | undefined {
  return SECRET_ID.test(value)
    ? undefined
    : `must be a Secrets Manager secret name or ARN (letters, digits, "/_+=.@:-"); got ${quote(value)}`;
}

function jmesPath(ctx: Ctx): (value: string) => string | undefined {
  return (value) => {
    if (plainKeyPath(value) !== undefined) return undefined;
    if (ctx.jmespath === undefined) throw new Error('the JMESPath engine was not loaded');
    try {
      ctx.jmespath.compile(value);
      return undefined;
    } catch (err) {
      // Lexer and parser messages quote only the expression, which is configuration.
      return `is not a valid JMESPath expression: ${err instanceof Error ? err.message : String(err)}`;
    }
  };
}

function template(ctx: Ctx): (value: string) => string | undefined {
  return (value) => {
    if (plainTemplate(value) !== undefined) return undefined;
    if (ctx.templateProblem === undefined) throw new Error('the template engine was not loaded');
    const problem = ctx.templateProblem(value);
    return problem === undefined ? undefined : `is not a valid template: ${problem}`;
  };
}

/** name, source and id: which secret, from where, and which file. */
function parseIdentity(
  raw: JsonObject,
  path: FieldPath,
  ctx: Ctx,
): { name?: string; id?: string; source: SourceKind } {
  for (const field of ['name', 'id'] as const) {
    if (raw[field] === undefined) ctx.problems.add('required', child(path, field), 'is required');
  }
  const source = optEnum(raw, 'source', ids.SOURCES, path, ctx) ?? 'secretsmanager';
  const name = optString(raw, 'name', path, ctx, LIMITS.fileNameLength, fileName);
  const rule = ids.idRule(source, LIMITS, secretId);
  const id = optString(raw, 'id', path, ctx, rule.max, rule.check);
  return { source, ...(name === undefined ? {} : { name }), ...(id === undefined ? {} : { id }) };
}

/** tag (find only), and no version on anything but a Secrets Manager secret. */
function parseSourceOptions(
  raw: JsonObject,
  source: SourceKind,
  path: FieldPath,
  ctx: Ctx,
): Pick<SecretSpec, 'tag'> {
  for (const field of ['versionStage', 'versionId'] as const)
    if (source !== 'secretsmanager' && raw[field] !== undefined)
      ctx.problems.add('forbidden', child(path, field), ids.versionProblem(source));
  if (raw['tag'] === undefined) return {};
  if (source !== 'find') {
    ctx.problems.add('forbidden', child(path, 'tag'), 'applies to find sources only');
    return {};
  }
  let tag: { key: string; value: string } | undefined;
  optString(raw, 'tag', path, ctx, LIMITS.tagKeyLength + LIMITS.tagValueLength + 1, (v) => {
    const parsed = ids.parseTag(v, LIMITS);
    if (typeof parsed === 'string') return parsed;
    tag = parsed;
    return undefined;
  });
  return tag === undefined ? {} : { tag };
}

/** Which version: a stage, an id. */
function parseVersion(
  raw: JsonObject,
  path: FieldPath,
  ctx: Ctx,
): Pick<SecretSpec, 'versionStage' | 'versionId'> {
  const versionStage = optString(raw, 'versionStage', path, ctx, LIMITS.versionStageLength, (v) =>
    VERSION_STAGE.test(v)
      ? undefined
      : `must be a version stage such as AWSCURRENT or AWSPREVIOUS; got ${quote(v)}`,
  );
  const { min, max } = LIMITS.versionIdLength;
  const versionId = optString(raw, 'versionId', path, ctx, max, (v) =>
    VERSION_ID.test(v) && v.length >= min
      ? undefined
      : `must be a version id (${min} to ${max} letters, digits or "-"); got ${quote(v)}`,
  );
  return {
    ...(versionStage === undefined ? {} : { versionStage }),
    ...(versionId === undefined ? {} : { versionId }),
  };
}

/** key, template and format: how the value becomes the file. */
function parseRendering(
  raw: JsonObject,
  path: FieldPath,
  ctx: Ctx,
): Pick<SecretSpec, 'key' | 'template' | 'format'> {
  const key = optString(raw, 'key', path, ctx, LIMITS.keyLength, jmesPath(ctx));
  const tpl = optString(raw, 'template', path, ctx, LIMITS.templateLength, template(ctx));
  const format = optEnum(raw, 'format', FORMATS, path, ctx) ?? DEFAULTS.format;
  if (raw['key'] !== undefined && raw['template'] !== undefined) {
    ctx.problems.add(
      'forbidden',
      child(path, 'template'),
      'cannot be combined with {0}: a template already selects fields',
      child(path, 'key'),
    );
  }
  if (raw['template'] !== undefined && format !== 'raw') {
    ctx.problems.add(
      'forbidden',
      child(path, 'format'),
      'must be raw (or absent) with {0}: the template is the format',
      child(path, 'template'),
    );
  }
  return {
    format,
    ...(key === undefined ? {} : { key }),
    ...(tpl === undefined ? {} : { template: tpl }),
  };
}

function parseSecret(raw: unknown, path: FieldPath, ctx: Ctx): SecretSpec | undefined {
  if (!isObject(raw)) {
    ctx.problems.add('invalid', path, 'must be an object with at least name and id');
    return undefined;
  }
  checkKeys(raw, SECRET_FIELDS, path, ctx);
  const { name, id, source } = parseIdentity(raw, path, ctx);
  const rendering = parseRendering(raw, path, ctx);
  const version = parseVersion(raw, path, ctx);
  const options = parseSourceOptions(raw, source, path, ctx);
  const extract = raw['extract'];
  if (extract !== undefined && typeof extract !== 'boolean') {
    ctx.problems.add('invalid', child(path, 'extract'), 'must be true or false');
  } else if (extract === true && !ctx.k8sSecret) {
    ctx.problems.add(
      'forbidden',
      child(path, 'extract'),
      'needs {0}: extraction writes keys of a Kubernetes Secret',
      K8S_SECRET,
    );
  }
  const mode = optFileMode(raw, 'mode', path, ctx);
  if (name === undefined || id === undefined) return undefined;
  return {
    name,
    ...(source === 'secretsmanager' ? {} : { source }),
    id,
    ...options,
    ...rendering,
    ...version,
    extract: extract === true,
    ...(mode === undefined ? {} : { mode }),
  };
}

function parseK8sSecret(raw: unknown, ctx: Ctx): K8sSecretTarget | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) {
    ctx.problems.add('invalid', K8S_SECRET, 'must be an object with a name');
    return undefined;
  }
  checkKeys(raw, ['name', 'namespace', 'owners'], K8S_SECRET, ctx);
  const objectName = (what: string) => (value: string) =>
    isDnsSubdomain(value)
      ? undefined
      : `${quote(value)} is not a valid Kubernetes ${what} name (${DNS_SUBDOMAIN_RULE})`;
  if (raw['name'] === undefined)
    ctx.problems.add('required', child(K8S_SECRET, 'name'), 'is required');
  const name = optString(
    raw,
    'name',
    K8S_SECRET,
    ctx,
    LIMITS.secretNameLength,
    objectName('Secret'),
  );
  const namespace = optString(raw, 'namespace', K8S_SECRET, ctx, 63, objectName('namespace'));
  const owners = parseOwners(raw['owners'], namespace !== undefined, ctx.problems);
  if (name === undefined) return undefined;
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(owners === undefined || owners.length === 0 ? {} : { owners }),
  };
}

/** localApi and its port: an unprivileged port, not the status server's, sidecar mode only. */
function parseLocalApi(
  raw: JsonObject,
  ctx: Ctx,
  local: Pick<AgentConfig, 'mode' | 'httpPort'>,
): Pick<AgentConfig, 'localApi' | 'localApiPort'> {
  const { localApi: on = false, localApiPort: port = DEFAULTS.localApiPort } = raw;
  const { min, max } = LIMITS.localApiPort;
  if (typeof on !== 'boolean') ctx.problems.add('invalid', ['localApi'], 'must be true or false');
  const portOk = typeof port === 'number' && Number.isInteger(port) && port >= min && port <= max;
  if (!portOk)
    ctx.problems.add(
      'invalid',
      ['localApiPort'],
      saidOf(`must be a port from ${min} to ${max}; got ${quote(port)}`, port),
    );
  if (on === true && portOk && local.httpPort !== 0 && port === local.httpPort)
    ctx.problems.add(
      'duplicate',
      ['localApiPort'],
      `${port} is taken by the agent's health and metrics port`,
    );
  if (on === true && local.mode !== 'sidecar')
    ctx.problems.add(
      'forbidden',
      ['localApi'],
      'is served in sidecar mode only: an init container exits before the app starts',
    );
  return { localApi: on === true, localApiPort: portOk ? port : DEFAULTS.localApiPort };
}

function parseHttpPort(raw: JsonObject, ctx: Ctx): number {
  const value = raw['httpPort'];
  if (value === undefined) return DEFAULTS.httpPort;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    ctx.problems.add(
      'invalid',
      ['httpPort'],
      saidOf(`must be a port number from 0 (off) to 65535; got ${quote(value)}`, value),
    );
    return DEFAULTS.httpPort;
  }
  return value;
}

function parseTiming(
  raw: JsonObject,
  ctx: Ctx,
): Pick<AgentConfig, 'refreshIntervalMs' | 'initTimeoutMs' | 'requestTimeoutMs'> {
  const ms = (text: string): number => parseDuration(text) ?? 0;
  return {
    refreshIntervalMs:
      optDuration(
        raw,
        'refreshInterval',
        ctx,
        LIMITS.refreshIntervalMs,
        ' (every refresh is a paid AWS call)',
      ) ?? ms(DEFAULTS.refreshInterval),
    initTimeoutMs:
      optDuration(raw, 'initTimeout', ctx, LIMITS.initTimeoutMs) ?? ms(DEFAULTS.initTimeout),
    requestTimeoutMs:
      optDuration(raw, 'requestTimeout', ctx, LIMITS.requestTimeoutMs) ??
      ms(DEFAULTS.requestTimeout),
  };
}

function parseSecrets(raw: JsonObject, ctx: Ctx): SecretSpec[] {
  const list = raw['secrets'];
  const { min, max } = LIMITS.secrets;
  if (!Array.isArray(list) || list.length < min) {
    ctx.problems.add('required', SECRETS, 'must list at least one secret');
    return [];
  }
  if (list.length > max) {
    ctx.problems.add(
      'too-many',
      SECRETS,
      `lists ${list.length} secrets; at most ${max} are allowed`,
    );
    return [];
  }
  const secrets: SecretSpec[] = [];
  const seen = new Map<string, number>();
  list.forEach((item: unknown, i) => {
    const spec = parseSecret(item, index(SECRETS, i), ctx);
    if (spec === undefined) return;
    const first = seen.get(spec.name);
    if (first === undefined) seen.set(spec.name, i);
    else
      ctx.problems.add(
        'duplicate',
        child(index(SECRETS, i), 'name'),
        saidOf(`${quote(spec.name)} is already used by {0}`, spec.name),
        child(index(SECRETS, first), 'name'),
      );
    secrets.push(spec);
  });
  return secrets;
}

/** region, failoverRegion, reloadUrl: the optional top-level strings with rules of their own. */
function parseTargets(
  raw: JsonObject,
  ctx: Ctx,
): Pick<AgentConfig, 'region' | 'failoverRegion' | 'reloadUrl'> {
  const reloadUrl = optString(raw, 'reloadUrl', ROOT, ctx, LIMITS.urlLength, (v) =>
    isPodLocalUrl(v)
      ? undefined
      : `must be an http:// or https:// URL inside the pod (127.0.0.1, localhost or [::1]); got ${quote(v)}`,
  );
  const primary = optString(raw, 'region', ROOT, ctx, 64, region('us-east-1'));
  const failoverRegion = optString(raw, 'failoverRegion', ROOT, ctx, 64, region('us-west-2'));
  checkRegions(raw['region'], failoverRegion, raw['secrets'], ctx.problems);
  return {
    ...(primary === undefined ? {} : { region: primary }),
    ...(failoverRegion === undefined ? {} : { failoverRegion }),
    ...(reloadUrl === undefined ? {} : { reloadUrl }),
  };
}

/** The local settings: where files, logs and the status server go. */
function parseLocal(
  raw: JsonObject,
  ctx: Ctx,
): Pick<
  AgentConfig,
  'mode' | 'outputDir' | 'httpAddress' | 'httpPort' | 'fileMode' | 'terminationLogPath' | 'logLevel'
> {
  return {
    mode: optEnum(raw, 'mode', MODES, ROOT, ctx) ?? DEFAULTS.mode,
    outputDir: optString(raw, 'outputDir', ROOT, ctx, LIMITS.pathLength) ?? DEFAULTS.outputDir,
    httpAddress: optString(raw, 'httpAddress', ROOT, ctx, 255) ?? DEFAULTS.httpAddress,
    httpPort: parseHttpPort(raw, ctx),
    fileMode: optFileMode(raw, 'fileMode', ROOT, ctx) ?? DEFAULTS.fileMode,
    terminationLogPath:
      optString(raw, 'terminationLogPath', ROOT, ctx, LIMITS.pathLength) ??
      DEFAULTS.terminationLogPath,
    logLevel: optEnum(raw, 'logLevel', LOG_LEVELS, ROOT, ctx) ?? DEFAULTS.logLevel,
  };
}

/**
 * Whether a configuration document holds a template that is not plain (common/template.ts), so
 * the template engine is needed to check it.
 */
export function needsTemplateEngine(raw: unknown): boolean {
  return someSecret(raw, (s) => s['template'] !== undefined && !isPlain(s['template']));
}

function isPlain(template: unknown): boolean {
  return typeof template === 'string' && plainTemplate(template) !== undefined;
}

/**
 * Whether a configuration document holds a `key` that is not plain (common/key-path.ts), so the
 * JMESPath engine is needed to check it.
 */
export function needsJmesPath(raw: unknown): boolean {
  return someSecret(
    raw,
    (s) => typeof s['key'] === 'string' && plainKeyPath(s['key']) === undefined,
  );
}

/**
 * Whether any secret of a document passes `test`. A parsed configuration is such a document
 * too: the renderer asks the same two questions of its specs (agent/render.ts prepareRenderer).
 */
function someSecret(raw: unknown, test: (secret: JsonObject) => boolean): boolean {
  const secrets = isObject(raw) ? raw['secrets'] : undefined;
  return Array.isArray(secrets) && secrets.some((s) => isObject(s) && test(s));
}

/** The engines a check needs for what is not plain (needsTemplateEngine, needsJmesPath). */
export interface ConfigEngines {
  readonly templates?: TemplateEngine;
  readonly jmespath?: Pick<JmesPath, 'compile'>;
}

/** Loads the engines `raw` needs, and only those. */
export async function configEngines(raw: unknown): Promise<ConfigEngines> {
  const [templates, jmespath] = await Promise.all([
    needsTemplateEngine(raw) ? loadTemplateEngine() : undefined,
    needsJmesPath(raw) ? loadJmesPath() : undefined,
  ]);
  return {
    ...(templates === undefined ? {} : { templates }),
    ...(jmespath === undefined ? {} : { jmespath }),
  };
}

/**
 * Checks a configuration document and collects every problem. `engines` are those its templates
 * and keys need (configEngines; the injector keeps both loaded). The injector only asks whether
 * the agent would accept a document: the configuration is frozen by parseAgentConfig, which the
 * agent runs with, not here.
 */
export function checkAgentConfig(raw: unknown, engines: ConfigEngines = {}): ConfigCheck {
  if (!isObject(raw)) {
    return {
      ok: false,
      problems: [{ kind: 'invalid', path: ROOT, message: 'must be an object with a secrets list' }],
    };
  }
  const ctx: Ctx = {
    problems: new Problems(),
    templateProblem:
      engines.templates === undefined ? undefined : templateChecker(engines.templates),
    jmespath: engines.jmespath,
    k8sSecret: raw['k8sSecret'] !== undefined,
  };
  checkKeys(raw, CONFIG_FIELDS, ROOT, ctx);
  const secrets = parseSecrets(raw, ctx);
  const k8sSecret = parseK8sSecret(raw['k8sSecret'], ctx);
  const local = parseLocal(raw, ctx);
  const config: AgentConfig = {
    ...local,
    ...parseLocalApi(raw, ctx, local),
    ...parseTiming(raw, ctx),
    ...parseTargets(raw, ctx),
    ...transport.parseTransport(raw, LIMITS.urlLength, ctx.problems),
    ...(k8sSecret === undefined ? {} : { k8sSecret }),
    secrets,
  };
  const problems = ctx.problems.list;
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config };
}

/**
 * Parses and validates a configuration document (loading the engines it needs: configEngines).
 * Throws one CONFIG_INVALID listing every problem.
 */
export async function parseAgentConfig(raw: unknown): Promise<AgentConfig> {
  const checked = checkAgentConfig(raw, await configEngines(raw));
  if (checked.ok) return deepFreeze(checked.config);
  const lines = checked.problems.map((p) =>
    p.path.length === 0 ? `configuration ${p.message}` : formatConfigProblem(p),
  );
  throw new AgentError('CONFIG_INVALID', `invalid agent configuration:\n  ${lines.join('\n  ')}`);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
