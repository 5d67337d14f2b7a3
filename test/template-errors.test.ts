/**
 * A template that does not compile is refused with words a template's author understands: what
 * is wrong ("a tag is not closed"), never the parser's token names ("unexpected INVALID").
 */
import fc from 'fast-check';
import t from 'tap';
import { loadTemplateEngine, templateProblem } from '../common/template.ts';

const engine = await loadTemplateEngine();

t.test('the usual mistakes, said plainly', (t) => {
  const cases: [string, RegExp][] = [
    ['{{ username }', /a tag is not closed: each \{\{ needs a matching \}\}/],
    ['{{#if ok}}x', /the template ends inside a tag or block/],
    ['x{{/if}}', /a closing \{\{\/\.\.\.\}\} with no block open/],
    ['{{{ password }}', /\{\{\{ \.\.\. \}\}\} needs three closing braces/],
  ];
  for (const [source, words] of cases) {
    const problem = templateProblem(engine, source);
    t.match(problem, words, source);
    t.match(problem, `near ${JSON.stringify(source)}`, 'the template is quoted, to find the spot');
  }
  t.end();
});

t.test('no broken template gets a parser token name', (t) => {
  const pieces = ['{{', '}}', '{{{', '}}}', '{', '}', '#if a', '/if', '#each b', '/each', 'c', ' '];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 12 }), (parts) => {
      const problem = templateProblem(engine, parts.join(''));
      return (
        problem === undefined || !/unexpected [A-Z_]{3,}|\b(INVALID|EOF|OPEN|CLOSE)\b/.test(problem)
      );
    }),
    { numRuns: 500 },
  );
  t.pass('every generated template compiled or was refused in plain words');
  t.end();
});
