/**
 * The parts of the Kubernetes Pod API the injector reads and writes, readonly. Objects arriving
 * from the API server carry many more fields; the index signatures keep them typed as unknown
 * so a spread copies them through untouched. `parsePod` checks the shape of every field the
 * injector reads, once, at the boundary.
 */

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

/** The agent's own entry in the image (build.ts: the agent alone, nothing of the injector). */
export const AGENT_ENTRY = '/app/dist/agent.js';

/**
 * V8 flags of the injected agents, in their command where the pod spec shows them. A sidecar
 * stays: `--lite-mode` (no optimizing compiler, feedback allocated lazily) takes ~8 MiB off its
 * working set, and it waits on the network, not on JavaScript. An init agent exits within a
 * second: the flag's ~20 ms of CPU at start would cost more than its memory saves.
 * (bench/memory.ts, bench/startup.ts, docs/performance.md.)
 */
export const AGENT_NODE_FLAGS = Object.freeze({
  init: Object.freeze([] as string[]),
  sidecar: Object.freeze(['--lite-mode']),
}) satisfies Readonly<Record<'init' | 'sidecar', readonly string[]>>;

/** The command of an agent container the injector writes, by how long the agent runs. */
export function agentCommand(runs: keyof typeof AGENT_NODE_FLAGS): readonly string[] {
  return ['node', ...AGENT_NODE_FLAGS[runs], AGENT_ENTRY];
}

/** Whether a container's command is one the injector writes (the only ones it accepts back). */
export function isAgentCommand(command: readonly string[]): boolean {
  const key = command.join('\0');
  return (['init', 'sidecar'] as const).some((runs) => agentCommand(runs).join('\0') === key);
}

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

const CONTAINER_SHAPE = objectShape(
  { env: 'all', volumeMounts: 'all', securityContext: 'all', ports: 'all' },
  isAgentPart,
);

/**
 * The parts of a pod the injector reads, for the reader of an AdmissionReview's text
 * (partial-json.ts): what `parsePod` checks below, and the parts the injector lays its own over
 * (its containers and volumes, by name), whole. Strings, numbers and booleans are always read;
 * any other object or array stays text, never looked into, and goes into the patch as it came.
 * A field the injector starts to read is added here and to the checks below.
 */
export const POD_SHAPE: Shape = objectShape({
  metadata: objectShape({ annotations: 'all', ownerReferences: 'all' }),
  spec: objectShape({
    containers: { items: CONTAINER_SHAPE },
    initContainers: { items: CONTAINER_SHAPE },
    // The secrets-agent volume is AGENT_NAMES.volume, the same name as the sidecar.
    volumes: { items: objectShape({}, isAgentPart) },
    securityContext: 'all',
  }),
});

function checkOptional(
  obj: Obj,
  key: string,
  type: 'string' | 'number' | 'boolean' | 'object' | 'array',
  path: string,
  problems: string[],
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

function checkNamedList(
  value: unknown,
  path: string,
  problems: string[],
  extra?: (item: Obj, at: string) => void,
): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    problems.push(`${path} must be an array`);
    return;
  }
  value.forEach((item: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!isRecord(item) || typeof item['name'] !== 'string') {
      problems.push(`${at}.name must be a string`);
      return;
    }
    extra?.(item, at);
  });
}

/** An optional list of objects (a container's ports: the injector compares their numbers). */
function checkObjectList(value: unknown, path: string, problems: string[]): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) problems.push(`${path} must be an array`);
  else {
    const i = value.findIndex((item) => !isRecord(item));
    if (i >= 0) problems.push(`${path}[${i}] must be an object`);
  }
}

function checkContainer(c: Obj, at: string, problems: string[]): void {
  checkNamedList(c['env'], `${at}.env`, problems);
  checkNamedList(c['volumeMounts'], `${at}.volumeMounts`, problems, (m, mat) => {
    if (typeof m['mountPath'] !== 'string') problems.push(`${mat}.mountPath must be a string`);
  });
  checkObjectList(c['ports'], `${at}.ports`, problems);
  checkOptional(c, 'securityContext', 'object', at, problems);
  const sc = c['securityContext'];
  if (isRecord(sc)) {
    checkOptional(sc, 'runAsUser', 'number', `${at}.securityContext`, problems);
    checkOptional(sc, 'runAsGroup', 'number', `${at}.securityContext`, problems);
  }
}

function checkMetadata(meta: unknown, problems: string[]): void {
  if (meta === undefined) return;
  if (!isRecord(meta)) {
    problems.push('metadata must be an object');
    return;
  }
  for (const key of ['name', 'generateName', 'namespace'] as const)
    checkOptional(meta, key, 'string', 'metadata', problems);
  const annotations = meta['annotations'];
  if (annotations !== undefined) {
    if (!isRecord(annotations) || Object.values(annotations).some((v) => typeof v !== 'string')) {
      problems.push('metadata.annotations must map strings to strings');
    }
  }
  checkNamedList(meta['ownerReferences'], 'metadata.ownerReferences', problems);
}

/** Checks the fields the injector reads and returns the object typed as a Pod. Throws PodShapeError. */
export function parsePod(raw: unknown): Pod {
  const problems: string[] = [];
  if (!isRecord(raw)) throw new PodShapeError(['must be an object']);
  checkMetadata(raw['metadata'], problems);
  const spec = raw['spec'];
  if (!isRecord(spec)) throw new PodShapeError([...problems, 'spec must be an object']);
  if (!Array.isArray(spec['containers'])) problems.push('spec.containers must be an array');
  checkNamedList(spec['containers'], 'spec.containers', problems, (c, at) =>
    checkContainer(c, at, problems),
  );
  checkNamedList(spec['initContainers'], 'spec.initContainers', problems, (c, at) =>
    checkContainer(c, at, problems),
  );
  checkNamedList(spec['volumes'], 'spec.volumes', problems);
  checkOptional(spec, 'securityContext', 'object', 'spec', problems);
  checkOptional(spec, 'restartPolicy', 'string', 'spec', problems);
  checkOptional(spec, 'automountServiceAccountToken', 'boolean', 'spec', problems);
  const psc = spec['securityContext'];
  if (isRecord(psc)) {
    checkOptional(psc, 'runAsUser', 'number', 'spec.securityContext', problems);
    checkOptional(psc, 'runAsGroup', 'number', 'spec.securityContext', problems);
  }
  if (problems.length > 0) throw new PodShapeError(problems);
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
