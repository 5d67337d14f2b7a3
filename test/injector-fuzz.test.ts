/**
 * Property-based tests over whole AdmissionReview bodies, through `admit` and through the real
 * HTTPS server: arbitrary JSON, near-valid reviews (wrong envelope, missing uid, objects that
 * are not pods), pods of odd shapes (no/empty/huge container lists, unicode names, volumes,
 * mounts, init containers and env vars that collide with the injector's) and random annotation
 * sets under the prefix (every option, valid and invalid values).
 *
 * The invariant: a malformed review is a 400 with a message; anything else is an answer whose
 * uid echoes the request's and which is one of
 * - allowed with no patch (a pod that did not opt in is always this),
 * - allowed with a JSON patch that applies, gives a schema-valid pod (when the admitted pod was
 *   one), keeps the pod's own invariants, and re-admits to an empty patch,
 * - a denial whose message lists every problem, each naming an annotation the pod carries.
 * Never a 500, another exception or a crash. `FUZZ_SEED=n` replays a seed; failures print theirs.
 * (Annotation sets alone over a fixed pod: test/injector-annotations.test.ts.)
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import t from 'tap';
import { annotationOf } from '../injector/problems.ts';
import type { Test } from 'tap';
import { admit, AdmissionReviewError, DEFAULT_INJECTOR_OPTIONS } from '../injector/admission.ts';
import type { AdmissionResult, InjectorOptions } from '../injector/admission.ts';
import { ENV_PREFIX, POD_KEYS, SECRET_PREFIXES } from '../injector/keys.ts';
import { createInjectorMetrics } from '../injector/metrics.ts';
import { startWebhookServer } from '../injector/server.ts';
import { startDiskCertificateSource } from '../injector/tls.ts';
import type { Pod } from '../injector/types.ts';
import { admissionHandler } from '../injector/webhook-command.ts';
import {
  JSON_HEADERS,
  call,
  makeCa,
  makePair,
  tempDir,
  writeSecretVolume,
} from './helpers/certs.ts';
import {
  applyTo,
  patchOf,
  podInvariantProblems,
  reviewFor,
  validatePod,
} from './injector-support.ts';

const P = 'secrets-agent.io/';
const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5ec2e7);
const OPTION_SETS: readonly InjectorOptions[] = [
  DEFAULT_INJECTOR_OPTIONS,
  { ...DEFAULT_INJECTOR_OPTIONS, nativeSidecar: false, defaultRegion: 'eu-west-1' },
];

// ---------------------------------------------------------------------------------------------
// Arbitraries

const unicode = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'grapheme', maxLength });

const SECRET_NAMES = ['db', 'DB', 'api.json', 'a', 'x-1', '..', '.hidden', 'a/b', 'n'.repeat(50)];
const ENV_NAMES = ['DB_USER', 'AWS_REGION', 'AWS_ROLE_ARN', 'TOKEN', '1BAD', 'lower'];

/** Every key under the prefix: pod-level, per secret (several names), env-, typos. */
const annotationKey: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom(...POD_KEYS) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(...SECRET_PREFIXES), fc.constantFrom(...SECRET_NAMES))
        .map(([p, n]) => `${p}${n}`),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...ENV_NAMES).map((n) => `${ENV_PREFIX}${n}`),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('secrte-db', 'injct', 'mountpath', 'secret-', 'env-', 'Inject'),
    },
    { weight: 1, arbitrary: unicode(12) },
  )
  .map((k) => `${P}${k}`);

/** Values that are valid for some key, near misses, and noise. */
const annotationValue: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'true',
      'false',
      'init',
      'sidecar',
      '/secrets',
      '/data',
      '/data/sub',
      '/var/run/secrets/eks.amazonaws.com/serviceaccount',
      'app',
      'app,setup',
      '30s',
      '5m',
      '1s',
      'us-east-1',
      'eu-west-1',
      'arn:aws:iam::111122223333:role/app',
      'app-secrets',
      'http://127.0.0.1:8080/-/reload',
      '10m',
      '64Mi',
      '1000',
      '0',
      'json',
      'dotenv',
      'properties',
      '0400',
      '0200',
      'password',
      'a.b[0]',
      'a[',
      '{{ user }}',
      '{{#each a}}{{@key}}{{/each}}',
      '{{',
      'AWSPREVIOUS',
      'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
      'prod/db',
      'arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf',
      'injected',
    ),
  },
  { weight: 3, arbitrary: unicode(24) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
);

/** One valid value per pod-level option (a subset is picked). */
const validPodOptions = fc.record(
  {
    mode: fc.constantFrom('init', 'sidecar'),
    'native-sidecar': fc.constantFrom('true', 'false'),
    'mount-path': fc.constantFrom('/secrets', '/etc/app-secrets/', '/sé/ü-😀'),
    containers: fc.constantFrom('app', 'app, app'),
    'refresh-interval': fc.constantFrom('30s', '1h30m', '5s'),
    region: fc.constantFrom('us-east-1', 'eu-west-1'),
    'failover-region': fc.constantFrom('us-west-2'),
    'role-arn': fc.constantFrom('arn:aws:iam::111122223333:role/app'),
    'k8s-secret': fc.constantFrom('app-secrets'),
    'reload-url': fc.constantFrom('http://127.0.0.1:8080/-/reload'),
    'agent-cpu-request': fc.constantFrom('5m', '0.5'),
    'agent-memory-request': fc.constantFrom('16Mi', '32Mi'),
    'agent-cpu-limit': fc.constantFrom('1'),
    'agent-memory-limit': fc.constantFrom('64Mi', '1Gi'),
    'run-as-user': fc.constantFrom('1000', '65532'),
    'run-as-group': fc.constantFrom('3000'),
    'env-DB_USER': fc.constantFrom('username'),
    'env-API_KEY': fc.constantFrom('api.json'),
  },
  { requiredKeys: [] },
);

/** Valid options for one secret: a key or a template (not both), a format only without a template. */
const validSecretOptions = fc
  .record(
    {
      secret: fc.constantFrom(
        'prod/db',
        'arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf',
      ),
      select: fc.constantFrom('key', 'template', 'none'),
      format: fc.constantFrom('raw', 'json', 'yaml', 'dotenv', 'env', 'properties'),
      'version-stage': fc.constantFrom('AWSPREVIOUS'),
      'version-id': fc.constantFrom('a1b2c3d4-5678-90ab-cdef-EXAMPLE11111'),
      perms: fc.constantFrom('0400', '640'),
      extract: fc.constantFrom('true', 'false'),
    },
    { requiredKeys: ['secret', 'select'] },
  )
  .map(({ select, ...rest }) => {
    const options: Record<string, string> = { ...rest };
    if (select === 'key') options['key'] = 'password';
    if (select === 'template') {
      options['template'] = '{{ user }}:{{#each list}}{{this}},{{/each}}';
      delete options['format'];
    }
    return options;
  });

const validAnnotations: fc.Arbitrary<Record<string, string>> = fc
  .tuple(
    validPodOptions,
    fc.uniqueArray(
      fc.tuple(fc.constantFrom('db', 'DB', 'api.json', 'x-1', 'n'.repeat(40)), validSecretOptions),
      { minLength: 1, maxLength: 4, selector: ([name]) => name },
    ),
  )
  .map(([podOptions, secrets]) => {
    const out: Record<string, string> = { [`${P}inject`]: 'true' };
    for (const [k, v] of Object.entries(podOptions)) out[`${P}${k}`] = v;
    for (const [name, options] of secrets)
      for (const [k, v] of Object.entries(options)) out[`${P}${k}-${name}`] = v;
    // env- and extract- read from / write to the k8s-secret Secret.
    if (Object.keys(out).some((k) => k.startsWith(`${P}env-`) || k.startsWith(`${P}extract-`)))
      out[`${P}k8s-secret`] = 'app-secrets';
    return out;
  });

const annotations = (optIn: boolean): fc.Arbitrary<Record<string, string>> =>
  optIn
    ? fc.oneof(
        { weight: 3, arbitrary: validAnnotations },
        {
          weight: 2,
          arbitrary: fc
            .tuple(validAnnotations, fc.dictionary(annotationKey, annotationValue, { maxKeys: 6 }))
            .map(([valid, noise]) => ({ ...noise, ...valid })),
        },
        {
          weight: 1,
          arbitrary: fc
            .dictionary(annotationKey, annotationValue, { maxKeys: 14 })
            .map((a) => ({ ...a, [`${P}inject`]: 'true' })),
        },
      )
    : fc
        .tuple(fc.dictionary(annotationKey, annotationValue, { maxKeys: 14 }), fc.boolean())
        .map(([a, explicit]) => {
          const out = Object.fromEntries(Object.entries(a).filter(([k]) => k !== `${P}inject`));
          return explicit ? { ...out, [`${P}inject`]: 'false' } : out;
        });

const CONTAINER_NAMES = ['app', 'setup', 'proxy', 'ünï-😀', 'app'];
const RESERVED_CONTAINER_NAMES = ['secrets-agent', 'secrets-agent-init'];
const VOLUME_NAMES = ['cache', 'config', 'aws-iam-token', 'eks-pod-identity-token'];
const RESERVED_VOLUME_NAMES = ['secrets-agent', 'secrets-agent-token'];
const MOUNT_PATHS = ['/secrets', '/secrets/sub', '/data', '/data/sub', '/', '/cache'];

const envVar = fc.oneof(
  fc.record({
    name: fc.oneof(fc.constantFrom(...ENV_NAMES, 'AWS_WEB_IDENTITY_TOKEN_FILE'), unicode(6)),
    value: unicode(10),
  }),
  fc.record({
    name: fc.constantFrom(...ENV_NAMES),
    valueFrom: fc.record({
      secretKeyRef: fc.record({
        name: fc.constantFrom('app-secrets', 'other'),
        key: fc.constantFrom('password', 'username'),
      }),
    }),
  }),
);

const volumeMount = fc.record({
  name: fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...VOLUME_NAMES) },
    { weight: 1, arbitrary: fc.constantFrom(...RESERVED_VOLUME_NAMES) },
  ),
  mountPath: fc.oneof(
    fc.constantFrom(...MOUNT_PATHS),
    unicode(8).map((s) => `/${s}`),
  ),
  readOnly: fc.boolean(),
});

const securityContext = fc.record(
  { runAsUser: fc.constantFrom(0, 1000, 65532), runAsGroup: fc.constantFrom(0, 3000) },
  { requiredKeys: [] },
);

const container = fc.record(
  {
    name: fc.oneof(
      { weight: 16, arbitrary: fc.constantFrom(...CONTAINER_NAMES) },
      { weight: 1, arbitrary: fc.constantFrom(...RESERVED_CONTAINER_NAMES) },
      { weight: 2, arbitrary: unicode(10) },
    ),
    image: fc.constantFrom('app:1', 'busybox'),
    env: fc.array(envVar, { maxLength: 4 }),
    volumeMounts: fc.array(volumeMount, { maxLength: 3 }),
    securityContext,
    restartPolicy: fc.constant('Always'),
    ports: fc.array(fc.record({ containerPort: fc.integer({ min: 1, max: 65535 }) }), {
      maxLength: 2,
    }),
  },
  { requiredKeys: ['name'] },
);

/** Containers: absent, empty, a few, or hundreds. */
const containers = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .array(container, { minLength: 1, maxLength: 4 })
      .map(([first, ...rest]) => [{ ...first, name: 'app' }, ...rest]),
  },
  { weight: 1, arbitrary: fc.constant([]) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 50, max: 300 })
      .map((n) => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'x' }))),
  },
);

const rawPodSpec = fc.record(
  {
    containers,
    initContainers: fc.array(container, { maxLength: 3 }),
    volumes: fc.array(
      fc.record({
        name: fc.oneof(
          { weight: 9, arbitrary: fc.constantFrom(...VOLUME_NAMES) },
          { weight: 1, arbitrary: fc.constantFrom(...RESERVED_VOLUME_NAMES) },
        ),
        emptyDir: fc.constant({}),
      }),
      { maxLength: 3 },
    ),
    securityContext,
    restartPolicy: fc.constantFrom('Always', 'Never', 'OnFailure'),
    automountServiceAccountToken: fc.boolean(),
    nodeName: unicode(8),
  },
  { requiredKeys: ['containers'] },
);

interface SpecDraft {
  containers: Record<string, unknown>[];
  initContainers?: Record<string, unknown>[];
  volumes?: Record<string, unknown>[];
  [key: string]: unknown;
}

/** Unique items by a key: later duplicates dropped. */
function uniqueBy<T>(items: readonly T[], key: (item: T) => unknown): T[] {
  const seen = new Set<unknown>();
  return items.filter((item) => !seen.has(key(item)) && seen.add(key(item)));
}

/**
 * What Kubernetes would accept: container names unique across both lists, env names and mount
 * paths unique per container, every mounted volume declared once.
 */
function consistent(spec: SpecDraft): SpecDraft {
  const names = new Set<string>();
  const fix = (c: Record<string, unknown>): Record<string, unknown> => {
    let name = String(c['name']);
    while (names.has(name)) name = `${name}-2`;
    names.add(name);
    const out: Record<string, unknown> = { ...c, name };
    if (Array.isArray(c['env'])) out['env'] = uniqueBy(c['env'] as Obj[], (e) => e['name']);
    if (Array.isArray(c['volumeMounts']))
      out['volumeMounts'] = uniqueBy(c['volumeMounts'] as Obj[], (m) => m['mountPath']);
    return out;
  };
  const initContainers = (spec.initContainers ?? []).map(fix);
  const containers = spec.containers.map(fix);
  const mounted = [...initContainers, ...containers].flatMap((c) =>
    ((c['volumeMounts'] ?? []) as Obj[]).map((m) => String(m['name'])),
  );
  const declared = (spec.volumes ?? []).map((v) => String(v['name']));
  const volumes = uniqueBy([...declared, ...mounted], (n) => n).map((name) => ({
    name,
    emptyDir: {},
  }));
  return {
    ...spec,
    containers,
    ...(spec.initContainers === undefined ? {} : { initContainers }),
    ...(volumes.length === 0 ? {} : { volumes }),
  };
}

/** Mostly pods Kubernetes would accept; sometimes not (duplicate names, undeclared volumes). */
const podSpec = fc.oneof(
  { weight: 4, arbitrary: rawPodSpec.map((spec) => consistent(spec as SpecDraft)) },
  { weight: 1, arbitrary: rawPodSpec },
);

const pod = (optIn: boolean): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      name: unicode(12),
      ns: fc.constantFrom('shop', 'default', ''),
      owned: fc.boolean(),
      annotations: annotations(optIn),
      labels: fc.dictionary(fc.constantFrom('app', 'tier'), fc.constantFrom('web', 'db')),
      spec: podSpec,
    })
    .map(({ name, ns, owned, annotations: a, labels, spec }) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        ...(ns === '' ? {} : { namespace: ns }),
        annotations: a,
        labels,
        ...(owned
          ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'j', uid: 'u-1' }] }
          : {}),
      },
      spec,
    }));

/** Breaks one field the injector reads; the review must then be a 400 or pass untouched. */
const CORRUPTIONS: readonly ((p: Record<string, unknown>) => void)[] = [
  (p) => delete p['spec'],
  (p) => (p['spec'] = 'not an object'),
  (p) => ((p['spec'] as Record<string, unknown>)['containers'] = { name: 'app' }),
  (p) => delete (p['spec'] as Record<string, unknown>)['containers'],
  (p) => ((p['spec'] as Record<string, unknown>)['containers'] = [{ image: 'nameless' }]),
  (p) => ((p['spec'] as Record<string, unknown>)['containers'] = [null, 7]),
  (p) => ((p['spec'] as Record<string, unknown>)['initContainers'] = 'x'),
  (p) => ((p['spec'] as Record<string, unknown>)['volumes'] = [{}]),
  (p) =>
    ((p['spec'] as Record<string, unknown>)['containers'] = [
      { name: 'app', env: [{ value: 'no name' }] },
    ]),
  (p) =>
    ((p['spec'] as Record<string, unknown>)['containers'] = [
      { name: 'app', volumeMounts: [{ name: 'v' }] },
    ]),
  (p) => ((p['spec'] as Record<string, unknown>)['securityContext'] = { runAsUser: 'root' }),
  (p) => ((p['metadata'] as Record<string, unknown>)['annotations'] = ['a']),
  (p) => {
    const meta = p['metadata'] as Record<string, unknown>;
    meta['annotations'] = { ...(meta['annotations'] as object), [`${P}mode`]: 7 };
  },
  (p) => ((p['metadata'] as Record<string, unknown>)['name'] = 42),
  (p) => (p['metadata'] = null),
];

const corruptPod = fc
  .tuple(fc.boolean().chain(pod), fc.integer({ min: 0, max: CORRUPTIONS.length - 1 }))
  .map(([p, i]) => {
    CORRUPTIONS[i]?.(p);
    return p;
  });

const podObject = fc.oneof(
  { weight: 6, arbitrary: pod(true) },
  { weight: 2, arbitrary: pod(false) },
  { weight: 2, arbitrary: corruptPod },
);

const POD_RESOURCE = { group: '', version: 'v1', resource: 'pods' };
const resource = fc.oneof(
  { weight: 8, arbitrary: fc.constant(POD_RESOURCE) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      { group: 'apps', version: 'v1', resource: 'deployments' },
      { group: '', version: 'v1', resource: 'configmaps' },
      { group: 'example.com', version: 'v1', resource: 'pods' },
      { version: 'v1' },
      'pods',
      7,
    ),
  },
);

const podRequest = fc.record({
  uid: fc.uuid(),
  kind: fc.constant({ group: '', version: 'v1', kind: 'Pod' }),
  resource: fc.constant(POD_RESOURCE),
  operation: fc.constant('CREATE'),
  namespace: fc.constantFrom('shop', 'default'),
  object: podObject,
});

/** Breaks the envelope in one place: the review must be a 400, or an answer that ignores the pod. */
const ENVELOPE_FAULTS = fc.oneof(
  fc.record({ apiVersion: fc.constantFrom('admission.k8s.io/v1beta1', 'v1', 3, undefined) }),
  fc.record({ kind: fc.constantFrom('Pod', 'admissionreview', null, undefined) }),
  fc.record({ request: fc.constantFrom(undefined, null, 'x', []) }),
  fc.record({ uid: fc.constantFrom('', 42, null, undefined) }),
  fc.record({ uid: unicode(20).filter((s) => s !== '') }),
  fc.record({ resource: resource }),
  fc.record({ subResource: fc.constantFrom('', 'status', 'ephemeralcontainers', 5) }),
  fc.record({ operation: fc.constantFrom('UPDATE', 'DELETE', 'CONNECT', 1, undefined) }),
  fc.record({ namespace: fc.constantFrom('', 7) }),
  fc.record({
    object: fc.oneof(
      fc.constantFrom(null, undefined, 'pod', [], {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        spec: { template: {} },
      }),
      fc.jsonValue({ maxDepth: 3 }),
    ),
  }),
);

const ENVELOPE_KEYS = ['apiVersion', 'kind', 'request'];

/** Reviews that are right, or wrong in one place. */
const nearReview: fc.Arbitrary<unknown> = fc
  .tuple(
    podRequest,
    fc.oneof(
      { weight: 7, arbitrary: fc.constant(null) },
      { weight: 3, arbitrary: ENVELOPE_FAULTS },
    ),
  )
  .map(([request, fault]) => {
    const review: Record<string, unknown> = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { ...request },
    };
    for (const [key, value] of Object.entries(fault ?? {})) {
      const target = ENVELOPE_KEYS.includes(key) ? review : (review['request'] as Obj);
      if (value === undefined) Reflect.deleteProperty(target, key);
      else target[key] = value;
    }
    return structuredClone(review);
  });

// ---------------------------------------------------------------------------------------------
// The invariant

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requestOf(review: unknown): Obj {
  return isObj(review) && isObj(review['request']) ? review['request'] : {};
}

function annotationsOf(object: unknown): Obj {
  return isObj(object) && isObj(object['metadata']) && isObj(object['metadata']['annotations'])
    ? object['metadata']['annotations']
    : {};
}

function optedIn(object: unknown): boolean {
  const inject = annotationsOf(object)[`${P}inject`];
  return inject !== undefined && inject !== 'false';
}

function schemaValid(p: unknown): boolean {
  try {
    validatePod(p as Pod);
    return true;
  } catch {
    return false;
  }
}

class Violation extends Error {}

/** Injections checked all the way (schema, invariants, re-admission). */
let fullyChecked = 0;

function expect(condition: boolean, message: string): void {
  if (!condition) throw new Violation(message);
}

/** Checks one answer of `admit` against the review it answered. Throws Violation. */
function checkAnswer(review: unknown, result: AdmissionResult, options: InjectorOptions): void {
  const request = requestOf(review);
  const response = result.review.response;
  expect(result.review.apiVersion === 'admission.k8s.io/v1', 'answer apiVersion');
  expect(result.review.kind === 'AdmissionReview', 'answer kind');
  expect(response.uid === request['uid'], `uid ${response.uid} echoes ${String(request['uid'])}`);
  const object = request['object'];
  if (!optedIn(object)) {
    expect(response.allowed && response.patch === undefined, 'not opted in: allowed, no patch');
    expect(result.outcome === 'skipped', 'not opted in: skipped');
    return;
  }
  if (!response.allowed) return checkDenial(object, result);
  if (response.patch === undefined) {
    expect(result.outcome === 'skipped', 'allowed without a patch is skipped');
    return;
  }
  checkInjection(object, result, options);
}

function checkDenial(object: unknown, result: AdmissionResult): void {
  const response = result.review.response;
  const problems = result.problems ?? [];
  expect(result.outcome === 'denied', 'a refusal is a denial');
  expect(response.status?.code === 400, 'denied with 400');
  expect(problems.length > 0, 'a denial has problems');
  const message = response.status?.message ?? '';
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  expect(message.includes(count), `"${message}" counts ${count}`);
  const keys = Object.keys(annotationsOf(object));
  for (const p of problems) {
    expect(
      message.includes(`${annotationOf(p)}: ${p.message}`),
      `message lists ${annotationOf(p)}`,
    );
    // The default mount path and the region taken from the pod's env have no annotation of
    // their own; their problems still name the key to set.
    expect(
      keys.includes(annotationOf(p)) ||
        annotationOf(p) === `${P}mount-path` ||
        (annotationOf(p) === `${P}region` && p.message.includes("the pod's AWS_REGION")),
      `${annotationOf(p)} is an annotation of the pod`,
    );
  }
}

function checkInjection(object: unknown, result: AdmissionResult, options: InjectorOptions): void {
  const response = result.review.response;
  expect(result.outcome === 'injected', 'a patch means injected');
  expect(response.patchType === 'JSONPatch', 'patchType JSONPatch');
  for (const w of response.warnings ?? [])
    expect(typeof w === 'string' && w.length <= 120, `short warning: ${w}`);
  const before = object as Pod;
  const after = applyTo(before, patchOf(result)); // throws if the patch does not apply
  expect(after.metadata?.annotations?.[`${P}status`] === 'injected', 'status: injected');
  // A pod Kubernetes itself would reject (schema, duplicate names, mounts of undeclared volumes)
  // only has to be patched without a throw: the API server refuses it after the webhooks.
  if (!schemaValid(before) || podInvariantProblems(before).length > 0) return;
  validatePod(after); // throws with the schema's complaint
  const problems = podInvariantProblems(after);
  expect(problems.length === 0, `invariants kept: ${problems.join('; ')}`);
  const again = admit(reviewFor(after), options);
  expect(again.review.response.allowed, 're-admission allowed');
  expect(again.review.response.patch === undefined, 're-admission: no patch');
  fullyChecked += 1;
}

/** `admit` on one review: an AdmissionReviewError (400) or a checked answer. */
function admitAndCheck(review: unknown, options: InjectorOptions): 'answered' | 'rejected' {
  let result: AdmissionResult;
  try {
    result = admit(review, options);
  } catch (err) {
    if (err instanceof AdmissionReviewError && err.message !== '') return 'rejected';
    throw err;
  }
  checkAnswer(review, result, options);
  return 'answered';
}

function run<T>(
  t: Test,
  name: string,
  property: fc.IRawProperty<[T]>,
  numRuns: number,
): Promise<void> | undefined {
  const report = (details: fc.RunDetails<[T]>): void => {
    if (details.failed) {
      const error = details.errorInstance;
      const why = `${error instanceof Error ? error.message : String(error)}\n${fc.defaultReportMessage(details) ?? ''}`;
      t.fail(`${name} (seed ${SEED}; replay with FUZZ_SEED=${SEED}):\n${why}`);
    } else t.pass(`${name}: ${details.numRuns} runs, seed ${SEED}`);
  };
  const params = { seed: SEED, numRuns };
  const details = fc.check(property, params);
  if (details instanceof Promise) return details.then(report);
  report(details);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Through admit

t.test('admit: arbitrary JSON is a 400 or an answer, never another throw', (t) => {
  const json = fc.oneof(
    fc.jsonValue(),
    fc.record({
      apiVersion: fc.constant('admission.k8s.io/v1'),
      kind: fc.constant('AdmissionReview'),
      request: fc.jsonValue(),
    }),
  );
  run(
    t,
    'arbitrary JSON',
    fc.property(json, (review) => void admitAndCheck(review, DEFAULT_INJECTOR_OPTIONS)),
    500,
  );
  t.end();
});

t.test('admit: near-valid reviews, odd pods, random annotations keep the invariant', (t) => {
  const seen = { answered: 0, rejected: 0 };
  const outcomes: Record<string, number> = {};
  for (const [i, options] of OPTION_SETS.entries()) {
    run(
      t,
      `near-valid reviews, options ${i}`,
      fc.property(nearReview, (review) => {
        const verdict = admitAndCheck(review, options);
        seen[verdict] += 1;
        if (verdict === 'answered') {
          const o = admit(review, options).outcome;
          outcomes[o] = (outcomes[o] ?? 0) + 1;
        }
      }),
      500,
    );
  }
  // The generators must reach every branch, or the property proves little.
  t.ok(seen.rejected > 20, `400s: ${seen.rejected}`);
  for (const o of ['injected', 'denied', 'skipped'])
    t.ok((outcomes[o] ?? 0) > 20, `${o}: ${outcomes[o] ?? 0}`);
  t.ok(fullyChecked > 25, `injections checked through re-admission: ${fullyChecked}`);
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Over the wire

t.test('over HTTPS: 200 with the same answer as admit, or 400; never 500', async (t) => {
  const ca = makeCa();
  const pair = makePair(ca);
  const dir = tempDir();
  await writeSecretVolume(dir, { 'tls.crt': pair.cert, 'tls.key': pair.key });
  const certificates = await startDiskCertificateSource({
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
  });
  const metrics = createInjectorMetrics(new Registry(), false);
  const options = DEFAULT_INJECTOR_OPTIONS;
  const server = await startWebhookServer({
    address: '127.0.0.1',
    port: 0,
    certificates,
    handler: admissionHandler(options),
    metrics,
  });
  t.teardown(async () => {
    await server.close();
    await certificates.close();
  });

  const body = fc.oneof(
    { weight: 6, arbitrary: nearReview.map((r) => JSON.stringify(r)) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: nearReview.map((r) => JSON.stringify(r).slice(0, -3)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
  );
  const sent = { total: 0, ok: 0, bad: 0 };
  await run(
    t,
    'over HTTPS',
    fc.asyncProperty(body, async (payload) => {
      const res = await call({
        port: server.port,
        ca: ca.cert,
        method: 'POST',
        path: '/mutate',
        headers: JSON_HEADERS,
        body: payload,
      });
      sent.total += 1;
      expect(res.status === 200 || res.status === 400, `status ${res.status}: ${res.body}`);
      const answer = JSON.parse(res.body) as Obj;
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(payload).toString('utf8'));
      } catch {
        parsed = undefined;
      }
      if (res.status === 400) {
        sent.bad += 1;
        expect(typeof answer['error'] === 'string' && answer['error'] !== '', 'a 400 says why');
        return;
      }
      sent.ok += 1;
      const local = admit(parsed, options);
      expect(JSON.stringify(answer) === JSON.stringify(local.review), 'the wire answers as admit');
      checkAnswer(parsed, local, options);
    }),
    300,
  );
  t.ok(sent.ok > 50 && sent.bad > 20, `both answers seen: ${JSON.stringify(sent)}`);
  const counted = (await metrics.admissions.get()).values;
  const total = counted.reduce((n, v) => n + v.value, 0);
  t.equal(total, sent.total, 'every request counted once');
  t.equal(
    counted.find((v) => v.labels['outcome'] === 'error')?.value,
    sent.bad,
    'each 400 counted as error',
  );
});

// ---------------------------------------------------------------------------------------------
// What the properties found, kept as plain cases

t.test(
  'found: an env- variable named like an AWS identity variable is not copied to the agent',
  (t) => {
    // The agent writes the k8s-secret Secret: an agent env var read from it could never start.
    const pod = {
      metadata: {
        name: 'p',
        annotations: {
          [`${P}inject`]: 'true',
          [`${P}secret-db`]: 'prod/db',
          [`${P}k8s-secret`]: 'app-secrets',
          [`${P}env-AWS_REGION`]: 'region',
        },
      },
      spec: { containers: [{ name: 'app', image: 'x' }] },
    };
    const first = admit(reviewFor(pod));
    t.equal(first.outcome, 'injected');
    const injected = applyTo(pod, patchOf(first));
    const again = admit(reviewFor(injected));
    t.same(patchOf(again), [], 're-admission (a reinvocation) changes nothing');
    const agent = injected.spec.initContainers?.[0];
    t.notOk(
      agent?.env?.some((e) => e.valueFrom?.secretKeyRef?.name === 'app-secrets'),
      'the agent reads nothing from the Secret it writes',
    );
    t.end();
  },
);

t.test('found: an app token mount where the agent writes moves to the standard path', (t) => {
  const pod = {
    metadata: {
      name: 'p',
      annotations: { [`${P}inject`]: 'true', [`${P}secret-db`]: 'prod/db' } as Record<
        string,
        string
      >,
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'x',
          env: [{ name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/secrets/token' }],
          volumeMounts: [{ name: 'aws-iam-token', mountPath: '/secrets' }],
        },
      ],
      volumes: [{ name: 'aws-iam-token', projected: { sources: [] } }],
    },
  };
  pod.metadata.annotations[`${P}mount-path`] = '/run/app-secrets'; // the app's /secrets is taken
  const result = admit(reviewFor(pod));
  t.equal(result.outcome, 'injected');
  const injected = applyTo(pod, patchOf(result));
  t.doesNotThrow(() => validatePod(injected));
  t.same(podInvariantProblems(injected), [], 'no two mounts at one path');
  const agent = injected.spec.initContainers?.[0];
  t.match(agent?.volumeMounts, [
    { name: 'secrets-agent', mountPath: '/secrets' },
    { name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
  ]);
  t.equal(
    agent?.env?.find((e) => e.name === 'AWS_WEB_IDENTITY_TOKEN_FILE')?.value,
    '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
    'the token file follows the mount',
  );
  t.end();
});
