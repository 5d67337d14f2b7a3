/**
 * The AdmissionReview boundary (what is a 400, what passes untouched, what is denied) and the
 * reinvocation cases: another webhook running before or after the injector, or breaking what it
 * added (amazon-eks-pod-identity-webhook #208 strips `restartPolicy: Always` from init containers).
 */
import fc from 'fast-check';
import t from 'tap';
import {
  admit,
  AdmissionReviewError,
  DEFAULT_INJECTOR_OPTIONS,
  isAdmissionReviewError,
  reviewJson,
  type AdmissionReviewResponse,
} from '../injector/admission.ts';
import { encodePatch } from '../injector/patch.ts';
import type { Container, EnvVar, Pod, VolumeMount } from '../injector/types.ts';
import {
  applyTo,
  loadPod,
  patchOf,
  podInvariantProblems,
  reviewFor,
  validatePod,
} from './injector-support.ts';

function injectedPod(fixture: string): Pod {
  const pod = loadPod(fixture);
  return applyTo(pod, patchOf(admit(reviewFor(pod))));
}

type MutablePod = {
  spec: {
    initContainers: Record<string, unknown>[];
    containers: Record<string, unknown>[];
    volumes: Record<string, unknown>[];
  };
};

function mutable(pod: Pod): MutablePod {
  return structuredClone(pod) as unknown as MutablePod;
}

const OPT_IN = { 'secrets-agent.io/inject': 'true', 'secrets-agent.io/secret-db': 'prod/db' };

t.test('malformed reviews throw AdmissionReviewError (the server answers 400)', (t) => {
  const pod = loadPod('minimal.yaml');
  const bad: [string, unknown][] = [
    ['not an object', 'hello'],
    ['wrong apiVersion', { ...(reviewFor(pod) as object), apiVersion: 'admission.k8s.io/v1beta1' }],
    ['wrong kind', { ...(reviewFor(pod) as object), kind: 'Pod' }],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }],
    ['no uid', reviewFor(pod, { uid: undefined })],
    ['empty uid', reviewFor(pod, { uid: '' })],
    ['no object', reviewFor(pod, { object: undefined })],
    ['object without containers', reviewFor({ metadata: { annotations: OPT_IN }, spec: {} })],
    [
      'container without name',
      reviewFor({ metadata: { annotations: OPT_IN }, spec: { containers: [{ image: 'x' }] } }),
    ],
    [
      'annotations not strings',
      reviewFor({ metadata: { annotations: { ...OPT_IN, a: 1 } }, spec: { containers: [] } }),
    ],
    ['operation not a string', reviewFor(pod, { operation: 7 })],
  ];
  for (const [name, review] of bad) {
    t.throws(() => admit(review), AdmissionReviewError, name);
  }
  try {
    admit(reviewFor(pod, { uid: undefined }));
  } catch (err) {
    t.ok(isAdmissionReviewError(err));
    t.equal((err as AdmissionReviewError).code, 'ADMISSION_REVIEW_INVALID');
    t.match((err as Error).message, /request\.uid/);
  }
  t.end();
});

t.test('other resources and operations pass untouched', (t) => {
  const pod = loadPod('minimal.yaml');
  const cases: [string, Record<string, unknown>, string][] = [
    [
      'a ConfigMap',
      { resource: { group: '', version: 'v1', resource: 'configmaps' }, object: { data: {} } },
      'not-a-pod',
    ],
    ['a pod subresource', { subResource: 'status' }, 'not-a-pod'],
    ['an UPDATE', { operation: 'UPDATE' }, 'not-create'],
    ['a DELETE without object', { operation: 'DELETE', object: undefined }, 'not-create'],
  ];
  for (const [name, overrides, reason] of cases) {
    const result = admit(reviewFor(pod, overrides));
    t.equal(result.outcome, 'skipped', name);
    t.equal(result.reason, reason, name);
    t.same(
      result.review.response,
      { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true },
      name,
    );
  }
  t.end();
});

t.test('a pod that did not opt in passes even when its shape is odd', (t) => {
  for (const object of [
    { spec: {} },
    {
      metadata: { annotations: { 'secrets-agent.io/inject': 'false' } },
      spec: { containers: 'x' },
    },
    'text',
  ]) {
    const result = admit(reviewFor(object));
    t.equal(result.outcome, 'skipped');
    t.equal(result.reason, 'not-opted-in');
    t.equal(result.review.response.allowed, true);
  }
  t.end();
});

t.test('the response echoes the uid and carries a base64 JSONPatch', (t) => {
  const result = admit(reviewFor(loadPod('minimal.yaml'), { uid: 'abc-123' }));
  t.equal(result.review.apiVersion, 'admission.k8s.io/v1');
  t.equal(result.review.kind, 'AdmissionReview');
  t.equal(result.review.response.uid, 'abc-123');
  t.equal(result.review.response.patchType, 'JSONPatch');
  t.ok(patchOf(result).length > 0);
  t.equal(result.pod, 'shop/web');
  t.end();
});

t.test('denial lists every problem, names the pod, and patches nothing', (t) => {
  const pod = {
    metadata: {
      generateName: 'web-7d9f-',
      annotations: {
        'secrets-agent.io/inject': 'true',
        'secrets-agent.io/secret-db': 'prod/db',
        'secrets-agent.io/refresh-interval': '1s',
        'secrets-agent.io/secrte-api': 'prod/api',
        'secrets-agent.io/containers': 'nope',
      },
    },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  };
  const result = admit(reviewFor(pod, { namespace: 'shop' }));
  t.equal(result.outcome, 'denied');
  t.equal(result.review.response.allowed, false);
  t.equal(result.review.response.patch, undefined);
  t.equal(result.review.response.status?.code, 400);
  const message = result.review.response.status?.message ?? '';
  t.match(message, /^pod shop\/web-7d9f-\*: 3 problems with secrets-agent\.io annotations: /);
  t.match(message, /secrets-agent\.io\/refresh-interval: must be from 5s to 24h/);
  t.match(
    message,
    /secrets-agent\.io\/secrte-api: unknown annotation; did you mean secrets-agent\.io\/secret-api\?/,
  );
  t.match(
    message,
    /secrets-agent\.io\/containers: no container or init container named "nope" \(the pod has: app\)/,
  );
  t.equal(result.problems?.length, 3);
  t.end();
});

t.test('#208: restartPolicy stripped by another webhook is restored on reinvocation', (t) => {
  const injected = injectedPod('minimal.yaml');
  const broken = mutable(injected);
  const agent = broken.spec.initContainers[0];
  t.equal(agent?.['restartPolicy'], 'Always');
  delete agent?.['restartPolicy'];
  const result = admit(reviewFor(broken));
  t.equal(result.outcome, 'injected');
  t.same(patchOf(result), [
    { op: 'add', path: '/spec/initContainers/0/restartPolicy', value: 'Always' },
  ]);
  t.same(applyTo(broken as unknown as Pod, patchOf(result)), injected, 'back to the injected pod');
  t.end();
});

t.test('an identity webhook after the injector: its additions to the agent are kept', (t) => {
  const injected = injectedPod('minimal.yaml');
  const after = mutable(injected);
  // The EKS pod identity webhook adds its env and token mount to every container, ours included.
  const irsaEnv: EnvVar[] = [
    { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
    { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/app' },
    {
      name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
      value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
    },
  ];
  const irsaMount: VolumeMount = {
    name: 'aws-iam-token',
    mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
    readOnly: true,
  };
  after.spec.volumes.push({
    name: 'aws-iam-token',
    projected: {
      defaultMode: 420,
      sources: [
        {
          serviceAccountToken: {
            audience: 'sts.amazonaws.com',
            expirationSeconds: 86400,
            path: 'token',
          },
        },
      ],
    },
  });
  for (const c of [...after.spec.initContainers, ...after.spec.containers]) {
    c['env'] = [...((c['env'] as EnvVar[] | undefined) ?? []), ...irsaEnv];
    c['volumeMounts'] = [...((c['volumeMounts'] as VolumeMount[] | undefined) ?? []), irsaMount];
  }
  const result = admit(reviewFor(after));
  t.equal(
    result.outcome,
    'skipped',
    'nothing to add: the webhook already gave the agent its identity',
  );
  t.same(patchOf(result), []);
  t.end();
});

t.test('an identity webhook that only touched the app: the agent gets what is new', (t) => {
  const injected = injectedPod('minimal.yaml');
  const after = mutable(injected);
  after.spec.volumes.push({
    name: 'eks-pod-identity-token',
    projected: {
      sources: [
        {
          serviceAccountToken: {
            audience: 'pods.eks.amazonaws.com',
            expirationSeconds: 86400,
            path: 'eks-pod-identity-token',
          },
        },
      ],
    },
  });
  const app = after.spec.containers[0];
  if (app === undefined) throw new Error('no app');
  app['env'] = [
    { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
  ];
  app['volumeMounts'] = [
    ...(app['volumeMounts'] as VolumeMount[]),
    {
      name: 'eks-pod-identity-token',
      mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
      readOnly: true,
    },
  ];
  const result = admit(reviewFor(after));
  t.equal(result.outcome, 'injected');
  const fixed = applyTo(after as unknown as Pod, patchOf(result));
  const agent = fixed.spec.initContainers?.[0] as Container;
  t.ok(agent.env?.some((e) => e.name === 'AWS_CONTAINER_CREDENTIALS_FULL_URI'));
  t.ok(agent.volumeMounts?.some((m) => m.name === 'eks-pod-identity-token'));
  t.doesNotThrow(() => validatePod(fixed));
  t.same(podInvariantProblems(fixed), []);
  t.same(patchOf(admit(reviewFor(fixed))), [], 'and then it is stable');
  t.end();
});

t.test('fields the API server defaults on the agent are kept, not fought over', (t) => {
  const injected = injectedPod('non-native.yaml');
  const defaulted = mutable(injected);
  for (const c of [...defaulted.spec.initContainers, ...defaulted.spec.containers]) {
    if (String(c['name']).startsWith('secrets-agent')) {
      c['livenessProbe'] =
        c['livenessProbe'] === undefined
          ? undefined
          : { ...(c['livenessProbe'] as object), initialDelaySeconds: 0 };
      c['volumeMounts'] = (c['volumeMounts'] as VolumeMount[]).map((m) => ({
        ...m,
        mountPropagation: 'None',
      }));
      if (c['livenessProbe'] === undefined) delete c['livenessProbe'];
    }
  }
  t.same(patchOf(admit(reviewFor(defaulted))), []);
  t.end();
});

t.test('an init container another webhook put in front stays in front', (t) => {
  const injected = mutable(injectedPod('minimal.yaml'));
  injected.spec.initContainers.unshift({ name: 'istio-init', image: 'istio/proxyv2:1.22' });
  // Only the newcomer gets the mount ("all containers" is all of them); the agent is not moved.
  t.same(patchOf(admit(reviewFor(injected))), [
    {
      op: 'add',
      path: '/spec/initContainers/0/volumeMounts',
      value: [{ name: 'secrets-agent', mountPath: '/secrets', readOnly: true }],
    },
  ]);
  t.end();
});

t.test('the namespace comes from the request when the pod has none', (t) => {
  const pod = {
    metadata: {
      name: 'p',
      annotations: {
        'secrets-agent.io/inject': 'true',
        'secrets-agent.io/secret-x': 'x',
        'secrets-agent.io/bogus': 'y',
      },
    },
    spec: { containers: [{ name: 'a' }] },
  };
  const result = admit(reviewFor(pod, { namespace: 'team-a' }));
  t.equal(result.pod, 'team-a/p');
  t.match(result.review.response.status?.message ?? '', /^pod team-a\/p: 1 problem with/);
  t.end();
});

t.test('the default options are what the README says', (t) => {
  t.same(DEFAULT_INJECTOR_OPTIONS, {
    image: 'secrets-agent:0.1.0',
    nativeSidecar: true,
    agentPort: 9102,
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } },
    volumeSizeLimit: '16Mi',
    fallbackUser: 65532,
  });
  t.ok(Object.isFrozen(DEFAULT_INJECTOR_OPTIONS));
  t.end();
});

t.test('the answer is written as JSON.stringify writes it, whatever the review holds', (t) => {
  // Text that looks like the patch member, quotes, escapes and non-ASCII, wherever text goes.
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('"patch":""', '\\"patch\\":\\"\\"', '","patch":"', '\\', '\u2028é"'),
  );
  const review = fc.record(
    {
      uid: text,
      allowed: fc.boolean(),
      ops: fc.array(fc.record({ op: fc.constant('add' as const), path: text, value: text })),
      status: fc.record({ code: fc.integer(), message: text }),
      warnings: fc.array(text, { maxLength: 3 }),
    },
    { requiredKeys: ['uid', 'allowed'] },
  );
  fc.assert(
    fc.property(review, ({ uid, allowed, ops, status, warnings }) => {
      const r: AdmissionReviewResponse = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid,
          allowed,
          ...(ops === undefined ? {} : { patchType: 'JSONPatch', patch: encodePatch(ops) }),
          ...(status === undefined ? {} : { status }),
          ...(warnings === undefined ? {} : { warnings }),
        },
      };
      return reviewJson(r) === JSON.stringify(r);
    }),
    { seed: 0x5eed, numRuns: 2000 },
  );
  const denied = admit(
    reviewFor({
      metadata: { name: 'p', annotations: { 'secrets-agent.io/inject': 'maybe' } },
      spec: { containers: [{ name: 'a' }] },
    }),
  );
  t.equal(denied.outcome, 'denied');
  t.equal(reviewJson(denied.review), JSON.stringify(denied.review), 'a denial too');
  t.end();
});
