/**
 * AdmissionReviews with hostile shapes in every field the injector reads or copies: the
 * annotations (many, long, escaped, near misses), owner references, containers and init
 * containers (counts about their bounds, names of the wrong type), their env, mounts, ports
 * and security contexts, volumes, the uid, the envelope; lists of empty, mistyped or deeply
 * nested items; counts below, at and past each bound (POD_BOUNDS); nesting past the reader's.
 * Each review is JSON text of at most `maxBytes`, or a syntax error on purpose.
 */
import fc from 'fast-check';
import { MAX_JSON_DEPTH } from '../../injector/partial-json.ts';
import { POD_BOUNDS } from '../../injector/types.ts';

/** One list item, as text. */
const itemArb = fc.oneof(
  fc.constantFrom('{}', '1', '"x"', 'null', 'true', '[]', '{"name":5}', '{"name":{}}'),
  fc.constantFrom('{"name":"\\u0000\\ud800\\"","value":"\\\\"}', '{"name":"a","mountPath":7}'),
  fc.constantFrom('{"name":"AWS_REGION","value":"mars-1"}', '{"containerPort":"x"}'),
  fc.constantFrom('{"name":"secrets-agent","command":["sh"]}', '{"name":"a","mountPath":"//proc"}'),
  fc.integer({ min: 1, max: 200 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.string({ maxLength: 40 }).map((s) => JSON.stringify({ name: s, value: s })),
);

/** A count about a bound: none, a few, the bound, one past it, far past it. */
function countArb(bound: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.integer({ min: 0, max: 5 }),
    fc.constantFrom(bound, bound + 1),
    fc.integer({ min: 0, max: 3 * bound }),
  );
}

/** A list of `count` copies of one or two hostile items, within `budget` bytes. */
function listArb(bound: number, budget: number): fc.Arbitrary<string> {
  return fc.tuple(countArb(bound), itemArb, itemArb).map(([count, a, b]) => {
    const n = Math.min(count, Math.floor(budget / (Math.max(a.length, b.length) + 1)));
    return `[${Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : b)).join(',')}]`;
  });
}

/**
 * Mostly `sane`, now and then `hostile`: a review hostile everywhere at once is refused at its
 * first bad field, so each field is hostile alone often enough for what follows it to run.
 */
function maybe(sane: string, hostile: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ weight: 6, arbitrary: fc.constant(sane) }, { weight: 1, arbitrary: hostile });
}

const keyArb = fc.oneof(
  fc.constantFrom('secrets-agent.io/inject', 'secret-agent.io/inject', 'secrets.agent.io/x'),
  fc.constantFrom('secrets-agent.io/mount-path', 'secrets-agent.io/containers'),
  fc.constantFrom('secrets-agent.io/status', 'secrets-agent.io/k8s-secret'),
  fc.stringMatching(/^secrets-agent\.io\/(secret|env|key|template|find|param)-[A-Za-z_.-]{1,70}$/),
  fc.string({ maxLength: 80 }),
);
const valueArb = fc.oneof(
  fc.constantFrom('true', 'false', 'injected', '//proc', '/var/run', 'prod/db', 'app'),
  fc.string({ maxLength: 200 }),
  fc.integer({ min: 1, max: 300_000 }).map((n) => 'x'.repeat(n)),
);

const containerArb = (budget: number): fc.Arbitrary<string> =>
  fc
    .record({
      name: maybe(
        '"app"',
        fc.oneof(
          fc.constantFrom('"secrets-agent"', '5', 'null'),
          fc.string().map((s) => JSON.stringify(s)),
        ),
      ),
      env: maybe(
        '[{"name":"A","value":"b"}]',
        listArb(POD_BOUNDS['spec.containers[].env'], budget),
      ),
      volumeMounts: maybe('[]', listArb(POD_BOUNDS['spec.containers[].volumeMounts'], budget / 4)),
      ports: maybe(
        '[{"containerPort":8080}]',
        listArb(POD_BOUNDS['spec.containers[].ports'], budget / 8),
      ),
      securityContext: fc.constantFrom(
        '{}',
        '{"runAsUser":0}',
        '"x"',
        '{"capabilities":{"add":[]}}',
      ),
    })
    .map(
      (c) =>
        `{"name":${c.name},"image":"a:1","env":${c.env},"volumeMounts":${c.volumeMounts},"ports":${c.ports},"securityContext":${c.securityContext}}`,
    );

/** A generated review: its text, shown short in a counterexample. */
export interface HostileReview {
  readonly text: string;
}

function shortly(text: string): HostileReview {
  return {
    text,
    [fc.toStringMethod]: () => `${text.length} bytes: ${text.slice(0, 300)}…${text.slice(-100)}`,
  } as HostileReview;
}

/** A hostile review's text, at most about `maxBytes` long. */
export function hostileReviewArb(maxBytes: number): fc.Arbitrary<HostileReview> {
  const budget = Math.floor(maxBytes / 8);
  return fc
    .record({
      uid: maybe(
        '"u-1"',
        fc.oneof(
          fc.string({ maxLength: 300 }).map((s) => JSON.stringify(s)),
          fc.constant('7'),
        ),
      ),
      optIn: fc.oneof(
        { weight: 4, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      annotations: fc.oneof(
        { weight: 2, arbitrary: fc.constant({ 'secrets-agent.io/secret-db': 'prod/db' }) },
        { weight: 1, arbitrary: fc.dictionary(keyArb, valueArb, { maxKeys: 30 }) },
      ),
      owners: maybe('[]', listArb(POD_BOUNDS['metadata.ownerReferences'], budget / 8)),
      containers: fc.array(containerArb(budget / 4), { minLength: 1, maxLength: 3 }),
      manyContainers: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: countArb(POD_BOUNDS['spec.containers']) },
      ),
      initContainers: fc.array(containerArb(budget / 4), { maxLength: 2 }),
      volumes: maybe('[]', listArb(POD_BOUNDS['spec.volumes'], budget / 4)),
      deep: fc.oneof(
        { weight: 6, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.constantFrom(MAX_JSON_DEPTH - 10, MAX_JSON_DEPTH + 1) },
      ),
      broken: fc.integer({ min: 0, max: 20 }),
    })
    .map((r) => {
      const annotations: Record<string, string> = { ...r.annotations };
      if (r.optIn) annotations['secrets-agent.io/inject'] = 'true';
      // Within the budget: one long value is enough to pass Kubernetes' annotation size.
      let annotationsText = JSON.stringify(annotations);
      if (annotationsText.length > maxBytes / 2)
        annotationsText = JSON.stringify({ 'secrets-agent.io/inject': 'true' });
      const extra = Array.from(
        { length: Math.min(r.manyContainers, Math.floor(budget / 20)) },
        (_, i) => `{"name":"c${i}"}`,
      );
      const containers = `[${[...r.containers, ...extra].join(',')}]`;
      const deep = r.deep === 0 ? '0' : `${'['.repeat(r.deep)}${']'.repeat(r.deep)}`;
      const pod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":${annotationsText},"ownerReferences":${r.owners}},"spec":{"containers":${containers},"initContainers":[${r.initContainers.join(',')}],"volumes":${r.volumes},"securityContext":{"x":${deep}}}}`;
      const text = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":${r.uid},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","namespace":"shop","object":${pod}}}`;
      // Now and then, not JSON at all.
      return shortly(r.broken === 0 ? text.slice(0, -1) : text);
    });
}
