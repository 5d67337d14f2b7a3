/**
 * Plain `key-` expressions (field names, one after another) are checked and applied without
 * loading JMESPath. Held to the engine on generated expressions and data: whatever plainKeyPath
 * accepts, JMESPath compiles to the same chain of fields and selects the same value from the
 * same secret (with the agent's bounds in place, which look fields up among an object's own
 * only); whatever it declines goes to the engine. Expressions are generated from the pieces the
 * JMESPath lexer reads specially (quotes, escapes, spaces, dots, brackets, keywords, names every
 * object inherits), data from the same names, nested, with every kind of JSON value.
 */
import fc from 'fast-check';
import t from 'tap';
import { boundJmesPathFunctions } from '../agent/jmespath-bounds.ts';
import { prepareRenderer, renderFile } from '../agent/render.ts';
import { checkAgentConfig, LIMITS, needsJmesPath, type SecretSpec } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { loadJmesPath } from '../common/jmespath.ts';
import { plainKeyPath, selectPath } from '../common/key-path.ts';

const jmespath = await loadJmesPath();
boundJmesPathFunctions(jmespath);

const NAMES = ['a', 'b', 'user', 'db', '_x', 'A9', 'let', 'true', 'null', 'or', 'and'];
/** Written unquoted, these are not one name to JMESPath (a minus, a variable, a letter it lacks). */
const ODD_NAMES = ['api-key', 'a+b', 'x$', '$x', 'é', 'a b', 'a/b', '0'];
const INHERITED = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'length'];
/** Inside quotes: what JSON strings escape, dots, spaces, brackets, and other scripts. */
const QUOTED_PARTS = [
  'a',
  'api-key',
  'a.b',
  ' ',
  '"',
  '\\',
  '\\"',
  '\\n',
  '\n',
  '\t',
  '[0]',
  'é',
  '🔑',
];

const name = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'b'), weight: 3 },
  { arbitrary: fc.constantFrom(...NAMES, ...INHERITED), weight: 2 },
  { arbitrary: fc.constantFrom(...ODD_NAMES), weight: 1 },
);
const quoted = fc
  .array(fc.constantFrom(...QUOTED_PARTS), { maxLength: 3 })
  .map((parts) => `"${parts.join('')}"`);
/** What may stand between two names: mostly a dot. */
const separator = fc.oneof(
  { arbitrary: fc.constant('.'), weight: 8 },
  { arbitrary: fc.constantFrom(' . ', '..', '', '|', '[0].', '[*].', '.*.', '.@.'), weight: 1 },
);
/** What may stand before the first name or after the last. */
const edge = fc.oneof(
  { arbitrary: fc.constant(''), weight: 8 },
  { arbitrary: fc.constantFrom(' ', '.', '@.', '$.', '[0]', '`1`', '&', '9'), weight: 1 },
);
const expression = fc
  .tuple(
    edge,
    fc.array(fc.tuple(fc.oneof({ arbitrary: name, weight: 3 }, quoted), separator), {
      minLength: 1,
      maxLength: 4,
    }),
    edge,
  )
  .map(
    ([before, parts, after]) =>
      before + parts.map(([n, sep], i) => (i === 0 ? n : sep + n)).join('') + after,
  );

/** The names a quoted identifier stands for, as JMESPath reads them (JSON strings). */
const DATA_NAMES = [...NAMES, ...INHERITED, ...ODD_NAMES, 'a.b', ' ', '🔑', ''];
const { value: json } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(0, 1, -1.5, true, false, null, '', 's'),
    tie('object'),
    fc.array(tie('value'), { maxLength: 2 }),
  ),
  object: fc
    .array(fc.tuple(fc.constantFrom(...DATA_NAMES), tie('value')), { maxLength: 4 })
    .map((entries) => Object.fromEntries(entries)),
}));
/** As the agent has it: JSON.parse of the secret's text (a `__proto__` field is its own). */
const data = json.map((v) => JSON.parse(JSON.stringify(v)) as unknown);

/** The names of a chain of fields (Field, and Subexpressions of them), or undefined. */
function fieldChain(node: unknown): string[] | undefined {
  const n = node as { type?: string; name?: string; left?: unknown; right?: unknown };
  if (n.type === 'Field' && typeof n.name === 'string') return [n.name];
  if (n.type !== 'Subexpression') return undefined;
  const left = fieldChain(n.left);
  const right = fieldChain(n.right);
  return left === undefined || right === undefined ? undefined : [...left, ...right];
}

function compiles(expr: string): unknown {
  try {
    return jmespath.compile(expr);
  } catch {
    return undefined;
  }
}

t.test('what plainKeyPath accepts, JMESPath compiles to those fields and selects the same', (t) => {
  let plain = 0;
  let declined = 0;
  let found = 0;
  fc.assert(
    fc.property(expression, fc.array(data, { maxLength: 2 }), json, (expr, datas, leaf) => {
      const path = plainKeyPath(expr);
      if (path === undefined) {
        declined += 1;
        return;
      }
      plain += 1;
      const node = compiles(expr);
      t.same(fieldChain(node), path, `JMESPath reads ${JSON.stringify(expr)} as these fields`);
      // A secret that has the fields, down to a leaf of any kind, besides ones that may not.
      const along = JSON.parse(
        JSON.stringify(path.reduceRight<unknown>((inner, n) => ({ [n]: inner }), leaf)),
      ) as unknown;
      for (const d of [along, ...datas]) {
        const ours = selectPath(d, path);
        if (ours !== null) found += 1;
        t.same(ours, jmespath.TreeInterpreter.search(node as never, d as never), expr);
      }
    }),
    { numRuns: 3000 },
  );
  // The generators reach both sides of the line, and fields found as well as missing.
  t.ok(plain > 500, `plain expressions generated: ${plain}`);
  t.ok(declined > 500, `declined expressions generated: ${declined}`);
  t.ok(found > 200, `selections that found a value: ${found}`);
  t.comment(`plain ${plain}, declined ${declined}, found ${found}`);
  t.end();
});

t.test('what users write is plain; what needs JMESPath is not', async (t) => {
  for (const [expr, names] of [
    ['password', ['password']],
    ['db.host', ['db', 'host']],
    ['"api-key"', ['api-key']],
    ['"api-key".value', ['api-key', 'value']],
    ['_private.A9', ['_private', 'A9']],
    ['""', ['']],
  ] as const)
    t.same(plainKeyPath(expr), names, expr);
  for (const expr of [
    'users[0]',
    'a.*',
    'a | b',
    ' a',
    'a .b',
    'a.',
    '.a',
    '"a\\"b"',
    '"a\\u0041"',
    'length(a)',
    '@',
    '$.a',
    '9a',
    '',
  ])
    t.equal(plainKeyPath(expr), undefined, expr);
});

t.test('a field every object inherits selects nothing, on both paths', async (t) => {
  await prepareRenderer([{ name: 'x', id: 'x', key: 'a[0]', format: 'raw', extract: false }]);
  const value = { string: '{"a":{"b":1},"own":{"constructor":"c"}}', versionId: 'v1', arn: 'x' };
  const render = (key: string): string => {
    const spec: SecretSpec = { name: 'f', id: 'prod/x', key, format: 'raw', extract: false };
    try {
      return new TextDecoder().decode(renderFile(spec, value));
    } catch (err) {
      if (err instanceof AgentError) return err.message;
      throw err;
    }
  };
  for (const key of ['constructor', '__proto__', 'toString', 'a.hasOwnProperty', 'a.b.toFixed']) {
    t.not(plainKeyPath(key), undefined, `${key}: plain`);
    t.match(render(key), /selected nothing$/, `${key}: without the engine`);
    // The same fields behind a pipe, which only the engine reads.
    t.match(render(`@ | ${key}`), /selected nothing$/, `@ | ${key}: with the engine`);
  }
  t.equal(render('own.constructor'), 'c', 'a field of that name that the secret has');
  t.equal(render('@ | own.constructor'), 'c');
});

t.test('a configuration of plain keys needs no JMESPath engine', async (t) => {
  const doc = (key: unknown): { secrets: unknown[] } => ({
    secrets: [{ name: 'a', id: 'prod/db', key }],
  });
  t.notOk(needsJmesPath(doc('password')));
  t.notOk(needsJmesPath(doc('"api-key".value')));
  t.ok(needsJmesPath(doc('users[0]')));
  t.notOk(needsJmesPath(doc(7)), 'not a string: refused without the engine');
  t.ok(checkAgentConfig(doc('db.host')).ok, 'checked without the engine');
  t.match(checkAgentConfig(doc(7)), { ok: false, problems: [{ path: ['secrets', 0, 'key'] }] });
  t.throws(
    () => checkAgentConfig(doc('users[0]')),
    /the JMESPath engine was not loaded/,
    'never accepted unchecked',
  );
  const bad = checkAgentConfig(doc('users['), { jmespath });
  t.match(bad, { ok: false, problems: [{ path: ['secrets', 0, 'key'], kind: 'invalid' }] });
  t.ok(checkAgentConfig(doc('users[0]'), { jmespath }).ok);
});

t.test('a plain key past the length bound is refused by that bound, engine or not', (t) => {
  const doc = (key: string): unknown => ({ secrets: [{ name: 'a', id: 'prod/db', key }] });
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 * LIMITS.keyLength }),
      fc.constantFrom('a', 'ab_9', '"x-y"'),
      (length, segment) => {
        // Segments joined by dots, cut to `length` where that still leaves a plain key.
        let key = segment;
        while (key.length + 1 + segment.length <= length) key += `.${segment}`;
        t.not(plainKeyPath(key), undefined);
        const checked = checkAgentConfig(doc(key));
        if (key.length <= LIMITS.keyLength) t.ok(checked.ok, `${key.length} characters`);
        else
          t.match(checked, {
            ok: false,
            problems: [{ path: ['secrets', 0, 'key'], kind: 'too-long' }],
          });
      },
    ),
    { numRuns: 200 },
  );
  t.end();
});
