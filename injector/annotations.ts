/**
 * Parses a pod's `secrets-agent.io/` annotations into types, once. What is about annotations or
 * the pod is checked here (key names, booleans, mount paths, containers, env vars, resources,
 * users); every rule about the agent's configuration lives in the agent's own schema
 * (common/config.ts): the annotations are mapped onto a configuration, the schema checks it, and
 * each of its problems is named by the annotation its field came from. Every problem is
 * collected, so a denial lists everything at once. Defaults that depend on the injector's
 * settings (native sidecar, resources, the default region) are decided in plan.ts; nothing is
 * ever written back into the annotations.
 */
import Handlebars from 'handlebars';
import { compile as compileJmesPath } from '@jmespath-community/jmespath';
import { checkAgentConfig, LIMITS, type AgentConfigInput, type Mode } from '../common/config.ts';
import { isObject } from '../common/json.ts';
import { isSecretKey, SECRET_KEY_RULE } from '../common/kube.ts';
import { templateEnvironment } from '../common/template.ts';
import { AGENT_NAMES, ANNOTATION_PREFIX, STATUS_INJECTED, selectTargets } from './types.ts';
import type { Annotations, Container, EnvVar, Pod, Result } from './types.ts';
import { ENV_PREFIX, POD_KEYS, SECRET_PREFIXES, type PodKey, type SecretPrefix } from './keys.ts';
import { suggestKey } from './suggest.ts';
import { optInOf, optInProblem } from './opt-in.ts';
import { toProblem } from './field-annotations.ts';
import { finishSecrets, SECRET_FIELD_PARSERS, type SecretDraft } from './secret-fields.ts';
import { tokenEnvCollision } from './local-api.ts';
import {
  DEFAULT_MOUNT_PATH,
  POD_ANNOTATIONS,
  parseValue,
  SIDECAR_ONLY_KEYS,
  type ConfigPodKey,
  type InjectorPodKey,
  type PodConfigField,
} from '../common/contract.ts';
import { Collector, formatProblem, parseBoolean, quote, type Problem } from './problems.ts';

export { Collector, formatProblem, parseBoolean, type Problem };

export interface EnvAnnotation {
  /** The environment variable. */
  readonly name: string;
  /** The key in the `k8s-secret` Secret. */
  readonly key: string;
}

export const RESOURCE_ANNOTATIONS = {
  'agent-cpu-request': { kind: 'requests', resource: 'cpu' },
  'agent-memory-request': { kind: 'requests', resource: 'memory' },
  'agent-cpu-limit': { kind: 'limits', resource: 'cpu' },
  'agent-memory-limit': { kind: 'limits', resource: 'memory' },
} as const;
export type ResourceAnnotation = keyof typeof RESOURCE_ANNOTATIONS;

/**
 * The agent configuration the annotations ask for, as the agent's schema accepted it: the
 * secrets, and the settings the pod chooses (refresh interval, regions, reload URL, Secret).
 * The injector adds its own (mode, output directory, port) per agent container.
 */
export type AnnotatedConfig = Pick<AgentConfigInput, 'secrets' | Exclude<PodConfigField, 'mode'>>;

export interface OptedIn {
  readonly inject: true;
  /** The pod carries `status: injected` (a reinvocation or a re-admission). */
  readonly injected: boolean;
  readonly mode: Mode;
  readonly nativeSidecar?: boolean;
  readonly mountPath: string;
  /** Undefined: all containers and init containers. */
  readonly containers?: readonly string[];
  readonly roleArn?: string;
  readonly resources: Readonly<Partial<Record<ResourceAnnotation, string>>>;
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly config: Readonly<AnnotatedConfig>;
  /** The `k8s-secret` Secret's name. */
  readonly k8sSecret?: string;
  readonly env: readonly EnvAnnotation[];
  /** Accepted but pointless settings, reported to the user as admission warnings. */
  readonly warnings: readonly string[];
}

export type ParsedAnnotations = { readonly inject: false } | OptedIn;

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The name part of an annotation key: Kubernetes' qualified-name rule. */
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Kubernetes quantities: a plain or decimal number with an SI, binary-SI or exponent suffix. */
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][-+]?\d+)?$/;
const MAX_UID = 2_147_483_647;
/** What the schema checks templates and `key` expressions with; every pod needs both here. */
export const ENGINES = {
  templates: templateEnvironment(Handlebars),
  jmespath: { compile: compileJmesPath },
};

/** What the pod-level annotations set. */
interface Draft {
  mode: Mode;
  /** The `mode` annotation as written: the schema decides whether it is a mode. */
  modeText?: string;
  nativeSidecar?: boolean;
  mountPath: string;
  containers?: string[];
  roleArn?: string;
  resources: Partial<Record<ResourceAnnotation, string>>;
  runAsUser?: number;
  runAsGroup?: number;
  /** Annotation values that go into the agent's configuration as they are. */
  config: Omit<AnnotatedConfig, 'secrets'>;
}

/**
 * Parses the annotations. With `pod`, also checks them against it (container names, mount
 * paths, env vars the containers already set). A pod that did not opt in is never looked at.
 */
export function parseAnnotations(
  annotations: Annotations | undefined,
  pod?: Pod,
): Result<ParsedAnnotations, readonly Problem[]> {
  const own = ownAnnotations(annotations ?? {});
  const inject = own.get('inject');
  if (optInOf(inject) === 'out') return { ok: true, value: { inject: false } };
  const out = new Collector();
  if (tooMany(own, out)) return { ok: false, problems: out.problems };
  // A value other than "true" is a problem, and so is everything else wrong: all at once.
  const wrong = optInProblem(inject);
  if (wrong !== undefined) out.add('invalid', 'inject', wrong, inject);
  const parsed = parseOptedIn(own, out);
  if (pod !== undefined) checkAgainstPod(parsed, pod, out);
  return out.count > 0 ? { ok: false, problems: out.problems } : { ok: true, value: parsed };
}

function ownAnnotations(annotations: Annotations): Map<string, string> {
  const own = new Map<string, string>();
  for (const [key, value] of Object.entries(annotations)) {
    if (key.startsWith(ANNOTATION_PREFIX)) own.set(key.slice(ANNOTATION_PREFIX.length), value);
  }
  return own;
}

const POD_KEY_SET: ReadonlySet<string> = new Set(POD_KEYS);

function parseOptedIn(own: ReadonlyMap<string, string>, out: Collector): OptedIn {
  const draft: Draft = {
    mode: 'sidecar',
    mountPath: DEFAULT_MOUNT_PATH,
    resources: {},
    config: {},
  };
  const secrets = new Map<string, SecretDraft>();
  const env: EnvAnnotation[] = [];
  for (const [key, value] of own) {
    if (tooLong(key, value, out)) continue;
    if (POD_KEY_SET.has(key)) parsePodKey(key as PodKey, value, draft, out);
    else if (key.startsWith(ENV_PREFIX)) parseEnv(key, value, env, out);
    else if (!parseSecretKey(key, value, secrets, out))
      out.add('unknown', key, () => unknownKeyMessage(key));
  }
  const config: AnnotatedConfig = { ...draft.config, secrets: finishSecrets(secrets, out) };
  for (const p of checkAnnotatedConfig(config, draft)) out.push(p);
  checkCrossFields(draft, env, out);
  return {
    inject: true,
    injected: own.get('status') === STATUS_INJECTED,
    ...podSettings(draft),
    config,
    ...(config.k8sSecret === undefined ? {} : { k8sSecret: config.k8sSecret.name }),
    env,
    warnings: warningsFor(draft, own),
  };
}

/** The draft's pod-level settings (everything but the configuration fields). */
function podSettings(draft: Draft): Omit<Draft, 'config'> {
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(draft)) if (key !== 'config') settings[key] = value;
  return settings as Omit<Draft, 'config'>;
}

/**
 * Annotation values are bounded before any parser sees them: the webhook reads bodies of up to
 * 3 MiB (it runs before the API server's own annotation size check), and a denial quotes values.
 * The agent's schema bounds each configuration value more tightly where it needs to; its
 * longest value (a template) is the bound here, so no value the schema accepts is refused first.
 */
export const MAX_VALUE_LENGTH = LIMITS.templateLength;

/**
 * The most `secrets-agent.io/` annotations one pod has, and the most of them that are `env-`:
 * every one is parsed, checked and (env vars) added to each target container, so the number of
 * them, not only their size, is bounded before any is parsed. 200 sources (the schema's bound)
 * with a few options each fit.
 */
export const MAX_OWN_ANNOTATIONS = 1024;
export const MAX_ENV_ANNOTATIONS = 64;
/** Kubernetes' bound on the name part of an annotation key (after the `/`). */
export const MAX_KEY_NAME_LENGTH = 63;

function tooMany(own: ReadonlyMap<string, string>, out: Collector): boolean {
  let env = 0;
  for (const key of own.keys()) if (key.startsWith(ENV_PREFIX)) env++;
  if (own.size > MAX_OWN_ANNOTATIONS)
    out.add(
      'too-many',
      'inject',
      `the pod has ${own.size} ${ANNOTATION_PREFIX} annotations; at most ${MAX_OWN_ANNOTATIONS} are allowed`,
    );
  else if (env > MAX_ENV_ANNOTATIONS)
    out.add(
      'too-many',
      ENV_PREFIX.slice(0, -1),
      `the pod has ${env} ${ANNOTATION_PREFIX}${ENV_PREFIX}<VAR> annotations; at most ${MAX_ENV_ANNOTATIONS} are allowed`,
    );
  return out.count > 0;
}

function tooLong(key: string, value: string, out: Collector): boolean {
  if (value.length <= MAX_VALUE_LENGTH) return false;
  out.add(
    'too-long',
    key,
    `is ${value.length} characters long; at most ${MAX_VALUE_LENGTH} are allowed`,
    value,
  );
  return true;
}

// ---------------------------------------------------------------------------------------------
// The agent's configuration, checked by its own schema

/**
 * The schema's problems with the annotated configuration, named by annotation. The `mode`
 * annotation is checked with it: the pod's choice of layout, read into the draft once the schema
 * accepts it (the injector writes each agent container's own mode itself, plan.ts).
 */
function checkAnnotatedConfig(config: AnnotatedConfig, draft: Draft): Problem[] {
  // An absent mode stays absent: the schema reads `undefined` as not given.
  const checked = checkAgentConfig({ ...config, mode: draft.modeText }, ENGINES);
  if (checked.ok) draft.mode = checked.config.mode;
  return checked.ok ? [] : checked.problems.map((p) => toProblem(p, config.secrets));
}

// ---------------------------------------------------------------------------------------------
// Pod-level keys

type PodKeyParser = (value: string, draft: Draft, out: Collector, key: PodKey) => void;

/** The annotations only the injector reads, each with its own rule. */
const INJECTOR_PARSERS: Readonly<Record<InjectorPodKey, PodKeyParser>> = {
  inject: () => undefined,
  // Written by the injector itself; any value is accepted so a hand-edited pod is not denied.
  status: () => undefined,
  'native-sidecar': (v, d, out, k) => {
    const b = parseBoolean(v, k, out);
    if (b !== undefined) d.nativeSidecar = b;
  },
  'mount-path': (v, d, out, k) => {
    const path = parseMountPath(v, k, out);
    if (path !== undefined) d.mountPath = path;
  },
  containers: (v, d, out, k) => {
    const names = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (names.length === 0)
      out.add('required', k, 'must name at least one container (comma-separated)');
    else d.containers = [...new Set(names)];
  },
  'role-arn': (v, d, out, k) => {
    if (ROLE_ARN.test(v)) d.roleArn = v;
    else
      out.add(
        'invalid',
        k,
        `must be an IAM role ARN such as arn:aws:iam::111122223333:role/app; got ${quote(v)}`,
        v,
      );
  },
  'agent-cpu-request': parseQuantity,
  'agent-memory-request': parseQuantity,
  'agent-cpu-limit': parseQuantity,
  'agent-memory-limit': parseQuantity,
  'run-as-user': (v, d, out, k) => {
    const id = parseId(v, k, out);
    if (id !== undefined) d.runAsUser = id;
  },
  'run-as-group': (v, d, out, k) => {
    const id = parseId(v, k, out);
    if (id !== undefined) d.runAsGroup = id;
  },
};

/**
 * An annotation that sets a field of the agent's configuration: its text read as the contract
 * says, the value then checked by the schema with the rest (checkAnnotatedConfig).
 */
function configParser(key: ConfigPodKey): PodKeyParser {
  const row = POD_ANNOTATIONS[key];
  return (value, draft, out) => {
    const parsed = parseValue(row.parse, value);
    if ('problem' in parsed) out.add('invalid', key, parsed.problem, value);
    else setField(draft.config, row.config, parsed.value);
  };
}

/** Sets the field at `path` (`['k8sSecret', 'name']`), making the objects on the way. */
function setField(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (rest.length === 0) target[head] = value;
  else {
    const inner = target[head];
    const next: Record<string, unknown> = isObject(inner) ? inner : {};
    target[head] = next;
    setField(next, rest, value);
  }
}

const POD_KEY_PARSERS: Readonly<Record<PodKey, PodKeyParser>> = {
  ...(Object.fromEntries(
    POD_KEYS.flatMap((key) =>
      POD_ANNOTATIONS[key].reach === 'config' ? [[key, configParser(key as ConfigPodKey)]] : [],
    ),
  ) as Record<ConfigPodKey, PodKeyParser>),
  ...INJECTOR_PARSERS,
  // The pod's layout: the schema checks it with the configuration (checkAnnotatedConfig), and
  // the injector writes each agent container's own mode (plan.ts).
  mode: (v, d) => Object.assign(d, { modeText: v }),
};

function parsePodKey(key: PodKey, value: string, draft: Draft, out: Collector): void {
  POD_KEY_PARSERS[key](value, draft, out, key);
}

/**
 * Directories the kubelet or the container runtime own (`/proc`, `/sys`, `/dev` and everything
 * under them, the termination log among them), and the system directories a mount would hide
 * whole: the container would fail to start, or start broken, long after admission.
 */
const SYSTEM_TREES = ['/proc', '/sys', '/dev'];
const SYSTEM_DIRS = [
  '/bin',
  '/boot',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/root',
  '/run',
  '/sbin',
  '/usr',
  '/usr/bin',
  '/usr/lib',
  '/usr/lib64',
  '/usr/local',
  '/usr/local/bin',
  '/usr/sbin',
  '/var',
  '/var/lib',
];
/** Symbolic links most images have: a path under one is checked as the path it leads to. */
const SYSTEM_LINKS: Readonly<Record<string, string>> = {
  '/var/run': '/run',
  '/var/lock': '/run/lock',
};
const MAX_MOUNT_PATH = 1024;

/**
 * A path as the kernel resolves it, without following links: repeated slashes are one, a
 * trailing one none (`//usr//bin/` is `/usr/bin`). "." and ".." are refused before this.
 */
export function normalPath(path: string): string {
  return `/${path
    .split('/')
    .filter((part) => part !== '')
    .join('/')}`;
}

/** The path through the links of SYSTEM_LINKS: `/var/run/x` is `/run/x`. */
function resolvedPath(path: string): string {
  for (const [link, target] of Object.entries(SYSTEM_LINKS))
    if (path === link || path.startsWith(`${link}/`)) return `${target}${path.slice(link.length)}`;
  return path;
}

function mountPathProblem(
  value: string,
): readonly [kind: 'invalid' | 'too-long' | 'forbidden', message: string] | undefined {
  if (!value.startsWith('/')) return ['invalid', 'must be an absolute path such as /secrets'];
  if (value.length > MAX_MOUNT_PATH)
    return ['too-long', `must be at most ${MAX_MOUNT_PATH} characters long`];
  if (value.split('/').some((part) => part === '..' || part === '.'))
    return ['invalid', 'must not contain "." or ".." segments'];
  // eslint-disable-next-line no-control-regex
  if (/[\s:\u0000-\u001f\u007f]/.test(value))
    return ['invalid', 'must not contain spaces, control characters or ":"'];
  return systemPathProblem(resolvedPath(normalPath(value)));
}

/** A well-formed path that is still no place for the volume: the runtime's, or a system one. */
function systemPathProblem(path: string): readonly ['forbidden', string] | undefined {
  if (path === '/') return ['forbidden', 'must not be the root directory'];
  const tree = SYSTEM_TREES.find((t) => path === t || path.startsWith(`${t}/`));
  if (tree !== undefined)
    return ['forbidden', `must not be ${tree} or under it (the container runtime owns it)`];
  if (SYSTEM_DIRS.includes(path))
    return ['forbidden', `must not be ${path}: the mount would hide the whole directory`];
  return undefined;
}

/** The mount path, normalised (normalPath): the one the patch carries and every check compares. */
function parseMountPath(value: string, key: string, out: Collector): string | undefined {
  const problem = mountPathProblem(value);
  if (problem === undefined) return normalPath(value);
  const [kind, message] = problem;
  out.add(kind, key, `${message}; got ${quote(value)}`, value);
  return undefined;
}

function parseQuantity(value: string, draft: Draft, out: Collector, key: PodKey): void {
  if (QUANTITY.test(value)) draft.resources[key as ResourceAnnotation] = value;
  else
    out.add(
      'invalid',
      key,
      `must be a Kubernetes quantity such as ${key.includes('cpu') ? '50m or 0.5' : '64Mi or 1Gi'}; got ${quote(value)}`,
      value,
    );
}

function parseId(value: string, key: string, out: Collector): number | undefined {
  const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  if (Number.isInteger(n) && n >= 1 && n <= MAX_UID) return n;
  out.add(
    'invalid',
    key,
    `must be a numeric id from 1 to ${MAX_UID} (the agent never runs as root); got ${quote(value)}`,
    value,
  );
  return undefined;
}

/** The value of a Kubernetes quantity, for comparing a request with a limit. */
export function quantityValue(text: string): number {
  const match = QUANTITY.exec(text);
  if (match === null) return NaN;
  const base = Number(match[1]);
  const suffix = match[3] ?? '';
  const binary = ['Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'].indexOf(suffix);
  if (binary >= 0) return base * 1024 ** (binary + 1);
  const decimal = ['k', 'M', 'G', 'T', 'P', 'E'].indexOf(suffix);
  if (decimal >= 0) return base * 1000 ** (decimal + 1);
  if (suffix === 'm') return base / 1000;
  if (suffix.startsWith('e') || suffix.startsWith('E')) return base * 10 ** Number(suffix.slice(1));
  return base;
}

// ---------------------------------------------------------------------------------------------
// Per-secret keys and env vars

function parseEnv(key: string, value: string, env: EnvAnnotation[], out: Collector): void {
  const name = key.slice(ENV_PREFIX.length);
  if (!ENV_NAME.test(name)) {
    out.add(
      'invalid',
      key,
      `"${name}" is not a valid environment variable name (letters, digits and "_", not starting with a digit)`,
    );
  } else if (!isSecretKey(value)) {
    out.add(
      'invalid',
      key,
      `must name a key of the k8s-secret Secret (${SECRET_KEY_RULE}); got ${quote(value)}`,
      value,
    );
  } else env.push({ name, key: value });
}

function splitSecretKey(key: string): { prefix: SecretPrefix; name: string } | undefined {
  const prefix = SECRET_PREFIXES.find((p) => key.startsWith(p));
  return prefix === undefined ? undefined : { prefix, name: key.slice(prefix.length) };
}

/** Returns false when the key is not a per-secret key at all. */
function parseSecretKey(
  key: string,
  value: string,
  secrets: Map<string, SecretDraft>,
  out: Collector,
): boolean {
  const split = splitSecretKey(key);
  if (split === undefined) return false;
  const { prefix, name } = split;
  if (name === '') {
    out.add(
      'required',
      key,
      `needs a name after "${prefix}", as in ${ANNOTATION_PREFIX}${prefix}db`,
    );
    return true;
  }
  // The file name's own rule is the schema's; the annotation key's length is Kubernetes'.
  if (!QUALIFIED_NAME.test(key)) {
    out.add(
      'invalid',
      key,
      `"${name}" is not a valid secret file name (letters, digits, ".", "_", "-"; starting and ending with a letter or digit; the key at most 63 characters)`,
    );
    return true;
  }
  const draft = secrets.get(name) ?? {};
  secrets.set(name, draft);
  SECRET_FIELD_PARSERS[prefix](value, draft, out, key);
  return true;
}

function checkCrossFields(draft: Draft, env: readonly EnvAnnotation[], out: Collector): void {
  if (draft.config.k8sSecret === undefined) {
    for (const e of env)
      out.add(
        'forbidden',
        `${ENV_PREFIX}${e.name}`,
        `needs ${ANNOTATION_PREFIX}k8s-secret: the variable is read from that Secret`,
      );
  }
  checkRequestsWithinLimits(draft, out);
}

function checkRequestsWithinLimits(draft: Draft, out: Collector): void {
  for (const resource of ['cpu', 'memory'] as const) {
    const request = draft.resources[`agent-${resource}-request`];
    const limit = draft.resources[`agent-${resource}-limit`];
    if (
      request !== undefined &&
      limit !== undefined &&
      quantityValue(request) > quantityValue(limit)
    ) {
      out.add(
        'invalid',
        `agent-${resource}-request`,
        `${request} is more than ${ANNOTATION_PREFIX}agent-${resource}-limit ${limit}`,
      );
    }
  }
}

function warningsFor(draft: Draft, own: ReadonlyMap<string, string>): string[] {
  if (draft.mode !== 'init') return [];
  const pointless = SIDECAR_ONLY_KEYS.filter((k) => own.has(k));
  return pointless.map(
    (k) => `${ANNOTATION_PREFIX}${k} has no effect in init mode (secrets are fetched once)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Against the pod

function checkAgainstPod(parsed: OptedIn, pod: Pod, out: Collector): void {
  const targets = selectTargets(pod, parsed.containers);
  if (targets.missing.length > 0) {
    const have = targets.all.map((c) => c.name).join(', ');
    out.add(
      'unknown',
      'containers',
      `no container or init container named ${targets.missing.map((n) => `"${n}"`).join(', ')} (the pod has: ${have})`,
    );
  }
  if (!parsed.injected) checkReservedNames(pod, out);
  else checkInjectedParts(pod, out);
  for (const c of targets.all) checkOwnVolumeMounts(c, parsed, targets.selected.includes(c), out);
  for (const c of targets.selected) {
    checkMountCollision(c, parsed.mountPath, out);
    // One pass over the container's env, whatever the number of env- annotations.
    const existing = firstByName(c.env ?? [], new Set(parsed.env.map((e) => e.name)));
    for (const e of parsed.env)
      checkEnvCollision(c, e, existing.get(e.name), parsed.k8sSecret, out);
    const tokenProblem = parsed.config.localApi === true && tokenEnvCollision(c, parsed.mountPath);
    if (typeof tokenProblem === 'string') out.add('duplicate', 'local-api', tokenProblem);
  }
}

/**
 * A pod that says it was injected must hold the injector's parts as the injector makes them: a
 * pod author who sets `status: injected` by hand must not get a `secrets-agent` volume of another
 * kind, or an agent container with a command of its own or privileges, past the
 * checks above.
 */
function checkInjectedParts(pod: Pod, out: Collector): void {
  if (pod.spec.containers.some((c) => c.name === AGENT_NAMES.init))
    // Never the injector's doing (its init container is an init container): a hand-edited pod.
    out.add(
      'forbidden',
      'status',
      `says injected, but "${AGENT_NAMES.init}" is a regular container`,
    );
  const kinds: Readonly<Record<string, string>> = {
    [AGENT_NAMES.volume]: 'emptyDir',
    [AGENT_NAMES.tokenVolume]: 'projected',
  };
  for (const v of pod.spec.volumes ?? []) {
    const kind = kinds[v.name];
    const other = Object.keys(v).filter((k) => k !== 'name' && k !== kind);
    if (kind !== undefined && other.length > 0)
      out.add(
        'forbidden',
        'status',
        `says injected, but volume "${v.name}" is not the injector's (it has ${other.join(', ')})`,
      );
  }
  const agents = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].filter(
    (c) => c.name === AGENT_NAMES.sidecar || c.name === AGENT_NAMES.init,
  );
  for (const c of agents) {
    const wrong = foreignAgentFields(c);
    if (wrong.length > 0)
      out.add(
        'forbidden',
        'status',
        `says injected, but container ${quote(c.name)} is not the injector's (it sets ${wrong.join(', ')})`,
      );
  }
}

/** What the injector never puts into its own container. */
function foreignAgentFields(c: Container): string[] {
  const sc = c.securityContext;
  const wrong: string[] = [];
  // The injector's containers run the image's entrypoint: any command is someone else's.
  if (c.command !== undefined) wrong.push('command');
  if (sc?.['privileged'] === true) wrong.push('securityContext.privileged');
  if ((sc?.capabilities?.add ?? []).length > 0) wrong.push('securityContext.capabilities.add');
  if (sc?.allowPrivilegeEscalation === true) wrong.push('securityContext.allowPrivilegeEscalation');
  if (sc?.runAsNonRoot === false || sc?.runAsUser === 0) wrong.push('a root user');
  return wrong;
}

/**
 * Only the injector mounts its volume: read-only at the mount path in the target containers.
 * An app's own mount of it (writable, elsewhere, or in a container that is not a target) would
 * make another writer of the agent's files.
 */
function checkOwnVolumeMounts(
  c: Container,
  parsed: OptedIn,
  target: boolean,
  out: Collector,
): void {
  if (c.name === AGENT_NAMES.sidecar || c.name === AGENT_NAMES.init) return;
  for (const m of c.volumeMounts ?? []) {
    if (m.name !== AGENT_NAMES.volume) continue;
    const ours =
      parsed.injected &&
      target &&
      m.readOnly === true &&
      normalPath(m.mountPath) === parsed.mountPath;
    if (!ours)
      out.add(
        'forbidden',
        'inject',
        `container ${quote(c.name)} mounts volume "${AGENT_NAMES.volume}" itself; the injector adds that mount (read-only): remove it`,
      );
  }
}

/** Before injection, the injector's names must be free; after it, they are the injector's own. */
function checkReservedNames(pod: Pod, out: Collector): void {
  const containers = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].map(
    (c) => c.name,
  );
  for (const name of [AGENT_NAMES.sidecar, AGENT_NAMES.init]) {
    if (containers.includes(name))
      out.add(
        'duplicate',
        'inject',
        `the pod already has a container named "${name}", a name the injector needs`,
      );
  }
  const volumes = (pod.spec.volumes ?? []).map((v) => v.name);
  for (const name of [AGENT_NAMES.volume, AGENT_NAMES.tokenVolume]) {
    if (volumes.includes(name))
      out.add(
        'duplicate',
        'inject',
        `the pod already has a volume named "${name}", a name the injector needs`,
      );
  }
}

/**
 * The same path is invalid; a parent or a child is as bad: a mount point inside a read-only
 * mount (ours, or a ConfigMap's) cannot be created, and the one on top hides part of the other.
 */
function checkMountCollision(c: Container, mountPath: string, out: Collector): void {
  for (const m of c.volumeMounts ?? []) {
    if (m.name === AGENT_NAMES.volume) continue;
    const path = normalPath(m.mountPath);
    const where =
      path === mountPath
        ? `at ${mountPath}`
        : mountPath.startsWith(path === '/' ? '/' : `${path}/`)
          ? `at ${path}, a parent of ${mountPath}`
          : path.startsWith(`${mountPath}/`)
            ? `at ${path}, inside ${mountPath}`
            : undefined;
    if (where !== undefined)
      out.add(
        'duplicate',
        'mount-path',
        `container ${quote(c.name)} already mounts volume ${quote(m.name)} ${where}; choose another path`,
      );
  }
}

/** The first item of each name asked for, in one pass over the list. */
function firstByName<T extends { readonly name: string }>(
  list: readonly T[],
  names: ReadonlySet<string>,
): Map<string, T> {
  const found = new Map<string, T>();
  for (const item of list)
    if (names.has(item.name) && !found.has(item.name)) found.set(item.name, item);
  return found;
}

function checkEnvCollision(
  c: Container,
  e: EnvAnnotation,
  existing: EnvVar | undefined,
  k8sSecret: string | undefined,
  out: Collector,
): void {
  if (existing === undefined) return;
  const ref = existing.valueFrom?.secretKeyRef;
  const ours = ref !== undefined && ref.name === k8sSecret && ref.key === e.key;
  if (!ours)
    out.add(
      'duplicate',
      `${ENV_PREFIX}${e.name}`,
      `container ${quote(c.name)} already sets ${e.name}; remove one of the two`,
    );
}

// ---------------------------------------------------------------------------------------------
// Did you mean

function unknownKeyMessage(key: string): string {
  // `secret` alone: the name after the dash was forgotten.
  const bare = [...SECRET_PREFIXES, ENV_PREFIX].find((p) => key === p.slice(0, -1));
  if (bare !== undefined)
    return `needs a name after "${bare}", as in ${ANNOTATION_PREFIX}${bare}db`;
  // Suggestions cost a comparison per known key and split point: only for a key Kubernetes allows.
  if (key.length > MAX_KEY_NAME_LENGTH)
    return `is not a valid annotation key: the name after ${ANNOTATION_PREFIX} is at most ${MAX_KEY_NAME_LENGTH} characters`;
  const suggestion = suggestKey(key);
  if (suggestion !== undefined)
    return `unknown annotation; did you mean ${ANNOTATION_PREFIX}${suggestion}?`;
  return 'unknown annotation (see docs/annotations.md)';
}
