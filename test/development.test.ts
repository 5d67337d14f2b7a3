/**
 * docs/development.md holds: the architecture picture names files that exist, in the order of
 * the two pipelines; the table of what the suite needs is the one test/helpers/needs.ts declares,
 * and each test file it names declares that need.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from './helpers/agent-process.ts';
import { REQUIREMENTS } from './helpers/needs.ts';

const doc = readFileSync(join(ROOT, 'docs', 'development.md'), 'utf8');

function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/development.md has no section ${title}`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

t.test('the architecture picture names files that exist, stage by stage', (t) => {
  const picture = /```text\n([\s\S]*?)```/.exec(section('Architecture'))?.[1] ?? '';
  const files = [
    ...picture.matchAll(/\b(?:agent|injector|common|cli|dev|manifests)\/[\w./-]+\.(?:ts|yaml)\b/g),
  ].map((m) => m[0]);
  t.ok(files.length >= 25, `${files.length} files named`);
  for (const file of new Set(files)) t.ok(existsSync(join(ROOT, file)), `${file} exists`);
  // The stages, each at the start of a line, in the order data flows through them.
  const stages = [
    'annotation',
    'contract',
    'plan',
    'patch',
    'config',
    'sources',
    'render',
    'sinks',
  ];
  const at = stages.map((stage) => picture.search(new RegExp(`^ ${stage}\\b`, 'm')));
  t.notOk(at.includes(-1), `every stage is drawn: ${stages.join(' → ')}`);
  t.same(
    at,
    [...at].sort((a, b) => a - b),
    'in pipeline order',
  );
  t.end();
});

t.test("the suite's needs: the table is needs.ts's, and each file named declares it", (t) => {
  const rows = section('The test suite')
    .split('\n')
    .filter(
      (line) => line.startsWith('| ') && !line.startsWith('| Need') && !line.startsWith('| -'),
    )
    .map((line) => line.split('|').map((cell) => cell.trim()));
  t.same(
    rows.map((row) => row[1]).sort(),
    Object.keys(REQUIREMENTS).sort(),
    'one row per need in test/helpers/needs.ts',
  );
  for (const [, need = '', files = ''] of rows) {
    for (const name of files.split(',').map((f) => f.trim().replace(/ \(.*\)$/, ''))) {
      const file = join(ROOT, 'test', `${name}.test.ts`);
      t.ok(existsSync(file), `test/${name}.test.ts exists`);
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      t.match(text, new RegExp(`[nN]eeds\\(t, '${need}'`), `test/${name}.test.ts declares ${need}`);
    }
  }
  t.end();
});
