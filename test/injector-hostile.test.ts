/**
 * The injector's bounds where data enters, in-process: every list it reads refused past its
 * bound before it is built (POD_BOUNDS), problems kept up to MAX_PROBLEMS in the collector,
 * every answer within MAX_ANSWER_BYTES and every error within MAX_ERROR_ANSWER, and patches
 * bounded by what the injector adds, not by the pod (generated pods, applied and compared with
 * the intended pod). Each finding of the hostile-input review has its case here.
 * (Over HTTPS, against the webhook process: test/webhook-hostile.test.ts.)
 * `FUZZ_SEED=n` replays a seed; `FUZZ_RUNS=n` runs more.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  admit,
  admitRequest,
  AdmissionReviewError,
  MAX_ANSWER_BYTES,
  MAX_ERROR_ANSWER,
  readAdmissionReview,
  reviewJson,
  type AdmissionResult,
} from '../injector/admission.ts';
import { injectPod } from '../injector/inject.ts';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import { annotationPath, MAX_PROBLEMS } from '../injector/problems.ts';
import { AGENT_NODE_OPTIONS, POD_BOUNDS, type Container, type Pod } from '../injector/types.ts';
import { createLogger, MAX_LOG_LINE } from '../common/log.ts';
import { applyTo, patchOf, reviewFor } from './injector-support.ts';
import { OPTED_IN } from './helpers/pathological.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x17b0);
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 40);

const REVIEW_HEAD =
  '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",' +
  '"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE",' +
  '"namespace":"shop","object":';

/** A review's text around a pod's text. */
function reviewText(pod: string): string {
  return `${REVIEW_HEAD}${pod}}}`;
}

/** The answer a review's text gets in-process: the review's JSON, or the 400's error. */
function answer(text: string): { status: number; body: string; result?: AdmissionResult } {
  try {
    const result = admitRequest(readAdmissionReview(text));
    return { status: 200, body: reviewJson(result.review), result };
  } catch (err) {
    if (!(err instanceof AdmissionReviewError)) throw err;
    return { status: 400, body: JSON.stringify({ error: err.message }) };
  }
}

/** Hostile list items: empty, wrong types, names of the wrong type, deep, escaped. */
const itemArb = fc.constantFrom(
  '{}',
  '1',
  '"x"',
  'null',
  '[]',
  '{"name":5}',
  '{"name":"\\u0000\\"\\\\"}',
  '[[[[[[[[]]]]]]]]',
  '{"name":"a","value":"b"}',
);

/** Where each bounded list sits in a pod's text, the list standing for `LIST`. */
const LIST_PLACES: Readonly<Record<keyof typeof POD_BOUNDS, string>> = {
  'metadata.annotations': '',
  'metadata.ownerReferences': `{"metadata":{"annotations":${JSON.stringify(OPTED_IN)},"ownerReferences":LIST},"spec":{"containers":[{"name":"app"}]}}`,
  'spec.containers': `{"metadata":{"annotations":${JSON.stringify(OPTED_IN)}},"spec":{"containers":LIST}}`,
  'spec.initContainers': `{"metadata":{"annotations":${JSON.stringify(OPTED_IN)}},"spec":{"containers":[{"name":"app"}],"initContainers":LIST}}`,
  'spec.volumes': `{"metadata":{"annotations":${JSON.stringify(OPTED_IN)}},"spec":{"containers":[{"name":"app"}],"volumes":LIST}}`,
  'spec.containers[].env': `{"metadata":{"annotations":${JSON.stringify(OPTED_IN)}},"spec":{"containers":[{"name":"app","env":LIST}]}}`,
  'spec.containers[].volumeMounts': `{"metadata":{"annotations":${JSON.stringify(OPTED_IN)}},"spec":{"containers":[{"name":"app","volumeMounts":LIST}]}}`,
  'spec.containers[].ports': `{"metadata":{"annotations":${JSON.stringify(OPTED_IN)}},"spec":{"containers":[{"name":"app","ports":LIST}]}}`,
};
const LISTS = (Object.keys(POD_BOUNDS) as (keyof typeof POD_BOUNDS)[]).filter(
  (k) => LIST_PLACES[k] !== '',
);

t.test('a list past its bound is refused before it is built, naming the field', (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(...LISTS),
      itemArb,
      fc.integer({ min: 1, max: 2000 }),
      (field, item, extra) => {
        const count = POD_BOUNDS[field] + extra;
        const list = `[${Array.from({ length: count }, () => item).join(',')}]`;
        const { status, body } = answer(reviewText(LIST_PLACES[field].replace('LIST', list)));
        const path = `request.object.${field.replace('[]', '[0]')}`;
        return (
          status === 400 &&
          body.includes(`${path} has more than ${POD_BOUNDS[field]} items`) &&
          body.length <= MAX_ERROR_ANSWER + 32
        );
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
  t.pass(`${RUNS} generated pods, seed ${SEED}`);
  t.end();
});

t.test(
  'within the bounds, hostile items cost a bounded answer: problems kept, rest counted',
  (t) => {
    fc.assert(
      fc.property(fc.constantFrom(...LISTS), itemArb, fc.nat(4096), (field, item, n) => {
        const count = Math.min(POD_BOUNDS[field], n);
        const list = `[${Array.from({ length: count }, () => item).join(',')}]`;
        const { status, body } = answer(reviewText(LIST_PLACES[field].replace('LIST', list)));
        if (status === 400) return body.length <= MAX_ERROR_ANSWER + 32;
        return body.length <= MAX_ANSWER_BYTES;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The collector itself stops: 4096 bad env vars, MAX_PROBLEMS kept and the rest counted.
    const env = `[${Array.from({ length: POD_BOUNDS['spec.containers[].env'] }, () => '{}').join(',')}]`;
    const text = reviewText(LIST_PLACES['spec.containers[].env'].replace('LIST', env));
    const err = t.throws(
      () => readAdmissionReview(text) && admitRequest(readAdmissionReview(text)),
    );
    const problems = ((err as { cause?: { problems?: string[] } }).cause?.problems ?? []).length;
    t.equal(problems, MAX_PROBLEMS + 1, 'MAX_PROBLEMS kept, and one entry for the rest');
    t.match((err as Error).message, new RegExp(`and ${4096 - MAX_PROBLEMS} more$`));
    t.end();
  },
);

t.test('the 300 KB pod of empty env vars: refused in a short 400, not a 5 MB answer', (t) => {
  const env = `[${Array.from({ length: 100_000 }, () => '{}').join(',')}]`;
  const text = reviewText(LIST_PLACES['spec.containers[].env'].replace('LIST', env));
  t.ok(text.length > 300_000);
  const { status, body } = answer(text);
  t.equal(status, 400);
  t.ok(body.length < 300, `${body.length} bytes: ${body}`);
  t.match(body, /request\.object\.spec\.containers\[0\]\.env has more than 4096 items/);
  t.end();
});

t.test('annotations past Kubernetes’ 256 KiB are refused before they are all built', (t) => {
  const annotations = { ...OPTED_IN, big: 'x'.repeat(POD_BOUNDS['metadata.annotations']) };
  const pod = { metadata: { annotations }, spec: { containers: [{ name: 'app' }] } };
  const { status, body } = answer(reviewText(JSON.stringify(pod)));
  t.equal(status, 400);
  t.match(body, /request\.object\.metadata\.annotations holds more than 262144 characters/);
  t.end();
});

/** An opted-in pod with the given containers and extra annotations. */
function pod(
  spec: { containers: Container[]; initContainers?: Container[] },
  extra: Record<string, string> = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'shop', annotations: { ...OPTED_IN, ...extra } },
    spec,
  };
}

const envArb = fc.array(
  fc.record({
    name: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,12}$/),
    value: fc.string({ maxLength: 40 }),
  }),
  { maxLength: 60 },
);
const mountsArb = fc.uniqueArray(
  fc.record({
    name: fc.constantFrom('data', 'cfg'),
    mountPath: fc.stringMatching(/^\/d\/[a-z]{1,8}$/),
  }),
  { maxLength: 12, selector: (m) => m.mountPath },
);
const portsArb = fc.uniqueArray(fc.record({ containerPort: fc.integer({ min: 1, max: 9000 }) }), {
  maxLength: 6,
  selector: (p) => p.containerPort,
});
const containerArb = (prefix: string): fc.Arbitrary<Container[]> =>
  fc
    .array(fc.record({ env: envArb, volumeMounts: mountsArb, ports: portsArb }), {
      minLength: prefix === 'app' ? 1 : 0,
      maxLength: 3,
    })
    .map((cs) => cs.map((c, i) => ({ name: `${prefix}-${i}`, image: 'x:1', ...c })));
const annotationsArb = fc.record({
  mode: fc.constantFrom('sidecar', 'init'),
  native: fc.boolean(),
  env: fc.uniqueArray(fc.stringMatching(/^ANN_[A-Z]{1,6}$/), { maxLength: 5 }),
});

/** A container's lists padded with `n` items the injector never changes. */
function padded(c: Container, n: number): Container {
  const more = Array.from({ length: n }, (_, i) => ({ name: `PAD_${i}`, value: 'x'.repeat(50) }));
  return { ...c, env: [...more, ...(c.env ?? [])] };
}

t.test('a patch is bounded by what the injector adds, and applies to the intended pod', (t) => {
  fc.assert(
    fc.property(
      containerArb('app'),
      containerArb('init'),
      annotationsArb,
      fc.integer({ min: 100, max: 3000 }),
      (containers, initContainers, a, pad) => {
        const extra: Record<string, string> = {
          'secrets-agent.io/mode': a.mode,
          'secrets-agent.io/native-sidecar': String(a.native),
          ...(a.env.length > 0 ? { 'secrets-agent.io/k8s-secret': 'app' } : {}),
          ...Object.fromEntries(a.env.map((e) => [`secrets-agent.io/env-${e}`, e.toLowerCase()])),
        };
        const spec = { containers, ...(initContainers.length > 0 ? { initContainers } : {}) };
        const small = pod(spec, extra);
        const result = admit(reviewFor(small));
        if (result.outcome !== 'injected') return result.outcome === 'denied';
        const ops = patchOf(result);
        // What it adds: its containers, volumes and status; per target, its env vars and mount.
        const targets = containers.length + initContainers.length;
        if (ops.length > 8 + targets * (a.env.length + 2)) return false;
        // Applying the patch gives the pod the injector meant.
        const intended = injectPod(small, DEFAULT_INJECTOR_OPTIONS);
        if (intended.outcome !== 'injected') return false;
        t.same(applyTo(small, ops), JSON.parse(JSON.stringify(intended.pod)));
        // The same pod with thousands more env vars the injector leaves alone: the same patch,
        // but for index digits (an env var added after them).
        const big = pod(
          {
            containers: containers.map((c) => padded(c, pad)),
            ...(initContainers.length > 0
              ? { initContainers: initContainers.map((c) => padded(c, pad)) }
              : {}),
          },
          extra,
        );
        const bigOps = patchOf(admit(reviewFor(big)));
        const size = (o: readonly unknown[]): number => JSON.stringify(o).length;
        return bigOps.length === ops.length && size(bigOps) - size(ops) <= ops.length * 6;
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
  t.end();
});

t.test('an init container the agent moves down is no operation, however many env vars', (t) => {
  const env = Array.from({ length: 4000 }, (_, i) => ({ name: `V${i}`, value: 'x' }));
  const p = pod({
    initContainers: [{ name: 'setup', image: 'b:1', env }],
    containers: [{ name: 'app', image: 'a:1' }],
  });
  const ops = patchOf(admit(reviewFor(p)));
  t.ok(ops.length < 10, `${ops.length} operations`);
  t.notOk(
    ops.some((op) => /^\/spec\/initContainers\/\d+\/env\//.test(op.path)),
    'none into its env',
  );
  t.end();
});

t.test('mount paths are normalised before they are checked', (t) => {
  const denied = [
    '//proc',
    '//sys/fs',
    '//etc',
    '/usr//bin',
    '/usr/bin/',
    '/var/run',
    '//var//run/',
  ];
  for (const path of denied) {
    const result = admit(
      reviewFor(pod({ containers: [{ name: 'app' }] }, { 'secrets-agent.io/mount-path': path })),
    );
    t.equal(result.outcome, 'denied', path);
    t.same(
      result.problems?.map(({ kind, path }) => ({ kind, path })),
      [{ kind: 'forbidden', path: annotationPath('mount-path') }],
      path,
    );
  }
  const ok = admit(
    reviewFor(
      pod({ containers: [{ name: 'app' }] }, { 'secrets-agent.io/mount-path': '//etc//app/' }),
    ),
  );
  t.equal(ok.outcome, 'injected');
  t.ok(
    patchOf(ok).some((op) => JSON.stringify(op).includes('"mountPath":"/etc/app"')),
    'the patch carries the normalised path',
  );
  t.end();
});

t.test('a port without containerPort is named as such, never "port undefined"', (t) => {
  const p = pod({ containers: [{ name: 'app', ports: [{ name: 'http' } as never] }] });
  const err = t.throws(() => admit(reviewFor(p)));
  t.match(
    (err as Error).message,
    /spec\.containers\[0\]\.ports\[0\]\.containerPort must be a port number from 1 to 65535/,
  );
  t.notMatch((err as Error).message, /undefined/);
  t.end();
});

t.test("the app's bad AWS_REGION, which the agent copies, is denied like a bad annotation", (t) => {
  const app: Container = { name: 'app', env: [{ name: 'AWS_REGION', value: 'mars-1' }] };
  for (const extra of [{}, { 'secrets-agent.io/region': 'eu-west-1' }]) {
    const result = admit(reviewFor(pod({ containers: [app] }, extra)));
    t.equal(result.outcome, 'denied');
    t.same(
      result.problems?.map(({ kind, path, badValue }) => ({ kind, path, badValue })),
      [{ kind: 'invalid', path: annotationPath('region'), badValue: 'mars-1' }],
    );
  }
  t.end();
});

t.test('a pod that says injected keeps no env or mount of its own in the agent', (t) => {
  const fake: Container = {
    name: 'secrets-agent',
    image: 'secrets-agent:0.1.0',
    restartPolicy: 'Always',
    env: [
      { name: 'NODE_OPTIONS', value: '--require /app/hook.js' },
      { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/app' },
    ],
    volumeMounts: [
      { name: 'app-code', mountPath: '/app' },
      { name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
    ],
  };
  const p: Pod = {
    ...pod(
      { containers: [{ name: 'app' }], initContainers: [fake] },
      {
        'secrets-agent.io/status': 'injected',
      },
    ),
  };
  const result = admit(reviewFor(p));
  t.equal(result.outcome, 'injected');
  const agent = applyTo(p, patchOf(result)).spec.initContainers?.find(
    (c) => c.name === 'secrets-agent',
  );
  const env = (agent?.env ?? []).map((e) => e.name);
  t.same(
    agent?.env?.filter((e) => e.name === 'NODE_OPTIONS'),
    [{ name: 'NODE_OPTIONS', value: AGENT_NODE_OPTIONS.sidecar }],
    "its NODE_OPTIONS is dropped: the injector's own stands",
  );
  t.ok(env.includes('AWS_ROLE_ARN'), "an identity webhook's env var is kept");
  const mounts = (agent?.volumeMounts ?? []).map((m) => m.mountPath);
  t.notOk(mounts.includes('/app'), 'a mount of another volume is dropped');
  t.ok(
    mounts.includes('/var/run/secrets/eks.amazonaws.com/serviceaccount'),
    'a token mount is kept',
  );
  const again = admit(reviewFor(applyTo(p, patchOf(result))));
  t.equal(again.reason, 'already-injected', 'and admitting the result again changes nothing');
  t.end();
});

t.test('errors and log lines are bounded whatever they quote', (t) => {
  const huge = 'x'.repeat(2_000_000);
  const bad = JSON.stringify({ apiVersion: huge, kind: 'AdmissionReview', request: { uid: 'u' } });
  const { status, body } = answer(bad);
  t.equal(status, 400);
  t.ok(body.length < 300, `the apiVersion is quoted short (${body.length} bytes)`);
  const longUid = reviewText('{}').replace('"u-1"', JSON.stringify(huge));
  t.match(answer(longUid).body, /request\.uid is longer than 128 characters/);
  const lines: string[] = [];
  const logger = createLogger({ write: (l: string) => lines.push(l) });
  logger.warn('admission request rejected', {
    error: huge,
    list: Array.from({ length: 50 }, () => huge.slice(0, 3000)),
  });
  logger.error('boom', { error: new Error(huge) });
  for (const line of lines) {
    t.ok(line.length <= MAX_LOG_LINE + 1, `a log line of ${line.length} characters`);
    t.doesNotThrow(() => JSON.parse(line) as unknown, 'still JSON');
  }
  t.end();
});
