/**
 * Plain templates (text and `{{ field }}` references) are checked and rendered without loading
 * Handlebars. Held to Handlebars on generated templates and secrets: whatever plainTemplate
 * accepts, Handlebars compiles, finds linear, and renders to the same text or fails with the same
 * message; whatever it declines goes to Handlebars. Templates are generated from the pieces
 * Handlebars reads specially (braces, escapes, whitespace control, keywords, helpers, names a
 * value inherits), data from the same names, nested, with every kind of JSON value.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  compileTemplate,
  compileWithEngine,
  loadTemplateEngine as loadAgentEngine,
} from '../agent/template.ts';
import { needsTemplateEngine } from '../common/config.ts';
import {
  isLinearTemplate,
  LINEAR_TEMPLATE_FIELDS,
  loadTemplateEngine,
  plainTemplate,
  templateProblem,
} from '../common/template.ts';

/** Around the longest tag plainTemplate reads itself (LIMIT_TAG_LENGTH: 256 characters). */
const LONG_NAMES = [250, 251, 252, 253, 254].map((n) => 'l'.repeat(n));
const NAMES = [
  ...['a', 'b', 'user', 'name', 'db', 'a-b', '$x', '_', 'length', 'constructor', '__proto__'],
  // Handlebars reads `{{else` and anything but a word character after it as `{{else …}}`.
  ...['elsewhere', 'else_x', 'else-x', 'else$'],
  ...LONG_NAMES,
];
const ODD_NAMES = ['this', 'else', 'if', 'json', 'lookup', 'each', 'true', 'null', '@root', '0'];

/** Names, mostly `a` and `b`, which the data mostly has: fields found as well as missing. */
function name(names: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom('a', 'b'), weight: 3 },
    { arbitrary: fc.constantFrom(...names), weight: 2 },
  );
}

/** A tag with parts drawn from what Handlebars reads specially: braces, spacing, names. */
function tagOf(p: {
  open: readonly string[];
  names: readonly string[];
  sep: readonly string[];
  close: readonly string[];
}): fc.Arbitrary<string> {
  return fc
    .record({
      open: fc.constantFrom(...p.open),
      before: fc.constantFrom('', ' ', '  ', '\t', '\n'),
      path: fc.array(name(p.names), { minLength: 1, maxLength: 3 }),
      sep: fc.constantFrom(...p.sep),
      after: fc.constantFrom('', ' ', '\t'),
      close: fc.constantFrom(...p.close),
    })
    .map((t) => `${t.open}${t.before}${t.path.join(t.sep)}${t.after}${t.close}`);
}

/** Mostly well-formed references (most of them plain), and some of everything else. */
const tag = fc.oneof(
  { arbitrary: tagOf({ open: ['{{'], names: NAMES, sep: ['.'], close: ['}}'] }), weight: 5 },
  {
    arbitrary: tagOf({
      open: ['{{', '{{{', '{{~', '{{&', '\\{{', '{{#', '{{!', '{{>'],
      names: [...NAMES, ...ODD_NAMES],
      sep: ['.', '/', '..', '.['],
      close: ['}}', '}}}', '~}}', '}', ''],
    }),
    weight: 2,
  },
);

/**
 * Text between tags, with the characters Handlebars' lexer treats apart; often none, so that
 * references meet (`{{a}}{{b}}`: how Handlebars joins them is part of what is compared).
 */
const text = fc.oneof(
  { arbitrary: fc.constant(''), weight: 5 },
  {
    arbitrary: fc
      .array(
        fc.oneof(
          { arbitrary: fc.constantFrom('x', ' ', ':', '/', '@', '\n', '"'), weight: 6 },
          { arbitrary: fc.constantFrom('\r', '\\', '\0', '}', '{', '}}'), weight: 1 },
        ),
        { minLength: 1, maxLength: 6 },
      )
      .map((cs) => cs.join('')),
    weight: 4,
  },
);

const source = fc
  .array(fc.tuple(text, tag), { maxLength: 6 })
  .chain((parts) => text.map((end) => parts.map(([before, t]) => `${before}${t}`).join('') + end));

/** JSON data with the same names, as the agent has it (JSON.parse of the secret's text). */
const { value: json } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    // Numbers and booleans often: `+` adds them where it does not join them as text.
    fc.constantFrom(0, 1, 2, 5432, -1.5, true, false),
    fc.constantFrom(null, '', 's', 'x y'),
    tie('object'),
    fc.array(tie('value'), { maxLength: 2 }),
  ),
  object: fc
    .array(fc.tuple(name(NAMES), tie('value')), { maxLength: 4 })
    .map((entries) => Object.fromEntries(entries)),
}));
/** `a` and `b` (the names tags mostly use): often there, often numbers or booleans. */
const field = fc.oneof(
  { arbitrary: fc.constantFrom(0, 1, 2, 5432, true, false, null, 's'), weight: 3 },
  { arbitrary: json, weight: 1 },
);
const data = fc
  .tuple(
    fc.record({ a: field, b: field }, { requiredKeys: [] }),
    fc.array(fc.tuple(name(NAMES), json), { maxLength: 5 }),
  )
  .map(
    ([ab, entries]) =>
      JSON.parse(JSON.stringify({ ...Object.fromEntries(entries), ...ab })) as object,
  );

function outcome(render: () => string): { text: string } | { error: string } {
  try {
    return { text: render() };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

t.test('what plainTemplate accepts, Handlebars compiles and renders the same', async (t) => {
  const engine = await loadTemplateEngine();
  await loadAgentEngine();
  let plain = 0;
  let declined = 0;
  let failed = 0;
  fc.assert(
    fc.property(source, fc.array(data, { minLength: 1, maxLength: 3 }), (src, datas) => {
      if (plainTemplate(src) === undefined) {
        declined += 1;
        return;
      }
      plain += 1;
      t.equal(
        templateProblem(engine, src),
        undefined,
        `Handlebars compiles ${JSON.stringify(src)}`,
      );
      t.ok(isLinearTemplate(engine, src), `and finds it linear: ${JSON.stringify(src)}`);
      const ours = compileTemplate(src);
      const theirs = compileWithEngine(src);
      t.ok(ours.linear);
      for (const d of datas) {
        const got = outcome(() => ours.render(d as Record<string, unknown>));
        if ('error' in got) failed += 1;
        t.same(
          got,
          outcome(() => theirs.render(d as Record<string, unknown>)),
          JSON.stringify(src),
        );
      }
    }),
    { numRuns: 3000 },
  );
  // The generators reach both sides of the line, and renders that fail as well as succeed.
  t.ok(plain > 300, `plain templates generated: ${plain}`);
  t.ok(declined > 300, `declined templates generated: ${declined}`);
  t.ok(failed > 50, `failing renders compared: ${failed}`);
  t.comment(`plain ${plain}, declined ${declined}, failing renders ${failed}`);
});

t.test('what users write is plain; what needs Handlebars is not', async (t) => {
  for (const src of [
    'postgres://{{username}}:{{password}}@{{host}}:{{port}}/app',
    '{{ db.host }}\n{{ db.port }}',
    'key={{api-key}}',
    'no fields at all',
    '',
  ])
    t.not(plainTemplate(src), undefined, src);
  for (const src of [
    '{{#each list}}{{this}}{{/each}}',
    '{{json user}}',
    '{{{user}}}',
    '{{~user}}',
    '\\{{user}}',
    '{{@root.user}}',
    '{{user.length}}',
    'a\r\n{{user}}',
    '{{a}}'.repeat(LINEAR_TEMPLATE_FIELDS + 1),
    '{{else-x}}',
    `{{${'l'.repeat(252)}}}}`,
  ])
    t.equal(plainTemplate(src), undefined, src);
});

t.test('fields that meet are joined as text, on both paths, in blocks too', async (t) => {
  await loadAgentEngine();
  const data = { major: 1, minor: 2, on: true, list: [{ a: 1, b: 2 }] };
  for (const [src, want] of [
    ['{{major}}{{minor}}', '12'],
    ['{{on}}{{major}}', 'true1'],
    ['{{major}}{{minor}}{{#if on}}!{{/if}}', '12!'],
    ['{{#each list}}{{a}}{{b}}{{/each}}', '12'],
    ['{{minor}}', '2'],
  ] as const) {
    t.equal(compileWithEngine(src).render(data), want, `Handlebars: ${src}`);
    if (plainTemplate(src) !== undefined) t.equal(compileTemplate(src).render(data), want, src);
  }
});

t.test('a configuration of plain templates needs no template engine', async (t) => {
  const doc = (template: string): unknown => ({ secrets: [{ id: 'prod/db', template }] });
  t.notOk(needsTemplateEngine(doc('{{username}}:{{password}}')));
  t.ok(needsTemplateEngine(doc('{{#if username}}{{username}}{{/if}}')));
  t.ok(needsTemplateEngine({ secrets: [{ id: 'x', template: 7 }] }), 'not a string: checked');
});
