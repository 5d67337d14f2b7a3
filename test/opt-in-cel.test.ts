/**
 * The opt-in rule is written three times, in three languages: the webhook's `matchConditions`
 * (CEL, in the API server: which pods reach the injector at all), the injector's own reading of
 * the annotation (TypeScript), and the ValidatingAdmissionPolicy (CEL, in the API server: an
 * opted-in pod must come out injected). Here the two CEL programs are read out of the manifests
 * and EVALUATED by a CEL implementation (@bufbuild/cel, as test/near-miss.test.ts), over the same
 * generated pods as the injector, through
 * the whole admission chain, so the three can never disagree unnoticed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { celEnv, isCelError, parse as parseCel, plan } from '@bufbuild/cel';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import { admit } from '../injector/admission.ts';
import { ANNOTATION_PREFIX, STATUS_INJECTED } from '../injector/types.ts';
import type { Pod } from '../injector/types.ts';
import { applyTo, patchOf, reviewFor } from './injector-support.ts';

const SEED = 20_261_207;
const MANIFESTS = join(import.meta.dirname, '..', 'manifests');
const INJECT = `${ANNOTATION_PREFIX}inject`;
const STATUS = `${ANNOTATION_PREFIX}status`;

type Doc = Record<string, unknown> & { kind?: string; metadata?: { name?: string } };

function docs(file: string): Doc[] {
  const text = readFileSync(join(MANIFESTS, file), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as Doc);
}

function one<T>(found: readonly T[], what: string): T {
  if (found.length !== 1) throw new Error(`expected one ${what}, found ${found.length}`);
  return found[0] as T;
}

interface Webhook {
  name: string;
  matchConditions?: { name: string; expression: string }[];
}
interface PolicySpec {
  variables?: { name: string; expression: string }[];
  validations: { expression: string }[];
}

/** Plain data as the CEL evaluator takes it: objects as maps. */
function celValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(celValue);
  if (typeof value === 'object' && value !== null)
    return new Map(Object.entries(value).map(([k, v]) => [k, celValue(v)]));
  return value;
}

/** A CEL program, evaluated against the given bindings (plain data). */
type Program = (bindings: Record<string, unknown>) => unknown;

/**
 * Parsed and planned once. An evaluation error throws: in the API server a match condition that
 * fails to evaluate rejects the pod (failurePolicy Fail), so it must never pass for a `false`.
 */
function compile(expression: string): Program {
  const program = plan(celEnv(), parseCel(expression));
  return (bindings) => {
    const result: unknown = program(
      Object.fromEntries(Object.entries(bindings).map(([k, v]) => [k, celValue(v)])) as never,
    );
    if (isCelError(result)) throw new Error(`CEL error in ${expression}: ${String(result)}`);
    return result;
  };
}

const webhookConfiguration = one(
  docs('webhook.yaml').filter((d) => d.kind === 'MutatingWebhookConfiguration'),
  'MutatingWebhookConfiguration',
);
const webhook = one((webhookConfiguration['webhooks'] ?? []) as Webhook[], 'webhook');
const matchConditions = (webhook.matchConditions ?? []).map((c) => compile(c.expression));
const POLICY = 'secrets-agent-opted-in-pods-are-injected';
const policy = one(
  docs('policy.yaml').filter(
    (d) => d.kind === 'ValidatingAdmissionPolicy' && d.metadata?.name === POLICY,
  ),
  `ValidatingAdmissionPolicy ${POLICY}`,
)['spec'] as PolicySpec;

/** The API server's rule: the webhook is called only if every match condition is true. */
function webhookCalled(pod: Pod): boolean {
  return matchConditions.every((condition) => condition({ object: pod }) === true);
}

/** The policy as the API server runs it: variables in order, then every validation. */
const policyVariables = (policy.variables ?? []).map((v) => ({
  name: v.name,
  program: compile(v.expression),
}));
const policyValidations = policy.validations.map((v) => compile(v.expression));

function policyAllows(pod: Pod): boolean {
  const variables: Record<string, unknown> = {};
  for (const { name, program } of policyVariables)
    variables[name] = program({ object: pod, variables });
  return policyValidations.every((validation) => validation({ object: pod, variables }) === true);
}

/** What the cluster does with a pod: called or not, the injector's answer, the policy's. */
type Fate =
  'created as is' | 'created injected' | 'denied by the injector' | 'denied by the policy';

function admitInCluster(pod: Pod): Fate {
  let created = pod;
  let fate: Fate = 'created as is';
  if (webhookCalled(pod)) {
    const result = admit(reviewFor(pod));
    if (result.outcome === 'denied') return 'denied by the injector';
    if (result.outcome === 'injected') {
      created = applyTo(pod, patchOf(result));
      fate = 'created injected';
    }
  }
  return policyAllows(created) ? fate : 'denied by the policy';
}

// The values people write, near misses of both words, and anything at all.
const value = fc.oneof(
  fc.constantFrom('true', 'false', 'True', 'FALSE', 'yes', 'no', '', ' true', 'true ', '1'),
  fc.string({ maxLength: 8 }),
);
const annotations = fc.record(
  {
    inject: value,
    status: fc.oneof(fc.constant(STATUS_INJECTED), value),
    other: fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 8 }), {
      maxKeys: 2,
    }),
  },
  { requiredKeys: ['other'] },
);
/** Pods with or without annotations, and with or without each of our two keys. */
const pods = fc.option(annotations, { nil: undefined }).map((a): Pod => {
  const metadata = {
    name: 'catalog',
    namespace: 'shop',
    ...(a === undefined
      ? {}
      : {
          annotations: {
            ...a.other,
            ...(a.inject === undefined ? {} : { [INJECT]: a.inject }),
            ...(a.status === undefined ? {} : { [STATUS]: a.status }),
          },
        }),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  };
});

function check(t: Test, name: string, property: fc.IProperty<[Pod]>, numRuns = 500): void {
  const result = fc.check(property, { seed: SEED, numRuns });
  t.notOk(result.failed, `${name} (${result.numRuns} pods, seed ${SEED})`, {
    counterexample: result.counterexample,
  });
}

t.test('the manifests hold CEL this implementation compiles', (t) => {
  t.ok(matchConditions.length > 0, 'the webhook has match conditions');
  t.ok((policy.variables ?? []).length > 0 && policy.validations.length > 0, 'the policy rules');
  t.end();
});

t.test('the match conditions send the injector exactly the pods it would act on', (t) => {
  // The injector decides 'not-opted-in' itself too (for clusters without matchConditions): the
  // API server's filter and the injector's must be the same set, neither wider.
  check(
    t,
    'called ⟺ the injector does not skip it as not opted in',
    fc.property(pods, (pod) => {
      const skipped = admit(reviewFor(pod)).reason === 'not-opted-in';
      return webhookCalled(pod) === !skipped;
    }),
  );
  t.end();
});

t.test('every pod the cluster creates passes the policy; none opted in goes uninjected', (t) => {
  check(
    t,
    'never denied by the policy unless the injector never saw it',
    fc.property(pods, (pod) => admitInCluster(pod) !== 'denied by the policy'),
  );
  check(
    t,
    '"true" (the injector\'s opt-in) is injected or denied, never created as is',
    fc.property(pods, (pod) => {
      const optedIn = pod.metadata?.annotations?.[INJECT] === 'true';
      const alreadyInjected = pod.metadata?.annotations?.[STATUS] === STATUS_INJECTED;
      return !optedIn || alreadyInjected || admitInCluster(pod) !== 'created as is';
    }),
  );
  t.end();
});

t.test('with the webhook gone, the policy alone stops what the injector would inject', (t) => {
  // The other half of the failure policy: the same pods, no mutating webhook at all.
  check(
    t,
    'the policy denies exactly the pods the injector would act on that are not marked injected',
    fc.property(pods, (pod) => {
      const result = admit(reviewFor(pod));
      const wouldAct = result.outcome === 'injected' || result.outcome === 'denied';
      const marked = pod.metadata?.annotations?.[STATUS] === STATUS_INJECTED;
      // The contract (docs/annotations.md): "true" injects, absent or "false" leaves the pod
      // alone, anything else is denied; so the injector's business is anything but those two.
      const value = pod.metadata?.annotations?.[INJECT];
      const concerned = value !== undefined && value !== 'false';
      return policyAllows(pod) === !(concerned && !marked) && (!concerned || marked || wouldAct);
    }),
  );
  t.end();
});
