/**
 * Applies a plan to a pod. Pure: the pod is never written to; the result is a new pod that shares
 * every part it does not change with the admitted one (so the patch diffs only what changed,
 * patch.ts), and builds anew the objects along the paths it changes. Every step "ensures"
 * rather than "adds", so the same pod can pass through any number of times (webhook
 * reinvocation, re-admission of an injected pod) and only what is missing or broken changes:
 * fields another webhook added are kept, fields another webhook stripped from the agent's
 * containers (such as `restartPolicy: Always`, amazon-eks-pod-identity-webhook #208) come back.
 */
import { agentContainer } from './containers.ts';
import type { AgentRole } from './containers.ts';
import { agentIdentity, IDENTITY_ENV } from './identity.ts';
import { RawJson } from './partial-json.ts';
import type { AgentIdentity } from './identity.ts';
import type { Plan } from './plan.ts';
import { AGENT_NAMES, STATUS_ANNOTATION, STATUS_INJECTED } from './types.ts';
import type { Container, EnvVar, ObjectMeta, Pod, PodSpec, Volume } from './types.ts';
import { appEnv, appMount, secretsVolume } from './volume.ts';

export function mutatePod(pod: Pod, plan: Plan): Pod {
  const identity = agentIdentity(pod, plan.roleArn, plan.k8sSecret);
  let spec: PodSpec = withVolumes(pod.spec, [secretsVolume(plan), ...identity.volumes]);
  spec = withAppMountsAndEnv(spec, plan);
  spec = withAgents(spec, plan, identity);
  return { ...pod, metadata: withStatus(pod.metadata), spec };
}

function withStatus(metadata: ObjectMeta | undefined): ObjectMeta {
  return {
    ...metadata,
    annotations: { ...metadata?.annotations, [STATUS_ANNOTATION]: STATUS_INJECTED },
  };
}

function withVolumes(spec: PodSpec, volumes: readonly Volume[]): PodSpec {
  let list = spec.volumes ?? [];
  for (const v of volumes) list = upsert(list, v, 'name');
  return { ...spec, volumes: list };
}

function withAppMountsAndEnv(spec: PodSpec, plan: Plan): PodSpec {
  const mount = appMount(plan);
  const env = appEnv(plan);
  const update = (c: Container): Container => {
    if (!plan.targets.includes(c.name)) return c;
    const envList = replaceOrAppend(c.env ?? [], env);
    const withEnv = envList.length === 0 ? c : { ...c, env: envList };
    return { ...withEnv, volumeMounts: upsert(c.volumeMounts ?? [], mount, 'mountPath') };
  };
  return {
    ...spec,
    containers: spec.containers.map(update),
    ...(spec.initContainers === undefined
      ? {}
      : { initContainers: spec.initContainers.map(update) }),
  };
}

/** The agent containers per layout: init containers go first, a regular sidecar goes last. */
function withAgents(spec: PodSpec, plan: Plan, identity: AgentIdentity): PodSpec {
  const build = (role: AgentRole): Container =>
    agentContainer(
      plan,
      role,
      role === 'init' && plan.initConfig !== undefined ? plan.initConfig : plan.config,
      identity,
    );
  let init = spec.initContainers ?? [];
  let containers = spec.containers;
  switch (plan.layout) {
    case 'init':
      init = ensureFirst(without(init, AGENT_NAMES.sidecar), build('init'));
      containers = without(containers, AGENT_NAMES.sidecar);
      break;
    case 'native':
      init = ensureFirst(without(init, AGENT_NAMES.init), build('native'));
      containers = without(containers, AGENT_NAMES.sidecar);
      break;
    case 'init+sidecar':
      init = ensureFirst(without(init, AGENT_NAMES.sidecar), build('init'));
      containers = ensureLast(containers, build('sidecar'));
      break;
  }
  return { ...spec, initContainers: init, containers };
}

function without(list: readonly Container[], name: string): readonly Container[] {
  return list.filter((c) => c.name !== name);
}

/**
 * Inserts the container first, or overlays it where it already is: another webhook may have
 * put its own init container in front since, and moving ours back would fight it forever.
 */
function ensureFirst(list: readonly Container[], desired: Container): readonly Container[] {
  const i = list.findIndex((c) => c.name === desired.name);
  if (i < 0) return [desired, ...list];
  return list.map((c, j) => (j === i ? (overlay(ownParts(c, desired), desired) as Container) : c));
}

function ensureLast(list: readonly Container[], desired: Container): readonly Container[] {
  const i = list.findIndex((c) => c.name === desired.name);
  if (i < 0) return [...list, desired];
  return list.map((c, j) => (j === i ? (overlay(ownParts(c, desired), desired) as Container) : c));
}

/**
 * What an agent container already in the pod may keep of its env vars and mounts: the
 * injector's own, and what the identity webhooks add to every container (the AWS identity env
 * vars, token mounts under /var/run/secrets). Anything else (a `NODE_OPTIONS` loading code into
 * the agent, a mount of another volume) is dropped: a pod that set `status: injected` itself
 * with an agent container of its own gets the injector's agent, not its author's.
 */
function ownParts(existing: Container, desired: Container): Container {
  const envNames = new Set<string>([...IDENTITY_ENV, ...(desired.env ?? []).map((e) => e.name)]);
  const mountPaths = new Set((desired.volumeMounts ?? []).map((m) => m.mountPath));
  return {
    ...existing,
    ...(existing.env === undefined
      ? {}
      : { env: existing.env.filter((e) => envNames.has(e.name)) }),
    ...(existing.volumeMounts === undefined
      ? {}
      : {
          volumeMounts: existing.volumeMounts.filter(
            (m) => mountPaths.has(m.mountPath) || m.mountPath.startsWith(TOKEN_MOUNTS),
          ),
        }),
  };
}

/** Where the identity webhooks and Kubernetes mount their tokens. */
const TOKEN_MOUNTS = '/var/run/secrets/';

// ---------------------------------------------------------------------------------------------
// Merging, in the spirit of Kubernetes' strategic merge: lists of named things merge by key.

type Plain = Readonly<Record<string, unknown>>;

/** The merge key of the keyed lists found in a container. Other arrays are replaced whole. */
const LIST_KEYS: Readonly<Record<string, string>> = {
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  volumes: 'name',
};

/** A plain object; a RawJson (a part of the pod never read) is a value, laid over whole. */
function isPlain(value: unknown): value is Plain {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof RawJson)
  );
}

/**
 * `desired` laid over `existing`: desired values win, fields only `existing` has are kept (the
 * API server's defaults, other webhooks' additions). Env vars are replaced whole by name, since
 * `value` and `valueFrom` must not mix.
 */
export function overlay(existing: unknown, desired: unknown, field = ''): unknown {
  if (isPlain(existing) && isPlain(desired)) {
    const out: Record<string, unknown> = { ...existing };
    for (const [key, value] of Object.entries(desired))
      out[key] = overlay(existing[key], value, key);
    return out;
  }
  if (Array.isArray(existing) && Array.isArray(desired)) {
    const key = field === 'env' ? 'name' : LIST_KEYS[field];
    if (key === undefined) return desired;
    let list: readonly Plain[] = existing.filter(isPlain);
    for (const item of desired.filter(isPlain))
      list = upsert(list, item, key, field === 'env' ? 'replace' : 'overlay');
    return list;
  }
  return desired;
}

/**
 * Env vars put into the list by name, each in place of the first of its name or else last: as
 * `upsert` one by one, in one pass over the list (a pod may have thousands of env vars, and the
 * annotations dozens to add).
 */
function replaceOrAppend(list: readonly EnvVar[], items: readonly EnvVar[]): readonly EnvVar[] {
  if (items.length === 0) return list;
  const wanted = new Map(items.map((e) => [e.name, e]));
  const placed = new Set<string>();
  const out = list.map((e) => {
    const item = wanted.get(e.name);
    if (item === undefined || placed.has(e.name)) return e;
    placed.add(e.name);
    return item;
  });
  for (const [name, item] of wanted) if (!placed.has(name)) out.push(item);
  return out;
}

/** Puts `item` into the list by its key: in place (overlaid or replaced) if there, else last. */
function upsert<T extends object>(
  list: readonly T[],
  item: T,
  key: string,
  how: 'overlay' | 'replace' = 'overlay',
): readonly T[] {
  const keyOf = (x: T): unknown => (x as Plain)[key];
  const i = list.findIndex((x) => keyOf(x) === keyOf(item));
  if (i < 0) return [...list, item];
  return list.map((x, j) => (j === i ? ((how === 'replace' ? item : overlay(x, item)) as T) : x));
}
