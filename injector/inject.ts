/**
 * One pod through the whole pipeline: annotations → plan → mutated pod → patch. Shared by the
 * webhook (admission.ts) and the `inject` command, so both say the same thing about a pod.
 */
import { samePath, type FieldPath } from '../common/field.ts';
import { checkAgentConfig, regionProblem, type AgentConfigInput } from '../common/config.ts';
import { REGION_ENV } from '../common/region.ts';
import { agentIdentity } from './identity.ts';
import { ENGINES, parseAnnotations } from './annotations.ts';
import { annotationForField, toProblem } from './field-annotations.ts';
import { sourceBytesBound } from '../common/files-worst-case.ts';
import { Collector, formatProblem, problemCount, quote, type Problem } from './problems.ts';
import { mutatePod } from './mutate.ts';
import { computePatch } from './patch.ts';
import type { PatchOperation } from './patch.ts';
import { buildPlan, MAX_VOLUME_BYTES } from './plan.ts';
import type { InjectorOptions, Plan } from './plan.ts';
import { ANNOTATION_PREFIX, appContainers, type Pod } from './types.ts';

export const OUTCOMES = ['injected', 'skipped', 'denied'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export type PodInjection =
  | {
      readonly outcome: 'skipped';
      readonly reason: 'not-opted-in' | 'already-injected';
      readonly pod: Pod;
    }
  | {
      readonly outcome: 'injected';
      readonly pod: Pod;
      readonly plan: Plan;
      readonly patch: readonly PatchOperation[];
      readonly warnings: readonly string[];
    }
  | { readonly outcome: 'denied'; readonly problems: readonly Problem[] };

/**
 * Decides and applies. An opted-in pod that needs no change (already injected, nothing broken
 * since) is `skipped` with reason `already-injected`, so metrics count each injection once.
 */
export function injectPod(pod: Pod, options: InjectorOptions): PodInjection {
  const parsed = parseAnnotations(pod.metadata?.annotations, pod);
  if (!parsed.ok) return { outcome: 'denied', problems: parsed.problems };
  if (!parsed.value.inject) return { outcome: 'skipped', reason: 'not-opted-in', pod };
  const plan = buildPlan(pod, parsed.value, options);
  const out = new Collector();
  checkConfigs(plan, out);
  checkCopiedRegions(pod, plan, out);
  checkPorts(pod, plan, out);
  if (out.count > 0) return { outcome: 'denied', problems: out.problems };
  const mutated = mutatePod(pod, plan);
  const patch = computePatch(pod, mutated);
  if (patch.length === 0) return { outcome: 'skipped', reason: 'already-injected', pod };
  const volume = volumeWarning(plan);
  const warnings = volume === undefined ? plan.warnings : [...plan.warnings, volume];
  return { outcome: 'injected', pod: mutated, plan, patch, warnings };
}

/**
 * The agent checks the configuration it is given with its own schema; so does the injector, on
 * exactly the documents it writes into the agent containers' args, so it admits exactly what
 * the agent accepts. The annotations were checked already: what is left is what the injector
 * added (a region from the pod's env or its own default).
 */
function checkConfigs(plan: Plan, out: Collector): void {
  const configs: AgentConfigInput[] = [
    plan.config,
    ...(plan.initConfig === undefined ? [] : [plan.initConfig]),
  ];
  const seen = new Set<string>();
  for (const config of configs) {
    const checked = checkAgentConfig(config, ENGINES);
    if (checked.ok) continue;
    for (const c of checked.problems) {
      const p = withSource(toProblem(c, config.secrets), c.path, plan);
      const key = formatProblem(p);
      if (!seen.has(key)) out.push(p);
      seen.add(key);
    }
  }
}

/**
 * The app's AWS_REGION and AWS_DEFAULT_REGION go to the agent with its identity
 * (identity.ts), and the agent's SDK and STS calls use them where the configuration names no
 * region: a literal one that is not a region is denied as a bad `region` annotation is, not
 * left to fail every call until the agent's init timeout.
 */
function checkCopiedRegions(pod: Pod, plan: Plan, out: Collector): void {
  for (const e of agentIdentity(pod, plan.roleArn, plan.k8sSecret).env) {
    if (!(REGION_ENV as readonly string[]).includes(e.name)) continue;
    const wrong = e.value === undefined || e.value === '' ? undefined : regionProblem(e.value);
    if (wrong !== undefined && e.value !== plan.config.region)
      out.add(
        'invalid',
        'region',
        `the pod's ${e.name}, which the agent gets too, ${wrong} (set a valid ${e.name}, or this annotation)`,
        e.value,
      );
  }
}

/** A problem with a value the injector took from elsewhere says where it came from. */
function withSource(p: Problem, path: FieldPath, plan: Plan): Problem {
  if (!samePath(path, ['region']) || plan.regionFrom === undefined) return p;
  const from = {
    arn: "the secrets' ARNs",
    env: "the pod's AWS_REGION or AWS_DEFAULT_REGION",
    default: "the injector's --default-region",
  }[plan.regionFrom];
  return { ...p, message: `${p.message} (taken from ${from}; set this annotation instead)` };
}

/**
 * The agent's health and metrics port is in the pod's one network namespace: a container that
 * listens on it too would make one of the two fail to bind.
 */
function checkPorts(pod: Pod, plan: Plan, out: Collector): void {
  const { containers, initContainers } = appContainers(pod);
  for (const c of [...initContainers, ...containers])
    for (const p of c.ports ?? []) {
      if (p.containerPort === plan.port)
        out.add(
          'duplicate',
          'inject',
          `container ${quote(c.name)} already uses port ${p.containerPort}, the agent's health and metrics port (the injector's --agent-port moves it)`,
        );
      else if (p.containerPort === plan.localApiPort)
        out.add(
          'duplicate',
          'local-api-port',
          `container ${quote(c.name)} already uses port ${p.containerPort}, the local API's port; choose another`,
        );
    }
}

/**
 * An update writes the changed files beside the live ones. A configuration whose files could
 * take more than half the largest volume the injector sizes is admitted at that size, with a
 * warning naming its largest source: at run time a source whose update does not fit keeps its
 * last files and is named (metric, log, /readyz) while the others keep rotating. Upstream bounds
 * are far above what most sources hold, so refusing such a pod would refuse working pods.
 */
function volumeWarning(plan: Plan): string | undefined {
  if (plan.volumeNeed <= MAX_VOLUME_BYTES) return undefined;
  const { secrets } = plan.config;
  const [largest] = secrets
    .map((spec, i) => ({ i, bytes: sourceBytesBound(spec) }))
    .sort((a, b) => b.bytes - a.bytes);
  const mib = (bytes: number): string => `${Math.ceil(bytes / (1024 * 1024))} MiB`;
  const name =
    largest === undefined
      ? 'the files'
      : `${ANNOTATION_PREFIX}${annotationForField(['secrets', largest.i], secrets)}`;
  // Kept short: the API server may truncate longer admission warnings.
  return `${name}: an update may need ${mib(plan.volumeNeed)}, past the ${mib(MAX_VOLUME_BYTES)} volume; what does not fit waits`;
}

/** The most a denial lists: the API server shows it in events and to the user. */
export const MAX_DENIAL_LENGTH = 4096;

/**
 * One line naming the object and every problem, within MAX_DENIAL_LENGTH: the problems are
 * already bounded in count (MAX_PROBLEMS, problems.ts); the line bounds their length.
 */
export function denialMessage(what: string, problems: readonly Problem[]): string {
  const total = problemCount(problems);
  const count = total === 1 ? '1 problem' : `${total} problems`;
  let message = `${quote(what).slice(1, -1)}: ${count} with secrets-agent.io annotations: `;
  let shown = 0;
  for (const [i, p] of problems.entries()) {
    const item = `${i === 0 ? '' : '; '}${formatProblem(p)}`;
    if (message.length + item.length > MAX_DENIAL_LENGTH - 40)
      return `${message}; … and ${total - shown} more`;
    message += item;
    shown += p.more ?? 1;
  }
  return message;
}

/** `namespace/name` of a pod, falling back to its generateName (pods of a ReplicaSet have no name yet). */
export function podDisplayName(pod: Pod, namespace?: string): string {
  const meta = pod.metadata;
  const name =
    meta?.name ?? (meta?.generateName === undefined ? '<unnamed>' : `${meta.generateName}*`);
  const ns = meta?.namespace ?? namespace;
  return ns === undefined || ns === '' ? name : `${ns}/${name}`;
}
