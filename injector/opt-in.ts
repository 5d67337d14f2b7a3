/**
 * The opt-in rule, written once. The annotation `secrets-agent.io/inject`:
 * - absent, or "false": not the injector's business; the pod is admitted as it is;
 * - "true": the agent is injected;
 * - anything else ("yes", "True"): still the injector's business, and denied with a problem that
 *   names the annotation, so a typo never starts a pod without its secrets.
 *
 * A pod concerns the injector exactly when the annotation is present and not "false". The
 * webhook's `matchConditions` (which pods the API server sends) and the ValidatingAdmissionPolicy
 * (a pod that concerns the injector must come out injected) say that same predicate in CEL:
 * OPT_IN_CEL, which test/manifests.test.ts finds, as written, in both manifests.
 */
import { booleanProblem } from '../common/values.ts';
import { ANNOTATION_PREFIX } from './types.ts';

export const INJECT_ANNOTATION = `${ANNOTATION_PREFIX}inject`;
export const OPT_IN_VALUE = 'true';
export const OPT_OUT_VALUE = 'false';

/** `out`: admitted as is; `in`: injected; `invalid`: denied. */
export type OptIn = 'out' | 'in' | 'invalid';

/** What the annotation's value (undefined when absent) says. */
export function optInOf(value: unknown): OptIn {
  if (value === undefined || value === OPT_OUT_VALUE) return 'out';
  return value === OPT_IN_VALUE ? 'in' : 'invalid';
}

/** What is wrong with the annotation's value: a value that is neither "true" nor "false". */
export function optInProblem(value: string | undefined): string | undefined {
  return optInOf(value) === 'invalid' ? booleanProblem(value ?? '') : undefined;
}

/** Whether a pod with these annotations is the injector's business (to inject or deny). */
export function concernsInjector(annotations: unknown): boolean {
  const value =
    typeof annotations === 'object' && annotations !== null
      ? (annotations as Record<string, unknown>)[INJECT_ANNOTATION]
      : undefined;
  return optInOf(value) !== 'out';
}

/**
 * concernsInjector in CEL, every access guarded: with failurePolicy Fail an evaluation error
 * would reject pods that never opted in.
 */
export const OPT_IN_CEL = [
  'has(object.metadata.annotations)',
  `'${INJECT_ANNOTATION}' in object.metadata.annotations`,
  `object.metadata.annotations['${INJECT_ANNOTATION}'] != '${OPT_OUT_VALUE}'`,
].join(' && ');
