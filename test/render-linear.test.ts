/**
 * Renders that cannot loop run without the execution timeout (each timed run starts and joins a
 * watchdog thread, ~1 ms of wall time per render): templates of text and at most
 * LINEAR_TEMPLATE_FIELDS plain field references, and JMESPath expressions that only walk down
 * the data. Generated on both sides of the line: what is linear renders as written, and anything
 * with a block, a helper, a parameter, a partial, one field too many, a projection, a function or
 * a filter is not linear (it keeps the timeout, test/render-budget.test.ts).
 */
import { compile } from '@jmespath-community/jmespath';
import fc from 'fast-check';
import t from 'tap';
import { isLinearExpression } from '../agent/render.ts';
import {
  isLinearTemplate,
  LINEAR_TEMPLATE_FIELDS,
  loadTemplateEngine,
  templateProblem,
} from '../common/template.ts';

const FIELDS = ['username', 'password', 'host', 'port'] as const;
const text = fc.stringMatching(/^[a-z:/@. =-]{0,12}$/);
const field = fc.constantFrom(...FIELDS);

/** Text and field references, alternating: `source` and what it renders to. */
function linearTemplate(max: number): fc.Arbitrary<{ source: string; fields: number }> {
  return fc.array(fc.tuple(text, field), { minLength: 0, maxLength: max }).map((parts) => ({
    source: parts.map(([before, name]) => `${before}{{${name}}}`).join(''),
    fields: parts.length,
  }));
}

const NOT_LINEAR = [
  '{{#each list}}x{{/each}}',
  '{{#if username}}x{{/if}}',
  '{{#with nested}}{{a}}{{/with}}',
  '{{json username}}',
  '{{lookup nested "a"}}',
  '{{username.length}}{{> partial}}',
  '{{lookup}}',
];

t.test('templates of text and field references are linear, and render as written', async (t) => {
  const engine = await loadTemplateEngine();
  const data = { username: 'u', password: 'p', host: 'h', port: 5432 };
  fc.assert(
    fc.property(linearTemplate(LINEAR_TEMPLATE_FIELDS), ({ source }) => {
      if (templateProblem(engine, source) !== undefined) return;
      t.ok(isLinearTemplate(engine, source), source);
      const expected = source.replace(/\{\{(\w+)\}\}/g, (_, name: keyof typeof data) =>
        String(data[name]),
      );
      t.equal(engine.compile(source, { strict: true, noEscape: true })(data), expected);
    }),
    { numRuns: 100 },
  );
});

t.test('a block, a helper, a parameter or a partial makes a template not linear', async (t) => {
  const engine = await loadTemplateEngine();
  fc.assert(
    fc.property(
      linearTemplate(4),
      fc.constantFrom(...NOT_LINEAR),
      linearTemplate(4),
      (before, part, after) => {
        const source = `${before.source}${part}${after.source}`;
        t.notOk(isLinearTemplate(engine, source), source);
      },
    ),
    { numRuns: 100 },
  );
});

t.test('one field reference past the bound makes a template not linear', async (t) => {
  const engine = await loadTemplateEngine();
  const at = '{{username}}'.repeat(LINEAR_TEMPLATE_FIELDS);
  t.ok(isLinearTemplate(engine, at), `${LINEAR_TEMPLATE_FIELDS} references`);
  t.notOk(isLinearTemplate(engine, `${at}{{password}}`), 'one more');
});

/** A path down the data: fields and indexes. */
const path = fc
  .array(
    fc.oneof(
      field,
      fc.nat(9).map((i) => `[${i}]`),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((steps) =>
    steps.reduce(
      (expr, step, i) =>
        i === 0
          ? step.startsWith('[')
            ? `@${step}`
            : step
          : step.startsWith('[')
            ? `${expr}${step}`
            : `${expr}.${step}`,
      '',
    ),
  );

t.test('JMESPath paths down the data are linear; projections and functions are not', (t) => {
  fc.assert(
    fc.property(path, (expr) => {
      t.ok(isLinearExpression(compile(expr)), expr);
    }),
    { numRuns: 100 },
  );
  fc.assert(
    fc.property(
      path,
      fc.constantFrom(
        (p: string) => `${p}[*].a`,
        (p: string) => `length(${p})`,
        (p: string) => `${p}[?a == 'b']`,
        (p: string) => `[${p}, ${p}]`,
        (p: string) => `{a: ${p}}`,
        (p: string) => `${p} | [@, @]`,
        (p: string) => `${p}[]`,
        (p: string) => `${p}[0:2]`,
      ),
      (expr, wrap) => {
        const source = wrap(expr);
        t.notOk(isLinearExpression(compile(source)), source);
      },
    ),
    { numRuns: 100 },
  );
  t.end();
});
