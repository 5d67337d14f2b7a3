/**
 * The partial JSON reader (injector/partial-json.ts) against `JSON.parse`, by properties: it
 * accepts exactly what JSON.parse accepts, builds what it is asked to build as JSON.parse would,
 * keeps the rest as text that parses to the same, and writes it back as JSON.stringify does.
 * The diff (injector/patch.ts) over a pod read as text gives the patch of the pod parsed whole.
 * `FUZZ_SEED=n` replays a seed.
 */
import fc from 'fast-check';
import t from 'tap';
import { admit, readAdmissionReview, admitRequest } from '../injector/admission.ts';
import { injectPod } from '../injector/inject.ts';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import {
  isRecord,
  JsonBoundError,
  JsonSyntaxError,
  MAX_BUILT_LIST_ITEMS,
  MAX_JSON_DEPTH,
  objectShape,
  parsePartial,
  RawJson,
  stringifyJson,
  type Shape,
} from '../injector/partial-json.ts';
import { parsePod, POD_SHAPE, type Container, type Pod } from '../injector/types.ts';
import { applyTo, loadPod, patchOf, reviewFor } from './injector-support.ts';
import { OPTED_IN } from './helpers/pathological.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x9a271a1);
const RUNS = { seed: SEED, numRuns: 400 };

/** A RawJson replaced by what its text parses to: the value JSON.parse would have built. */
function resolved(value: unknown): unknown {
  if (value instanceof RawJson) return JSON.parse(value.text) as unknown;
  if (Array.isArray(value)) return value.map(resolved);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      Object.defineProperty(out, k, { value: resolved(v), enumerable: true, writable: true });
    return out;
  }
  return value;
}

const shapeArb: fc.Arbitrary<Shape> = fc.letrec<{ shape: Shape }>((tie) => ({
  shape: fc.oneof(
    { depthSize: 'small' },
    fc.constant<Shape>('all'),
    fc
      .dictionary(fc.constantFrom('a', 'b', 'c', 'spec', '__proto__', ''), tie('shape'), {
        maxKeys: 3,
      })
      .map((fields) => objectShape(fields)),
    tie('shape').map((items) => ({ items, maxItems: 1000 })),
  ),
})).shape;

/** JSON text with whitespace, escapes and exponents JSON.stringify never writes. */
const textArb: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.jsonValue().map((v) => JSON.stringify(v, null, 2)),
  fc.constantFrom(
    ' {"a" : [1.5e3, -0, 0.25E-2, true,false , null], "b":"\\u00e9\\n\\"\\/", "a": {"x":1}} ',
    '{"__proto__": {"polluted": 1}, "c": [{"__proto__": []}]}',
    '[[], {}, [[]], {"": ""}, "\\ud800"]',
    '\t\n\r 7 ',
  ),
);

t.test('what it builds, it builds as JSON.parse does; the rest is text of the same', (t) => {
  fc.assert(
    fc.property(textArb, shapeArb, (text, shape) => {
      const read = parsePartial(text, shape);
      t.same(resolved(read), JSON.parse(text), `${text} along ${JSON.stringify(shape)}`);
      return true;
    }),
    RUNS,
  );
  t.same(parsePartial('{"a":1,"a":2}', 'all'), { a: 2 }, 'the last of duplicate keys wins');
  const proto = parsePartial('{"__proto__":{"x":1}}', objectShape({})) as Record<string, unknown>;
  t.ok(Object.hasOwn(proto, '__proto__'), '"__proto__" is an own member');
  t.equal(Object.getPrototypeOf(proto), Object.prototype, 'never the prototype');
  t.equal(({} as Record<string, unknown>)['x'], undefined, 'nothing polluted');
  const kept = parsePartial('{"a":{"b":[1, 2]},"c":3}', objectShape({})) as Record<string, unknown>;
  t.ok(kept['a'] instanceof RawJson, 'an object the shape does not name stays text');
  t.equal((kept['a'] as RawJson).text, '{"b":[1, 2]}', 'verbatim');
  t.equal(kept['c'], 3, 'a number is built');
  t.ok(
    parsePartial('[1]', objectShape({})) instanceof RawJson,
    'a value of the wrong type for its shape stays text, which shape checks reject',
  );
  t.notOk(isRecord(new RawJson('{}')), 'and a RawJson is never a plain object');
  t.end();
});

/** What a syntax error says: a reason from a fixed list and an offset, nothing of the text. */
const MESSAGE =
  /^(unexpected character|unexpected end|bad escape|bad number|unterminated string|control character in string|nested deeper than \d+ levels) at offset \d+$/;

t.test('it refuses exactly what JSON.parse refuses, saying where and never what', (t) => {
  const broken = fc.oneof(
    // Valid JSON with one character deleted, replaced or inserted.
    fc
      .tuple(textArb, fc.nat(), fc.constantFrom('', ',', '"', '{', ']', '\\', '\u0001', 'x', '0'))
      .map(([text, at, c]) => {
        const i = text.length === 0 ? 0 : at % text.length;
        return `${text.slice(0, i)}${c}${text.slice(i + (c === '' ? 1 : at % 2))}`;
      }),
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      '',
      ' ',
      '01',
      '1.',
      '.5',
      '-',
      '1e',
      '+1',
      'tru',
      'nul',
      '"\\x"',
      '"\\u12g4"',
      '"a\nb"',
      '{"a" 1}',
      '{"a":1,}',
      '[1,]',
      '[1 2]',
      '{a:1}',
      "'a'",
      '"unterminated',
      '[',
      '{"a":',
      '\ufeff{}',
      '{} {}',
      'NaN',
    ),
  );
  fc.assert(
    fc.property(broken, shapeArb, (text, shape) => {
      let native: unknown;
      try {
        JSON.parse(text);
      } catch (err) {
        native = err;
      }
      let ours: unknown;
      try {
        parsePartial(text, shape);
      } catch (err) {
        ours = err;
      }
      if (native === undefined) return ours === undefined;
      return ours instanceof JsonSyntaxError && MESSAGE.test(ours.message);
    }),
    RUNS,
  );
  const secret = 'pod-content-canary-91c';
  const err = t.throws(() => parsePartial(`{"a":"${secret}" "b":1}`, objectShape({})));
  t.notMatch(String(err), secret, 'the message names an offset, not the text');
  t.match(String(err), /offset 30/);
  t.end();
});

t.test('nesting is bounded without overflowing the stack', (t) => {
  const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
  t.same(resolved(parsePartial(deep(100), objectShape({}))), JSON.parse(deep(100)));
  const err = t.throws(() => parsePartial(`[${deep(MAX_JSON_DEPTH + 1)}]`, objectShape({})));
  t.ok(err instanceof JsonSyntaxError, 'a syntax error, not a RangeError');
  t.match(String(err), /nested deeper than 10000 levels/);
  t.throws(
    () =>
      parsePartial(
        `${'{"a":'.repeat(MAX_JSON_DEPTH + 2)}1${'}'.repeat(MAX_JSON_DEPTH + 2)}`,
        objectShape({}),
      ),
    JsonSyntaxError,
  );
  t.end();
});

t.test('stringifyJson writes what JSON.stringify writes, and RawJson as its text', (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => stringifyJson(v) === JSON.stringify(v)),
    RUNS,
  );
  t.equal(
    stringifyJson({
      a: [new RawJson('{"x" : 1}'), undefined],
      b: undefined,
      c: new RawJson('[ ]'),
    }),
    '{"a":[{"x" : 1},null],"c":[ ]}',
  );
  t.end();
});

// ---------------------------------------------------------------------------------------------
// Pods read as text

/** A pod through the whole pipeline, read from text along POD_SHAPE. */
function fromText(pod: unknown): Pod {
  return parsePod(parsePartial(JSON.stringify(pod), POD_SHAPE));
}

function answer(review: unknown): string {
  return JSON.stringify(admitRequest(readAdmissionReview(JSON.stringify(review))).review);
}

t.test('a pod read as text gets the patch of the pod parsed whole', (t) => {
  const fixtures = [
    'minimal.yaml',
    'existing-init.yaml',
    'several-containers.yaml',
    'irsa-webhook-first.yaml',
    'automount-off.yaml',
    'all-annotations.yaml',
    'job-native.yaml',
  ];
  for (const file of fixtures) {
    const pod = loadPod(file);
    t.equal(answer(reviewFor(pod)), JSON.stringify(admit(reviewFor(pod)).review), file);
  }
  // Init containers the agent moves down, with parts the injector never reads.
  const pod = {
    metadata: { name: 'p', annotations: OPTED_IN },
    spec: {
      initContainers: [
        { name: 'a', command: ['sh', '-c', 'a'], resources: { limits: { cpu: '1' } } },
        { name: 'b', command: ['sh', '-c', 'b'], ports: [{ containerPort: 8080 }] },
      ],
      containers: [{ name: 'app', image: 'app:1', args: ['--x'], tolerations: [{}] }],
      tolerations: [{ key: 'k', operator: 'Exists' }],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
  };
  const whole = admit(reviewFor(pod));
  t.equal(answer(reviewFor(pod)), JSON.stringify(whole.review), 'moved init containers');
  const init = patchOf(whole).filter((op) => op.path.startsWith('/spec/initContainers/'));
  t.same(
    init.filter((op) => !op.path.endsWith('/volumeMounts')),
    [
      {
        op: 'add',
        path: '/spec/initContainers/0',
        value: applyTo(pod, patchOf(whole)).spec.initContainers?.[0],
      },
    ],
    'the agent is one add at index 0; the init containers it moves down get no operation of their own',
  );
  t.same(
    init.filter((op) => op.path.endsWith('/volumeMounts')).map((op) => op.path),
    ['/spec/initContainers/1/volumeMounts', '/spec/initContainers/0/volumeMounts'],
    'only the mount each target gets, at its index before the agent is added',
  );
  const applied = applyTo(pod, patchOf(whole));
  const withoutMounts = (c: Container): object =>
    Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'volumeMounts'));
  t.same(
    applied.spec.initContainers?.slice(1).map(withoutMounts),
    pod.spec.initContainers,
    'and the patch applies: the agent first, then the init containers as they were (and the mount)',
  );
  t.end();
});

t.test('the injector never writes to the pod it is given', (t) => {
  const deepFreeze = <T>(v: T): T => {
    if (typeof v === 'object' && v !== null) {
      for (const x of Object.values(v)) deepFreeze(x);
      Object.freeze(v);
    }
    return v;
  };
  for (const file of ['existing-init.yaml', 'irsa-webhook-first.yaml', 'env-vars.yaml']) {
    const pod = deepFreeze(loadPod(file));
    const before = JSON.stringify(pod);
    const result = injectPod(pod, DEFAULT_INJECTOR_OPTIONS);
    t.equal(result.outcome, 'injected', file);
    t.equal(JSON.stringify(pod), before, `${file}: unchanged`);
    // And the same from text, where the untouched parts are RawJson passed through.
    const textual = fromText(pod);
    t.equal(injectPod(deepFreeze(textual), DEFAULT_INJECTOR_OPTIONS).outcome, 'injected');
  }
  t.end();
});

t.test('parts the injector does not read are never built', (t) => {
  const pod = fromText({
    metadata: { name: 'p', annotations: OPTED_IN, labels: { a: 'b' }, managedFields: [{}] },
    spec: {
      containers: [
        {
          name: 'app',
          envFrom: [{}],
          env: [{ name: 'A', value: 'b' }],
          ports: [{ containerPort: 8080 }],
        },
      ],
      initContainers: [{ name: 'secrets-agent-init', command: ['x'] }],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'secrets-agent', hostPath: { path: '/' } },
      ],
      tolerations: [{}, {}],
      securityContext: { runAsUser: 1000 },
    },
    status: { phase: 'Pending' },
  });
  t.ok(pod['status'] instanceof RawJson, 'status');
  t.ok(pod.spec['tolerations'] instanceof RawJson, 'spec.tolerations');
  t.ok(pod.metadata?.['labels'] instanceof RawJson, 'metadata.labels');
  t.ok(pod.spec.containers[0]?.['envFrom'] instanceof RawJson, "a container's envFrom");
  t.ok(pod.spec.volumes?.[0]?.['emptyDir'] instanceof RawJson, "another volume's source");
  t.same(pod.spec.containers[0]?.env, [{ name: 'A', value: 'b' }], 'env is read');
  t.same(pod.spec.containers[0]?.ports, [{ containerPort: 8080 }], 'so are ports');
  t.same(pod.spec.securityContext, { runAsUser: 1000 }, 'the pod securityContext is read');
  t.same(
    pod.spec.initContainers?.[0],
    { name: 'secrets-agent-init', command: ['x'] },
    "a container with the agent's name is read whole",
  );
  t.same(
    pod.spec.volumes?.[1],
    { name: 'secrets-agent', hostPath: { path: '/' } },
    'so is a volume',
  );
  t.end();
});

t.test('a field the injector reads is checked for its type, read from text or not', (t) => {
  const pod = (ports: unknown): unknown => ({
    metadata: { annotations: OPTED_IN },
    spec: { containers: [{ name: 'app', ports }] },
  });
  for (const [ports, message] of [
    ['8080', /spec\.containers\[0\]\.ports must be an array/],
    [{ containerPort: 8080 }, /spec\.containers\[0\]\.ports must be an array/],
    [[{ containerPort: 8080 }, null], /spec\.containers\[0\]\.ports\[1\] must be an object/],
  ] as const) {
    t.throws(() => parsePod(pod(ports)), { name: 'PodShapeError', message }, JSON.stringify(ports));
    t.throws(() => fromText(pod(ports)), { name: 'PodShapeError', message }, 'from text');
  }
  t.end();
});

t.test('a list shape builds at most maxItems, and refuses past them naming the path', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 30 }),
      fc.nat(30),
      (items, maxItems) => {
        const text = JSON.stringify({ a: { b: items } });
        const shape = objectShape({
          a: objectShape({ b: { items: 'all', maxItems } }),
        });
        if (items.length <= maxItems) {
          t.same(resolved(parsePartial(text, shape)), JSON.parse(text));
          return true;
        }
        const err = (() => {
          try {
            parsePartial(text, shape);
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        return (
          err instanceof JsonBoundError &&
          err.path === 'a.b' &&
          err.message === `a.b has more than ${maxItems} items`
        );
      },
    ),
    RUNS,
  );
  const deepList = `{"a":[${Array.from({ length: MAX_BUILT_LIST_ITEMS + 1 }, () => '1').join(',')}]}`;
  const err = t.throws(() => parsePartial(`{"x":${deepList}}`, objectShape({ x: 'all' })));
  t.match(err, { code: 'JSON_BOUND', path: 'x', message: /holds a list of more than 1024 items/ });
  t.doesNotThrow(
    () => parsePartial(`{"x":${deepList}}`, objectShape({})),
    'a part never built is never refused for its size',
  );
  const map = { values: 'all' as const, maxLength: 10 };
  t.same(parsePartial('{"m":{"ab":"cd"}}', objectShape({ m: map })), { m: { ab: 'cd' } });
  t.throws(() => parsePartial('{"m":{"ab":"cd","efgh":"ijkl"}}', objectShape({ m: map })), {
    path: 'm',
    message: 'm holds more than 10 characters',
  });
  t.end();
});
