/**
 * Near-miss annotation keys (injector/near-miss.ts): one rule, from which `inject` checks keys
 * and the shipped policy (manifests/policy.yaml, as kustomize builds it) warns at admission. The
 * policy's CEL is evaluated here (@bufbuild/cel, RE2 regular expressions as in the API server)
 * on generated keys, against the rule itself, on pods and on workloads' pod templates.
 * `FUZZ_SEED=n` replays a seed.
 */
import { run } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import fc from 'fast-check';
import t from 'tap';
import {
  DOMAIN,
  isNearMiss,
  KNOWN_MISSPELLINGS,
  nearMissCel,
  nearMisses,
} from '../injector/near-miss.ts';
import { editDistance } from '../injector/suggest.ts';
import { transform } from '../injector/inject-command.ts';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import { at, build, find } from './helpers/manifests.ts';
import { fileNeeds } from './helpers/needs.ts';

fileNeeds(t, 'kubectl');

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5ea1);
const RUNS = { seed: SEED, numRuns: Number(process.env['FUZZ_RUNS'] ?? 150) };
const POLICY = 'secrets-agent-near-miss-annotations';

/** Plain data as the CEL evaluator takes it: objects as maps. */
function celValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(celValue);
  if (typeof value === 'object' && value !== null)
    return new Map(Object.entries(value).map(([k, v]) => [k, celValue(v)]));
  return value;
}

function plain(value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]));
  if (typeof value === 'object' && value !== null && Symbol.iterator in value)
    return [...(value as Iterable<unknown>)].map(plain);
  return value;
}

interface Policy {
  readonly variables: readonly { name: string; expression: string }[];
  readonly validations: readonly { expression: string; messageExpression: string }[];
}

/** The policy as the API server would run it: its variables in order, then its validation. */
function evaluate(
  policy: Policy,
  object: unknown,
): { ok: boolean; message: string; near: string[] } {
  const variables = new Map<string, unknown>();
  const bindings = (): Record<string, unknown> => ({ object: celValue(object), variables });
  for (const v of policy.variables)
    variables.set(v.name, run(v.expression, bindings() as never, { funcs: strings }));
  const validation = policy.validations[0];
  if (validation === undefined) throw new Error('no validation');
  const ok = run(validation.expression, bindings() as never) === true;
  const message = ok ? '' : (run(validation.messageExpression, bindings() as never) as string);
  return { ok, message, near: plain(variables.get('nearMisses')) as string[] };
}

const objects = build('manifests');

async function policy(): Promise<Policy> {
  const p = find(await objects, 'ValidatingAdmissionPolicy', POLICY);
  return at(p, 'spec') as Policy;
}

/** A pod, or a workload whose pod template carries the annotations. */
function carriers(annotations: Record<string, string>): unknown[] {
  const template = { metadata: { annotations }, spec: { containers: [{ name: 'app' }] } };
  return [
    { kind: 'Pod', metadata: { name: 'p', annotations }, spec: template.spec },
    { kind: 'Deployment', metadata: { name: 'd' }, spec: { template } },
    { kind: 'CronJob', metadata: { name: 'c' }, spec: { jobTemplate: { spec: { template } } } },
  ];
}

t.test('the policy warns, never denies, and its CEL is the rule’s own', async (t) => {
  const built = await objects;
  const binding = find(built, 'ValidatingAdmissionPolicyBinding', POLICY);
  t.same(at(binding, 'spec', 'validationActions'), ['Warn', 'Audit']);
  const p = await policy();
  const nearVar = p.variables.find((v) => v.name === 'nearMisses');
  t.equal(nearVar?.expression.trim(), nearMissCel('variables.annotations'));
  for (const o of carriers({})) t.ok(evaluate(p, o).ok, 'no annotations: nothing to say');
  const none = { kind: 'Pod', metadata: { name: 'bare' }, spec: {} };
  t.ok(evaluate(p, none).ok, 'a pod without annotations is guarded, not an error');
  const deployment = { kind: 'Deployment', metadata: { name: 'd' }, spec: { template: {} } };
  t.ok(evaluate(p, deployment).ok, 'nor a template without metadata');
});

const NAME = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const CHAR = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789.-_'.split(''));

/** A domain some edits from ours: the keys users mistype, and many that are far off. */
const domainArb = fc.oneof(
  fc
    .array(fc.tuple(fc.constantFrom('delete', 'insert', 'replace', 'swap'), fc.nat(), CHAR), {
      maxLength: 3,
    })
    .map((edits) => {
      let d: string = DOMAIN;
      for (const [op, n, c] of edits) {
        const i = n % (d.length + 1);
        if (op === 'delete') d = d.slice(0, i) + d.slice(i + 1);
        else if (op === 'insert') d = d.slice(0, i) + c + d.slice(i);
        else if (op === 'replace') d = d.slice(0, i) + c + d.slice(i + 1);
        else if (i + 1 < d.length)
          d = d.slice(0, i) + d.charAt(i + 1) + d.charAt(i) + d.slice(i + 2);
      }
      return d;
    }),
  fc.constantFrom(...KNOWN_MISSPELLINGS, 'example.com', 'app.kubernetes.io', 'kubernetes.io'),
  fc.stringMatching(/^[a-z0-9.-]{1,30}$/),
);

t.test('on generated keys, the policy and the rule agree, on pods and templates', async (t) => {
  const p = await policy();
  fc.assert(
    fc.property(domainArb, NAME, (domain, name) => {
      const key = `${domain}/${name}`;
      const near = isNearMiss(key);
      for (const object of carriers({ [key]: 'true', 'app.kubernetes.io/name': 'x' })) {
        const result = evaluate(p, object);
        if (result.ok === near) return false;
        if (near && !result.message.includes(key)) return false;
        if (result.near.length !== (near ? 1 : 0)) return false;
      }
      // The rule is what it says: one edit from ours, or a known misspelling.
      const d = editDistance(domain, DOMAIN);
      const expected =
        domain !== DOMAIN &&
        (d === 1 || (KNOWN_MISSPELLINGS as readonly string[]).includes(domain));
      return near === expected;
    }),
    RUNS,
  );
  t.pass(`${RUNS.numRuns} generated keys, seed ${SEED}`);
});

t.test(
  'inject refuses a near miss unless told otherwise, and the webhook’s prefix is exact',
  (t) => {
    const pod = (key: string): string =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', annotations: { [key]: 'true' } },
        spec: { containers: [{ name: 'app' }] },
      });
    for (const key of [
      'secret-agent.io/inject',
      'secrets.agent.io/inject',
      'secretsagent/inject',
    ]) {
      t.same(nearMisses({ [key]: 'true' }), [key]);
      const strict = transform(pod(key), DEFAULT_INJECTOR_OPTIONS);
      t.match(strict.report.errors, [
        new RegExp(`the annotation ${key.replace('.', '\\.')} looks like`),
      ]);
      const allowed = transform(pod(key), DEFAULT_INJECTOR_OPTIONS, undefined, 'warnings');
      t.same(allowed.report.errors, []);
      t.equal(allowed.report.warnings.length, 1);
    }
    t.same(nearMisses({ 'secrets-agent.io/inject': 'true', 'example.com/x': 'y' }), []);
    t.end();
  },
);
