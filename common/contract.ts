/**
 * The annotations, in one table: for each, which field of the agent's configuration it sets (or
 * that it reaches the agent as an environment variable, or stays with the injector), how its
 * text is read, its default, its bound and what the documentation says of it. The injector's
 * keys, its per-secret parsers and its naming of the schema's problems by annotation are derived
 * from it, and the tests hold docs/annotations.md and docs/limits.md to it.
 *
 * The rules stay in the agent's schema (config.ts): a row points at the field the schema checks
 * and states the schema's bounds from its LIMITS and DEFAULTS, never a copy of them.
 */
import { DEFAULTS, LIMITS, type SecretInput } from './config.ts';
import { formatDuration } from './duration.ts';
import { samePath, type FieldPath } from './field.ts';
import { SOURCE_ANNOTATION_PREFIX, type SourceKind } from './source-ids.ts';
import { booleanProblem, parseBooleanText, quote } from './values.ts';

/** How an annotation's text becomes its field's value (the schema then checks the value). */
export const VALUE_PARSES = ['text', 'trimmed', 'boolean', 'port'] as const;
export type ValueParse = (typeof VALUE_PARSES)[number];

/** What docs/annotations.md and docs/limits.md say of an annotation. */
interface Documented {
  /** The "in short" column. */
  readonly doc: string;
  /** The default, as the documentation states it ("—": none). */
  readonly default: string;
  /** The bound the agent's schema enforces, in the documentation's words (docs/limits.md). */
  readonly bound?: string;
}

/** An annotation that sets a field of the agent's configuration, which the schema checks. */
export interface ConfigRow extends Documented {
  readonly reach: 'config';
  /** The field's path in the configuration (`['k8sSecret', 'name']`). */
  readonly config: readonly [string, ...string[]];
  readonly parse: ValueParse;
  /**
   * Pointless in init mode (fetched once): admission warns, and an agent container in init mode
   * does not get the field.
   */
  readonly sidecarOnly?: true;
  /**
   * The injector decides the field itself from this annotation and more (each container's own
   * mode from the layout; the region from the region chain): it is not copied as the pod set it.
   */
  readonly decided?: true;
  /** The injector's setting (its flag) that applies when the pod sets none. */
  readonly injectorDefault?: 'defaultProxyAddress' | 'defaultUseFipsEndpoint';
  /** Written as the schema's default when the pod sets none, so the pod spec shows it in force. */
  readonly statedDefault?: string;
  /** Only for the agent that serves (the long-running one, or the only one), not its init. */
  readonly served?: true;
  /** Only beside this configuration field when it is set (a port with what listens on it). */
  readonly with?: string;
}

/** An annotation that reaches the agent as an environment variable of its container. */
interface EnvRow extends Documented {
  readonly reach: 'env';
  readonly env: string;
}

/** An annotation the injector uses itself (the pod's layout, mounts, users, resources). */
interface InjectorRow extends Documented {
  readonly reach: 'injector';
  readonly sidecarOnly?: true;
}

export type PodRow = ConfigRow | EnvRow | InjectorRow;

/** A per-secret annotation (`<prefix><name>`): one field of the secret's configuration. */
export interface SecretRow extends Documented {
  readonly field: keyof SecretInput;
  readonly parse: 'text' | 'boolean';
  /** Set on the annotations that name a source: the one they name. */
  readonly source?: SourceKind;
}

const code = (text: string | number): string => `\`${text}\``;
const n = (value: number): string => value.toLocaleString('en-US');
const range = (r: { readonly min: number; readonly max: number }): string =>
  `${code(formatDuration(r.min))} to ${code(formatDuration(r.max))}`;

/** Where the app's containers find the files when `mount-path` does not say. */
export const DEFAULT_MOUNT_PATH = '/secrets';

/** The pod-level annotations, in the documentation's order. */
export const POD_ANNOTATIONS = {
  inject: { reach: 'injector', default: '—', doc: '`"true"` opts in' },
  status: { reach: 'injector', default: '—', doc: 'set by the injector: `injected`' },
  mode: {
    reach: 'config',
    config: ['mode'],
    parse: 'text',
    decided: true,
    default: code(DEFAULTS.mode),
    doc: '`init` or `sidecar`',
  },
  'native-sidecar': {
    reach: 'injector',
    sidecarOnly: true,
    default: '`true` (injector flag)',
    doc: 'whether `sidecar` is a native sidecar',
  },
  'mount-path': {
    reach: 'injector',
    default: code(DEFAULT_MOUNT_PATH),
    doc: 'where the volume is mounted (read-only)',
  },
  containers: {
    reach: 'injector',
    default: 'all',
    doc: 'which containers get the mount and env vars',
  },
  'refresh-interval': {
    reach: 'config',
    config: ['refreshInterval'],
    parse: 'trimmed',
    sidecarOnly: true,
    statedDefault: DEFAULTS.refreshInterval,
    default: code(DEFAULTS.refreshInterval),
    doc: `Go-style duration, from ${range(LIMITS.refreshIntervalMs)}`,
    bound: range(LIMITS.refreshIntervalMs),
  },
  region: {
    reach: 'config',
    config: ['region'],
    parse: 'text',
    decided: true,
    default: 'see below',
    doc: 'AWS region',
    bound: 'an AWS region name',
  },
  'failover-region': {
    reach: 'config',
    config: ['failoverRegion'],
    parse: 'text',
    default: '—',
    doc: 'a second region',
    bound: 'an AWS region name, not the one read first',
  },
  'proxy-address': {
    reach: 'config',
    config: ['proxyAddress'],
    parse: 'text',
    injectorDefault: 'defaultProxyAddress',
    default: 'injector flag, none',
    doc: "HTTP(S) proxy for the agent's AWS calls",
    bound: `\`http(s)://host:port\`, at most ${n(LIMITS.urlLength)}`,
  },
  'use-fips-endpoint': {
    reach: 'config',
    config: ['useFipsEndpoint'],
    parse: 'boolean',
    injectorDefault: 'defaultUseFipsEndpoint',
    default: 'injector flag, `false`',
    doc: 'AWS FIPS endpoints',
  },
  'role-arn': {
    reach: 'env',
    env: 'AWS_ROLE_ARN',
    default: '—',
    doc: 'IRSA for the agent itself',
  },
  'k8s-secret': {
    reach: 'config',
    config: ['k8sSecret', 'name'],
    parse: 'text',
    default: '—',
    doc: 'also write every secret into this Secret',
    bound: `a DNS-1123 subdomain, at most ${LIMITS.secretNameLength} characters`,
  },
  'reload-url': {
    reach: 'config',
    config: ['reloadUrl'],
    parse: 'text',
    sidecarOnly: true,
    default: '—',
    doc: 'after files change, `POST` to this URL',
    bound: `\`http(s)\` on loopback, at most ${n(LIMITS.urlLength)}`,
  },
  'local-api': {
    reach: 'config',
    config: ['localApi'],
    parse: 'boolean',
    served: true,
    default: code(String(false)),
    doc: 'also serve the local API (sidecar mode)',
  },
  'local-api-port': {
    reach: 'config',
    config: ['localApiPort'],
    parse: 'port',
    served: true,
    with: 'localApi',
    default: code(DEFAULTS.localApiPort),
    doc: "the local API's port",
    bound: `${LIMITS.localApiPort.min} to ${LIMITS.localApiPort.max}, not the agent's health port`,
  },
  'agent-cpu-request': { reach: 'injector', default: '`10m`', doc: "the agent's CPU request" },
  'agent-memory-request': {
    reach: 'injector',
    default: '`32Mi`',
    doc: "the agent's memory request",
  },
  'agent-cpu-limit': { reach: 'injector', default: 'none', doc: "the agent's CPU limit" },
  'agent-memory-limit': {
    reach: 'injector',
    default: '`64Mi`',
    doc: "the agent's memory limit",
  },
  'run-as-user': { reach: 'injector', default: 'see _Files and users_', doc: "the agent's user" },
  'run-as-group': {
    reach: 'injector',
    default: 'see _Files and users_',
    doc: "the agent's group",
  },
} as const satisfies Readonly<Record<string, PodRow>>;

export type PodKey = keyof typeof POD_ANNOTATIONS;
type PodRows = typeof POD_ANNOTATIONS;
/** The pod-level annotations that set a field of the agent's configuration. */
export type ConfigPodKey = {
  [K in PodKey]: PodRows[K]['reach'] extends 'config' ? K : never;
}[PodKey];
/** The pod-level annotations only the injector reads (it parses each with a rule of its own). */
export type InjectorPodKey = Exclude<PodKey, ConfigPodKey>;
/** The top-level configuration fields the pod-level annotations set. */
export type PodConfigField = PodRows[ConfigPodKey] extends infer R
  ? R extends { readonly config: readonly [infer F, ...unknown[]] }
    ? F
    : never
  : never;

/** The pod-level annotations, in order. */
export const POD_KEYS = Object.keys(POD_ANNOTATIONS) as PodKey[];

const S = SOURCE_ANNOTATION_PREFIX;
const perSecretBound = (what: string, max: number): string => `${what}, at most ${n(max)}`;

/** The per-secret annotations, each `<prefix><name>`, in the documentation's order. */
export const SECRET_ANNOTATIONS = {
  [S.secretsmanager]: {
    field: 'id',
    parse: 'text',
    source: 'secretsmanager',
    default: '—',
    doc: "a Secrets Manager secret's name or ARN",
    bound: perSecretBound('name or ARN characters', LIMITS.secretIdLength),
  },
  [S.parameter]: {
    field: 'id',
    parse: 'text',
    source: 'parameter',
    default: '—',
    doc: "an SSM parameter's name or ARN",
    bound: perSecretBound('a parameter name or its ARN', LIMITS.parameterNameLength),
  },
  [S.path]: {
    field: 'id',
    parse: 'text',
    source: 'path',
    default: '—',
    doc: 'every parameter under an SSM path',
    bound: `starts with \`/\`, 15 levels, ${n(LIMITS.parameterPathLength)} characters`,
  },
  [S.find]: {
    field: 'id',
    parse: 'text',
    source: 'find',
    default: '—',
    doc: 'every secret whose name starts with this prefix',
    bound: perSecretBound('secret name characters', LIMITS.findPrefixLength),
  },
  'find-tag-': {
    field: 'tag',
    parse: 'text',
    default: '—',
    doc: 'with `find-<name>`: only secrets carrying this tag',
    bound: `key at most ${LIMITS.tagKeyLength} characters, value ${LIMITS.tagValueLength}`,
  },
  'key-': {
    field: 'key',
    parse: 'text',
    default: '—',
    doc: 'JMESPath selecting one value from a JSON secret',
    bound: `compiles as JMESPath, at most ${LIMITS.keyLength / 1024} KiB`,
  },
  'template-': {
    field: 'template',
    parse: 'text',
    default: '—',
    doc: "`{{ field }}` template over the JSON secret's fields",
    bound: `compiles, at most ${LIMITS.templateLength / 1024} KiB`,
  },
  'format-': {
    field: 'format',
    parse: 'text',
    default: code(DEFAULTS.format),
    doc: '`raw`, `json`, `yaml`, `dotenv`, `env`, `properties`',
  },
  'version-stage-': {
    field: 'versionStage',
    parse: 'text',
    default: '`AWSCURRENT`',
    doc: 'e.g. `AWSPREVIOUS`',
    bound: `at most ${LIMITS.versionStageLength} characters`,
  },
  'version-id-': {
    field: 'versionId',
    parse: 'text',
    default: '—',
    doc: 'pin one version',
    bound: `${LIMITS.versionIdLength.min} to ${LIMITS.versionIdLength.max} characters`,
  },
  'perms-': {
    field: 'mode',
    parse: 'text',
    default: code(`0${DEFAULTS.fileMode.toString(8)}`),
    doc: 'octal file mode',
    bound: 'octal, readable by someone',
  },
  'extract-': {
    field: 'extract',
    parse: 'boolean',
    default: code(String(false)),
    doc: 'with `k8s-secret`: one key per top-level JSON field',
  },
} as const satisfies Readonly<Record<string, SecretRow>>;

export type SecretPrefix = keyof typeof SECRET_ANNOTATIONS;

/** `env-<VAR>`: an env var of the target containers, from the `k8s-secret` Secret. */
export const ENV_ANNOTATION = {
  prefix: 'env-',
  default: '—',
  doc: 'env var `VAR` from the `k8s-secret` Secret',
} as const;

/**
 * The per-secret prefixes, longest first, so `version-stage-x` is not read as something shorter
 * (and `find-tag-x` is the tag of `find-x`, never a find named `tag-x`).
 */
export const SECRET_PREFIXES = (Object.keys(SECRET_ANNOTATIONS) as SecretPrefix[]).sort(
  (a, b) => b.length - a.length,
);

/** The annotation each secret configuration field comes from (name, source, id: `secret-`). */
export const SECRET_FIELD_PREFIX = secretFieldPrefixes();

function secretFieldPrefixes(): Readonly<Record<keyof SecretInput, SecretPrefix>> {
  const prefixes: Partial<Record<keyof SecretInput, SecretPrefix>> = {
    name: S.secretsmanager,
    source: S.secretsmanager,
  };
  for (const [prefix, row] of Object.entries(SECRET_ANNOTATIONS) as [SecretPrefix, SecretRow][])
    prefixes[row.field] ??= prefix;
  return prefixes as Record<keyof SecretInput, SecretPrefix>;
}

/**
 * The pod-level annotation that sets the configuration field at `path`, or the object holding it
 * (`k8sSecret` is `k8s-secret`'s); undefined for what the injector sets itself (the Secret's
 * owners, its namespace, the output directory).
 */
export function podKeyForField(path: FieldPath): PodKey | undefined {
  if (path.length === 0) return undefined;
  for (const [key, row] of Object.entries(POD_ANNOTATIONS) as [PodKey, PodRow][])
    if (row.reach === 'config' && samePath(path, row.config.slice(0, path.length))) return key;
  return undefined;
}

/** The rows of the pod-level annotations that set a field of the configuration, in order. */
export const CONFIG_ROWS = POD_KEYS.flatMap((key) => {
  const row: PodRow = POD_ANNOTATIONS[key];
  return row.reach === 'config' ? [row] : [];
});

/** The annotations that do nothing in init mode. */
export const SIDECAR_ONLY_KEYS = (Object.entries(POD_ANNOTATIONS) as [PodKey, PodRow][])
  .filter(([, row]) => row.reach !== 'env' && row.sidecarOnly === true)
  .map(([key]) => key);

/** An annotation's text read as its parse says: the value, or what is wrong with the text. */
export function parseValue(
  parse: ValueParse,
  text: string,
): { readonly value: string | boolean | number } | { readonly problem: string } {
  switch (parse) {
    case 'text':
      return { value: text };
    case 'trimmed':
      return { value: text.trim() };
    case 'boolean': {
      const value = parseBooleanText(text);
      return value === undefined ? { problem: booleanProblem(text) } : { value };
    }
    case 'port':
      return /^\d{1,5}$/.test(text)
        ? { value: Number(text) }
        : { problem: `must be a port number such as ${DEFAULTS.localApiPort}; got ${quote(text)}` };
  }
}

/** The schema's bounds on what no annotation sets directly, as docs/limits.md states them. */
export const CONFIG_ONLY_BOUNDS: readonly (readonly [field: string, bound: string])[] = [
  ['`initTimeout`', range(LIMITS.initTimeoutMs)],
  ['`requestTimeout`', range(LIMITS.requestTimeoutMs)],
  ['sources per pod (`secrets`)', `${LIMITS.secrets.min} to ${LIMITS.secrets.max}`],
  [
    '`<name>` (`secrets[].name`)',
    `\`[A-Za-z0-9][A-Za-z0-9._-]*\`, at most ${LIMITS.fileNameLength} characters`,
  ],
  ['items of one `path-` or `find-`', `at most ${n(LIMITS.directoryItems)} files`],
  ['`fileMode`', 'octal, readable by someone'],
  ['`k8sSecret.owners`', `at most ${LIMITS.secretOwners} owner references`],
  ['`outputDir`, `terminationLogPath`', `at most ${n(LIMITS.pathLength)} characters`],
];
