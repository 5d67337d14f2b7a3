/**
 * One pod through the whole pipeline: annotations → plan → mutated pod → patch. Shared by the
 * webhook (admission.ts) and the `inject` command, so both say the same thing about a pod.
 */
import { formatProblem, parseAnnotations } from './annotations.ts';
import type { Problem } from './annotations.ts';
import { mutatePod } from './mutate.ts';
import { computePatch } from './patch.ts';
import type { PatchOperation } from './patch.ts';
import { buildPlan } from './plan.ts';
import type { InjectorOptions, Plan } from './plan.ts';
import type { Pod } from './types.ts';

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
  const mutated = mutatePod(pod, plan);
  const patch = computePatch(pod, mutated);
  if (patch.length === 0) return { outcome: 'skipped', reason: 'already-injected', pod };
  return { outcome: 'injected', pod: mutated, plan, patch, warnings: plan.warnings };
}

/** One line naming the object and every problem. */
export function denialMessage(what: string, problems: readonly Problem[]): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return `${what}: ${count} with secrets-agent.io annotations: ${problems.map(formatProblem).join('; ')}`;
}

/** `namespace/name` of a pod, falling back to its generateName (pods of a ReplicaSet have no name yet). */
export function podDisplayName(pod: Pod, namespace?: string): string {
  const meta = pod.metadata;
  const name =
    meta?.name ?? (meta?.generateName === undefined ? '<unnamed>' : `${meta.generateName}*`);
  const ns = meta?.namespace ?? namespace;
  return ns === undefined || ns === '' ? name : `${ns}/${name}`;
}
