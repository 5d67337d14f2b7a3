/**
 * Decides what to inject into one pod: the agent's layout (init only, native sidecar, or init
 * container plus regular sidecar), the target containers, the agent's user, resources and
 * configuration. Pure: the same pod, annotations and options always give the same plan.
 */
import {
  CONFIG_FIELDS,
  DEFAULTS,
  type AgentConfigInput,
  type Mode,
  type SecretInput,
  type SecretOwner,
} from '../common/config.ts';
import { resolveRegion, type ResolvedRegion, type StaticRegionFrom } from '../common/region.ts';
import { CONFIG_ROWS, type ConfigRow } from '../common/contract.ts';
import { DEFAULT_IMAGE } from '../common/version.ts';
import { filesWorstCase } from '../common/files-worst-case.ts';
import { quantityValue } from './annotations.ts';
import type { EnvAnnotation, OptedIn, ResourceAnnotation } from './annotations.ts';
import { appContainers, selectTargets } from './types.ts';
import type { Container, Pod, ResourceList, ResourceRequirements } from './types.ts';

/** The injector's settings (flags of `webhook` and `inject`). */
export interface InjectorOptions {
  /** The agent's image; its entrypoint is the `secrets-agent` CLI. */
  readonly image: string;
  /** Sidecar mode as a restartable init container unless the pod says otherwise (Kubernetes ≥ 1.29). */
  readonly nativeSidecar: boolean;
  /** The region when neither the annotation nor the pod's AWS_REGION names one. */
  readonly defaultRegion?: string;
  /** The agent's HTTPS proxy for AWS calls when the pod names none (`proxy-address`). */
  readonly defaultProxyAddress?: string;
  /** FIPS endpoints unless the pod says otherwise (`use-fips-endpoint`). */
  readonly defaultUseFipsEndpoint?: boolean;
  /** The agent's health and metrics port. */
  readonly agentPort: number;
  /** The agent's resources when the pod's annotations do not set them. */
  readonly resources: { readonly requests: ResourceList; readonly limits: ResourceList };
  /** The in-memory volume's smallest size limit: more when the configuration may need it. */
  readonly volumeSizeLimit: string;
  /** The agent's uid and gid when the pod declares none (distroless "nonroot"). */
  readonly fallbackUser: number;
}

export const DEFAULT_INJECTOR_OPTIONS: InjectorOptions = Object.freeze({
  image: DEFAULT_IMAGE,
  nativeSidecar: true,
  agentPort: 9102,
  resources: Object.freeze({
    // Memory as bench/memory.ts measures it (docs/performance.md, Memory): the sidecar's working
    // set is ~18 MiB once ready (~14.5 MiB each of 50 side by side) and peaks near 19.5 MiB
    // with 100 secrets all rotated at every 5 s refresh: under the request. The limit holds a
    // cold start from a disk with the kernel's default readahead (the page cache of the Node
    // binary counts against it) with the volume full: within 2x of unlimited down to 48Mi.
    requests: Object.freeze({ cpu: '10m', memory: '32Mi' }),
    // No CPU limit: a throttled agent only fetches late; memory is what must stay bounded.
    limits: Object.freeze({ memory: '64Mi' }),
  }),
  volumeSizeLimit: '16Mi',
  fallbackUser: 65532,
});

/**
 * - `init`: one init container, fetch once (mode init, or sidecar mode in a run-to-completion
 *   pod when native sidecars are off: a regular sidecar would keep a Job running forever).
 * - `native`: one restartable init container (`restartPolicy: Always`) whose startup probe
 *   holds the app until the first fetch is written.
 * - `init+sidecar`: an init container for the first fetch plus a regular sidecar container.
 */
export const LAYOUTS = ['init', 'native', 'init+sidecar'] as const;
export type Layout = (typeof LAYOUTS)[number];

/** Where the agent itself mounts the volume: fixed, so it never clashes with its token mounts. */
export const AGENT_OUTPUT_DIR = '/secrets';

export interface Plan {
  readonly layout: Layout;
  readonly image: string;
  readonly port: number;
  /** Where the target containers mount the volume. */
  readonly mountPath: string;
  /** Names of the containers and init containers that get the mount and env vars. */
  readonly targets: readonly string[];
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly resources: ResourceRequirements;
  /** The config of the long-running agent, or of the only agent in the `init` layout. */
  readonly config: AgentConfigInput;
  /** The config of `secrets-agent-init` in the `init+sidecar` layout. */
  readonly initConfig?: AgentConfigInput;
  readonly env: readonly EnvAnnotation[];
  readonly k8sSecret?: string;
  readonly roleArn?: string;
  readonly volumeSizeLimit: string;
  /** Room an update may need: twice the most the files can take (they are written beside). */
  readonly volumeNeed: number;
  readonly warnings: readonly string[];
  /** Where the agent's region came from, when the annotations did not set it. */
  readonly regionFrom?: Exclude<StaticRegionFrom, 'config'>;
  /** With `local-api`: the port the long-running agent serves the local API on. */
  readonly localApiPort?: number;
}

const MI = 1024 * 1024;
/**
 * The most the injector sizes the volume to. The files are in memory: they count against the
 * agent's memory limit (the writer is charged for tmpfs pages) and the pod's. A configuration
 * whose update may need more gets this much and a warning (inject.ts).
 */
export const MAX_VOLUME_BYTES = 128 * MI;

/**
 * The volume's size: room for two versions of the most the files can take (an update writes
 * the new files beside the live ones), in whole MiB, never below the injector's setting nor
 * above MAX_VOLUME_BYTES.
 */
export function volumeSize(
  secrets: readonly SecretInput[],
  floor: string,
): { readonly sizeLimit: string; readonly bytes: number; readonly need: number } {
  const need = 2 * filesWorstCase(secrets);
  const floorBytes = quantityValue(floor);
  const mib = Math.min(Math.ceil(need / MI), MAX_VOLUME_BYTES / MI);
  return mib * MI <= floorBytes
    ? { sizeLimit: floor, bytes: floorBytes, need }
    : { sizeLimit: `${mib}Mi`, bytes: mib * MI, need };
}

/**
 * The default memory limit grows with the volume past the injector's setting: the files the
 * agent writes count against it, and the default holds a cold start with the volume full.
 */
function withVolume(
  defaults: InjectorOptions['resources'],
  extraBytes: number,
): InjectorOptions['resources'] {
  const limit = defaults.limits['memory'];
  if (extraBytes <= 0 || limit === undefined) return defaults;
  const mib = Math.ceil((quantityValue(limit) + extraBytes) / MI);
  return { ...defaults, limits: { ...defaults.limits, memory: `${mib}Mi` } };
}

export function buildPlan(pod: Pod, parsed: OptedIn, options: InjectorOptions): Plan {
  const volume = volumeSize(parsed.config.secrets, options.volumeSizeLimit);
  const extra = volume.bytes - quantityValue(options.volumeSizeLimit);
  const targets = selectTargets(pod, parsed.containers).selected;
  const { layout, warning } = chooseLayout(pod, parsed, options);
  const region = agentRegion(pod, parsed, options);
  const config = agentConfig(
    pod,
    parsed,
    options,
    region.region,
    layout === 'init' ? 'init' : 'sidecar',
  );
  const localApi = parsed.config.localApi === true && layout !== 'init';
  return {
    layout,
    image: options.image,
    port: options.agentPort,
    mountPath: parsed.mountPath,
    targets: targets.map((c) => c.name),
    runAsUser: parsed.runAsUser ?? declaredId(pod, targets, 'runAsUser') ?? options.fallbackUser,
    runAsGroup: parsed.runAsGroup ?? declaredId(pod, targets, 'runAsGroup') ?? options.fallbackUser,
    resources: agentResources(parsed.resources, withVolume(options.resources, extra)),
    config,
    ...(layout === 'init+sidecar'
      ? { initConfig: agentConfig(pod, parsed, options, region.region, 'init', false) }
      : {}),
    ...(localApi ? { localApiPort: parsed.config.localApiPort ?? DEFAULTS.localApiPort } : {}),
    env: parsed.env,
    ...(parsed.k8sSecret === undefined ? {} : { k8sSecret: parsed.k8sSecret }),
    ...(parsed.roleArn === undefined ? {} : { roleArn: parsed.roleArn }),
    volumeSizeLimit: volume.sizeLimit,
    volumeNeed: volume.need,
    ...regionSource(region.from),
    warnings: [
      ...parsed.warnings,
      ...(warning === undefined ? [] : [warning]),
      ...(region.region === undefined ? [NO_REGION_WARNING] : []),
    ],
  };
}

function chooseLayout(
  pod: Pod,
  parsed: OptedIn,
  options: InjectorOptions,
): { layout: Layout; warning?: string } {
  if (parsed.mode === 'init') return { layout: 'init' };
  if (parsed.nativeSidecar ?? options.nativeSidecar) return { layout: 'native' };
  if (runsToCompletion(pod)) {
    return {
      layout: 'init',
      // Kept under 120 characters: the API server may truncate longer admission warnings.
      warning:
        'secrets-agent: runs to completion and native sidecars are off: secrets are fetched once, not refreshed',
    };
  }
  return { layout: 'init+sidecar' };
}

/** Pods of Jobs (and any pod whose restartPolicy is not Always) finish when their app does. */
export function runsToCompletion(pod: Pod): boolean {
  const policy = pod.spec.restartPolicy;
  if (policy === 'Never' || policy === 'OnFailure') return true;
  return (pod.metadata?.ownerReferences ?? []).some((o) => o.kind === 'Job');
}

/**
 * The app's uid (or gid) where the pod declares it: the one value every target container runs
 * with (its own securityContext, else the pod's), else the pod's. Root never counts: the agent
 * must pass the `restricted` profile, and root reads the files anyway.
 */
function declaredId(
  pod: Pod,
  targets: readonly Container[],
  field: 'runAsUser' | 'runAsGroup',
): number | undefined {
  const podLevel = pod.spec.securityContext?.[field];
  const effective = new Set(targets.map((c) => c.securityContext?.[field] ?? podLevel));
  const [only] = effective;
  if (effective.size === 1 && only !== undefined && only > 0) return only;
  return podLevel !== undefined && podLevel > 0 ? podLevel : undefined;
}

/**
 * Annotated values win over the defaults. A lone annotated limit below the default request
 * lowers the request to it, and a lone annotated request above the default limit raises the
 * limit, so the pair stays valid (Kubernetes rejects a request above its limit).
 */
export function agentResources(
  annotated: Readonly<Partial<Record<ResourceAnnotation, string>>>,
  defaults: InjectorOptions['resources'],
): ResourceRequirements {
  const requests: Record<string, string> = { ...defaults.requests };
  const limits: Record<string, string> = { ...defaults.limits };
  for (const resource of ['cpu', 'memory'] as const) {
    const request = annotated[`agent-${resource}-request`];
    const limit = annotated[`agent-${resource}-limit`];
    if (request !== undefined) requests[resource] = request;
    if (limit !== undefined) limits[resource] = limit;
    const r = requests[resource];
    const l = limits[resource];
    if (r === undefined || l === undefined || quantityValue(r) <= quantityValue(l)) continue;
    if (limit === undefined) limits[resource] = r;
    else requests[resource] = l;
  }
  return { requests, limits };
}

/**
 * The agent's configuration: what the annotations ask for, plus the injector's own settings.
 * The local API goes to the long-running agent (or the only one: the schema then refuses it in
 * init mode, and the pod is denied), never to the init container beside a sidecar.
 */
function agentConfig(
  pod: Pod,
  parsed: OptedIn,
  options: InjectorOptions,
  region: string | undefined,
  mode: Mode,
  serving = true,
): AgentConfigInput {
  const { k8sSecret } = parsed.config;
  const refreshing = mode === 'sidecar';
  return inSchemaOrder({
    ...podFields(parsed.config, options, { refreshing, serving }),
    mode,
    outputDir: AGENT_OUTPUT_DIR,
    ...(region === undefined ? {} : { region }),
    // An init container's health server would only be a port nobody probes.
    httpPort: refreshing ? options.agentPort : 0,
    ...(k8sSecret === undefined ? {} : { k8sSecret: withOwners(k8sSecret, pod) }),
    secrets: parsed.config.secrets.map(secretConfig),
  });
}

/**
 * The fields the pod's annotations set, copied as their contract rows say: not the ones the
 * injector decides (mode, region), not the sidecar's in init mode (nothing listens yet to be
 * reloaded, nothing refreshes), not the served ones on an init container beside a sidecar.
 * `false` is every boolean's default and is left out.
 */
function podFields(
  annotated: Readonly<Record<string, unknown>>,
  options: InjectorOptions,
  agent: { readonly refreshing: boolean; readonly serving: boolean },
): Partial<AgentConfigInput> {
  const fields: Record<string, unknown> = {};
  for (const row of CONFIG_ROWS) {
    if (!reaches(row, agent)) continue;
    const [field] = row.config;
    const value = annotated[field] ?? defaultOf(row, options);
    if (value !== undefined && value !== false) fields[field] = value;
  }
  return Object.fromEntries(
    CONFIG_ROWS.flatMap(({ config: [field], with: needs }) =>
      fields[field] === undefined || (needs !== undefined && fields[needs] === undefined)
        ? []
        : [[field, fields[field]]],
    ),
  );
}

function reaches(
  row: ConfigRow,
  agent: { readonly refreshing: boolean; readonly serving: boolean },
): boolean {
  if (row.decided === true) return false;
  if (row.sidecarOnly === true && !agent.refreshing) return false;
  return row.served !== true || agent.serving;
}

/** What the agent gets when the pod sets nothing: the injector's setting, or the stated default. */
function defaultOf(row: ConfigRow, options: InjectorOptions): unknown {
  if (row.injectorDefault !== undefined) return options[row.injectorDefault];
  return row.statedDefault;
}

/** The fields in the schema's order, so the same annotations always give the same args. */
function inSchemaOrder(config: AgentConfigInput): AgentConfigInput {
  const ordered: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS)
    if (config[field] !== undefined) ordered[field] = config[field];
  return ordered as unknown as AgentConfigInput;
}

/**
 * The Secret's owners: the pod's controller (a ReplicaSet, a StatefulSet, a Job …) as the
 * injector sees it at admission. The downward API does not expose owner references, and the
 * agent reading its own pod would need `get pods`; the injector already has them.
 */
function withOwners(
  target: NonNullable<AgentConfigInput['k8sSecret']>,
  pod: Pod,
): NonNullable<AgentConfigInput['k8sSecret']> {
  const owners: SecretOwner[] = [];
  for (const o of pod.metadata?.ownerReferences ?? []) {
    const { apiVersion, kind, name, uid, controller } = o;
    if (controller === true && typeof apiVersion === 'string' && typeof uid === 'string')
      owners.push({ apiVersion, kind, name, uid });
  }
  return owners.length === 0 ? target : { ...target, owners };
}

/** One secret's fields in a fixed order, so the same annotations always give the same args. */
function secretConfig(s: SecretInput): SecretInput {
  return {
    name: s.name,
    ...(s.source === undefined ? {} : { source: s.source }),
    id: s.id,
    ...(s.tag === undefined ? {} : { tag: s.tag }),
    ...(s.versionStage === undefined ? {} : { versionStage: s.versionStage }),
    ...(s.versionId === undefined ? {} : { versionId: s.versionId }),
    ...(s.key === undefined ? {} : { key: s.key }),
    ...(s.template === undefined ? {} : { template: s.template }),
    ...(s.format === undefined ? {} : { format: s.format }),
    ...(s.mode === undefined ? {} : { mode: s.mode }),
    ...(s.extract === true ? { extract: true } : {}),
  };
}

/** Kept under 120 characters: the API server may truncate longer admission warnings. */
export const NO_REGION_WARNING =
  'secrets-agent: no AWS region: set secrets-agent.io/region or --default-region (the agent will ask IMDS)';

/**
 * The agent's region: the part of the one chain (common/region.ts) the injector can see: the
 * annotation, the region of the secrets' ARNs, the app's own AWS_REGION (or AWS_DEFAULT_REGION),
 * the injector's default. None: the agent goes on (a profile, IMDS), and admission warns.
 */
function agentRegion(pod: Pod, parsed: OptedIn, options: InjectorOptions): Partial<ResolvedRegion> {
  return (
    resolveRegion({
      config: parsed.config.region,
      ids: parsed.config.secrets.map((s) => s.id),
      env: podEnv(pod),
      default: options.defaultRegion,
    }) ?? {}
  );
}

function regionSource(from: StaticRegionFrom | undefined): Pick<Plan, 'regionFrom'> {
  return from === undefined || from === 'config' ? {} : { regionFrom: from };
}

/** A variable as the app itself has it: the first literal, non-empty value in its containers. */
function podEnv(pod: Pod): (name: string) => string | undefined {
  const { containers, initContainers } = appContainers(pod);
  const env = [...containers, ...initContainers].flatMap((c) => c.env ?? []);
  return (name) =>
    env.find((e) => e.name === name && e.value !== undefined && e.value !== '')?.value;
}
