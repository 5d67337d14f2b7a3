/**
 * The parts of the Kubernetes Pod API the injector reads and writes, readonly. Objects arriving
 * from the API server carry many more fields; the index signatures keep them typed as unknown
 * so a spread copies them through untouched. `parsePod` checks the shape of every field the
 * injector reads, once, at the boundary.
 */

import { Bounded } from './bounded.ts';
import { isRecord, objectShape, type Shape } from './partial-json.ts';

export type Annotations = Readonly<Record<string, string>>;

export interface OwnerReference {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly name: string;
  readonly [key: string]: unknown;
}

export interface ObjectMeta {
  readonly name?: string;
  readonly generateName?: string;
  readonly namespace?: string;
  readonly annotations?: Annotations;
  readonly ownerReferences?: readonly OwnerReference[];
  readonly [key: string]: unknown;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: {
      readonly name: string;
      readonly key: string;
      readonly optional?: boolean;
    };
    readonly fieldRef?: { readonly apiVersion: string; readonly fieldPath: string };
    readonly [key: string]: unknown;
  };
}

export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
  readonly [key: string]: unknown;
}

export interface SecurityContext {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
  readonly seccompProfile?: { readonly type: string };
  readonly [key: string]: unknown;
}

export type ResourceList = Readonly<Record<string, string>>;

export interface ResourceRequirements {
  readonly requests?: ResourceList;
  readonly limits?: ResourceList;
}

export interface Probe {
  readonly httpGet?: {
    readonly path: string;
    readonly port: number | string;
    readonly scheme?: string;
  };
  readonly periodSeconds?: number;
  readonly failureThreshold?: number;
  readonly timeoutSeconds?: number;
  readonly successThreshold?: number;
  readonly initialDelaySeconds?: number;
  readonly [key: string]: unknown;
}

export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol?: string;
}

export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly imagePullPolicy?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly ContainerPort[];
  readonly volumeMounts?: readonly VolumeMount[];
  readonly resources?: ResourceRequirements;
  readonly securityContext?: SecurityContext;
  readonly restartPolicy?: string;
  readonly startupProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly terminationMessagePath?: string;
  readonly terminationMessagePolicy?: string;
  readonly [key: string]: unknown;
}

export interface Volume {
  readonly name: string;
  readonly [key: string]: unknown;
}

export interface PodSecurityContext {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly [key: string]: unknown;
}

export interface PodSpec {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly securityContext?: PodSecurityContext;
  readonly restartPolicy?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly [key: string]: unknown;
}

export interface Pod {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
  readonly spec: PodSpec;
  readonly [key: string]: unknown;
}

/** Names the injector owns inside a pod. */
export const AGENT_NAMES = {
  sidecar: 'secrets-agent',
  init: 'secrets-agent-init',
  volume: 'secrets-agent',
  tokenVolume: 'secrets-agent-token',
  irsaVolume: 'aws-iam-token',
} as const;

/**
 * The agent containers run the image's entrypoint (the CLI, `node /app/dist/cli.js`) and pass
 * args only, this command first: the pod spec shows a command users can run themselves.
 */
export const AGENT_COMMAND = 'agent';

/**
 * NODE_OPTIONS of the injected agents, by how long the agent runs, in the container's env where
 * the pod spec shows it (V8 flags cannot follow the entrypoint). A sidecar stays and waits on
 * the network, not on JavaScript: `--jitless` (V8 interprets, compiles no machine code) takes
 * ~3 MiB off its working set, and a 1 MiB semi-space (young objects collected more often)
 * ~2 MiB more; `--expose-gc` lets it collect its garbage after each refresh (agent/agent.ts
 * collectGarbage), which keeps its working set flat over refreshes instead of growing by a third.
 * An init agent exits within a second and runs with Node's defaults. (bench/memory.ts,
 * bench/startup.ts, docs/performance.md.)
 */
export const AGENT_NODE_OPTIONS = Object.freeze({
  init: undefined,
  sidecar: '--jitless --max-semi-space-size=1 --expose-gc',
}) satisfies Readonly<Record<'init' | 'sidecar', string | undefined>>;

export const ANNOTATION_PREFIX = 'secrets-agent.io/';
export const STATUS_ANNOTATION = `${ANNOTATION_PREFIX}status`;
export const STATUS_INJECTED = 'injected';

export type Result<T, E> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: E };

/** The shape errors of a pod, each naming its path (`spec.containers[1].name`). */
export class PodShapeError extends Error {
  readonly code = 'POD_INVALID';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid pod: ${problems.join('; ')}`);
    this.name = 'PodShapeError';
    this.problems = problems;
  }
}

type Obj = Readonly<Record<string, unknown>>;

const isAgentPart = (value: Obj): boolean =>
  value['name'] === AGENT_NAMES.sidecar ||
  value['name'] === AGENT_NAMES.init ||
  value['name'] === AGENT_NAMES.tokenVolume ||
  value['name'] === AGENT_NAMES.irsaVolume;

/**
 * The most the injector reads of one pod, per list (and the annotations' characters): each
 * list is refused whole, naming the field, before an item past its bound is built. Kubernetes
 * sets no count of its own on these lists (only the size of the object as stored, 1.5 MiB in
 * etcd); these are far above any pod that runs, and keep what one admission builds, checks and
 * copies small whatever the request holds. The annotations' bound is Kubernetes' own
 * (TotalAnnotationSizeLimitB): their names and values together. docs/limits.md lists them.
 */
export const POD_BOUNDS = Object.freeze({
  'metadata.annotations': 256 * 1024,
  'metadata.ownerReferences': 64,
  'spec.containers': 64,
  'spec.initContainers': 64,
  'spec.volumes': 1024,
  'spec.containers[].env': 4096,
  'spec.containers[].volumeMounts': 1024,
  'spec.containers[].ports': 1024,
});

const CONTAINER_SHAPE = objectShape(
  {
    env: { items: 'all', maxItems: POD_BOUNDS['spec.containers[].env'] },
    volumeMounts: { items: 'all', maxItems: POD_BOUNDS['spec.containers[].volumeMounts'] },
    securityContext: 'all',
    ports: { items: 'all', maxItems: POD_BOUNDS['spec.containers[].ports'] },
  },
  isAgentPart,
);

/**
 * The parts of a pod the injector reads, for the reader of an AdmissionReview's text
 * (partial-json.ts): what `parsePod` checks below, and the parts the injector lays its own over
 * (its containers and volumes, by name), whole. Strings, numbers and booleans are always read;
 * any other object or array stays text, never looked into, and goes into the patch as it came.
 * Every list read is bounded (POD_BOUNDS; MAX_BUILT_LIST_ITEMS inside values built whole). A
 * field the injector starts to read is added here and to the checks below.
 */
export const POD_SHAPE: Shape = objectShape({
  metadata: objectShape({
    annotations: { values: 'all', maxLength: POD_BOUNDS['metadata.annotations'] },
    ownerReferences: { items: 'all', maxItems: POD_BOUNDS['metadata.ownerReferences'] },
  }),
  spec: objectShape({
    containers: { items: CONTAINER_SHAPE, maxItems: POD_BOUNDS['spec.containers'] },
    initContainers: { items: CONTAINER_SHAPE, maxItems: POD_BOUNDS['spec.initContainers'] },
    // The secrets-agent volume is AGENT_NAMES.volume, the same name as the sidecar.
    volumes: { items: objectShape({}, isAgentPart), maxItems: POD_BOUNDS['spec.volumes'] },
    securityContext: 'all',
  }),
});

/** A pod's shape problems, each a path and what is wrong: MAX_PROBLEMS kept, the rest counted. */
type ShapeProblems = Bounded<string>;

function checkOptional(
  obj: Obj,
  key: string,
  type: 'string' | 'number' | 'boolean' | 'object' | 'array',
  path: string,
  problems: ShapeProblems,
): void {
  const value = obj[key];
  if (value === undefined) return;
  const ok =
    type === 'array'
      ? Array.isArray(value)
      : type === 'object'
        ? isRecord(value)
        : typeof value === type;
  if (!ok)
    problems.push(
      `${path}.${key} must be ${type === 'array' || type === 'object' ? 'an' : 'a'} ${type}`,
    );
}

/** An optional list within its bound (POD_BOUNDS): the list, or undefined with a problem said. */
function boundedList(
  value: unknown,
  path: string,
  bound: keyof typeof POD_BOUNDS,
  problems: ShapeProblems,
): readonly unknown[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    problems.push(`${path} must be an array`);
    return undefined;
  }
  // The same words as the reader's (partial-json.ts), which refuses such a list before it is built.
  if (value.length > POD_BOUNDS[bound]) {
    problems.push(`${path} has more than ${POD_BOUNDS[bound]} items`);
    return undefined;
  }
  return value as readonly unknown[];
}

function checkNamedList(
  value: unknown,
  path: string,
  bound: keyof typeof POD_BOUNDS,
  problems: ShapeProblems,
  extra?: (item: Obj, at: string) => void,
): void {
  const list = boundedList(value, path, bound, problems);
  list?.forEach((item: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!isRecord(item) || typeof item['name'] !== 'string') {
      problems.push(`${at}.name must be a string`);
      return;
    }
    extra?.(item, at);
  });
}

/** The highest port number. */
const MAX_PORT = 65_535;

/** A container's ports: the injector compares their numbers with its own ports. */
function checkPorts(value: unknown, path: string, problems: ShapeProblems): void {
  const list = boundedList(value, path, 'spec.containers[].ports', problems);
  list?.forEach((item: unknown, i) => {
    const port = isRecord(item) ? item['containerPort'] : undefined;
    if (!isRecord(item)) problems.push(`${path}[${i}] must be an object`);
    else if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > MAX_PORT)
      problems.push(`${path}[${i}].containerPort must be a port number from 1 to ${MAX_PORT}`);
  });
}

function checkContainer(c: Obj, at: string, problems: ShapeProblems): void {
  checkNamedList(c['env'], `${at}.env`, 'spec.containers[].env', problems);
  checkNamedList(
    c['volumeMounts'],
    `${at}.volumeMounts`,
    'spec.containers[].volumeMounts',
    problems,
    (m, mat) => {
      if (typeof m['mountPath'] !== 'string') problems.push(`${mat}.mountPath must be a string`);
    },
  );
  checkPorts(c['ports'], `${at}.ports`, problems);
  checkOptional(c, 'securityContext', 'object', at, problems);
  const sc = c['securityContext'];
  if (isRecord(sc)) {
    checkOptional(sc, 'runAsUser', 'number', `${at}.securityContext`, problems);
    checkOptional(sc, 'runAsGroup', 'number', `${at}.securityContext`, problems);
  }
}

/** Kubernetes' own measure of the annotations: their names and values, together. */
function annotationsLength(annotations: Obj): number {
  let length = 0;
  for (const [k, v] of Object.entries(annotations))
    length += k.length + (typeof v === 'string' ? v.length : 0);
  return length;
}

function checkMetadata(meta: unknown, problems: ShapeProblems): void {
  if (meta === undefined) return;
  if (!isRecord(meta)) {
    problems.push('metadata must be an object');
    return;
  }
  for (const key of ['name', 'generateName', 'namespace'] as const)
    checkOptional(meta, key, 'string', 'metadata', problems);
  const annotations = meta['annotations'];
  if (annotations !== undefined) {
    if (!isRecord(annotations) || Object.values(annotations).some((v) => typeof v !== 'string'))
      problems.push('metadata.annotations must map strings to strings');
    else if (annotationsLength(annotations) > POD_BOUNDS['metadata.annotations'])
      problems.push(
        `metadata.annotations holds more than ${POD_BOUNDS['metadata.annotations']} characters`,
      );
  }
  checkNamedList(
    meta['ownerReferences'],
    'metadata.ownerReferences',
    'metadata.ownerReferences',
    problems,
  );
}

function checkSpec(spec: Obj, problems: ShapeProblems): void {
  if (!Array.isArray(spec['containers'])) problems.push('spec.containers must be an array');
  for (const list of ['containers', 'initContainers'] as const)
    checkNamedList(spec[list], `spec.${list}`, `spec.${list}`, problems, (c, at) =>
      checkContainer(c, at, problems),
    );
  checkNamedList(spec['volumes'], 'spec.volumes', 'spec.volumes', problems);
  checkOptional(spec, 'securityContext', 'object', 'spec', problems);
  checkOptional(spec, 'restartPolicy', 'string', 'spec', problems);
  checkOptional(spec, 'automountServiceAccountToken', 'boolean', 'spec', problems);
  const psc = spec['securityContext'];
  if (isRecord(psc)) {
    checkOptional(psc, 'runAsUser', 'number', 'spec.securityContext', problems);
    checkOptional(psc, 'runAsGroup', 'number', 'spec.securityContext', problems);
  }
}

/**
 * Checks the fields the injector reads, each list within its bound (POD_BOUNDS), and returns
 * the object typed as a Pod. Throws PodShapeError, with MAX_PROBLEMS problems at most.
 */
export function parsePod(raw: unknown): Pod {
  const problems: ShapeProblems = new Bounded();
  const fail = (): never => {
    throw new PodShapeError(problems.list((n) => `and ${n} more`));
  };
  if (!isRecord(raw)) {
    problems.push('must be an object');
    return fail();
  }
  checkMetadata(raw['metadata'], problems);
  const spec = raw['spec'];
  if (!isRecord(spec)) problems.push('spec must be an object');
  else checkSpec(spec, problems);
  if (problems.count > 0) fail();
  return raw as Pod;
}

/** The containers and init containers the user wrote (the agent's own excluded). */
export function appContainers(pod: Pod): {
  readonly containers: readonly Container[];
  readonly initContainers: readonly Container[];
} {
  const isApp = (c: Container): boolean =>
    c.name !== AGENT_NAMES.sidecar && c.name !== AGENT_NAMES.init;
  return {
    containers: pod.spec.containers.filter(isApp),
    initContainers: (pod.spec.initContainers ?? []).filter(isApp),
  };
}

export interface Targets {
  /** Every app container and init container, init containers first. */
  readonly all: readonly Container[];
  /** Those that get the mount and the env vars. */
  readonly selected: readonly Container[];
  /** Names asked for that the pod does not have. */
  readonly missing: readonly string[];
}

/** The target containers: all app containers and init containers, or those named. */
export function selectTargets(pod: Pod, names: readonly string[] | undefined): Targets {
  const app = appContainers(pod);
  const all = [...app.initContainers, ...app.containers];
  if (names === undefined) return { all, selected: all, missing: [] };
  return {
    all,
    selected: all.filter((c) => names.includes(c.name)),
    missing: names.filter((n) => !all.some((c) => c.name === n)),
  };
}
