/**
 * No import cycles in the agent, the injector, the shared code, the CLI, the local AWS endpoint
 * or the benchmarks: each module can be read (and loaded) after the ones it imports. Type-only
 * imports count: a cycle of types is a cycle of meaning.
 */
import { join } from 'node:path';
import t from 'tap';
import { cycles, importGraph } from './helpers/import-graph.ts';

const ROOT = join(import.meta.dirname, '..');

t.test(
  'the checker finds a cycle, a self-import and a longer ring, and passes a chain',
  async (t) => {
    t.same(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['a']],
        ]),
      ),
      [['a', 'b']],
    );
    t.same(cycles(new Map([['a', ['a']]])), [['a']]);
    t.same(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a', 'd']],
          ['d', []],
        ]),
      ),
      [['a', 'b', 'c']],
    );
    t.same(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
      [],
    );
  },
);

t.test('agent/, common/, cli/, injector/, dev/, bench/: no import cycle', async (t) => {
  const graph = importGraph(ROOT, ['agent', 'common', 'cli', 'injector', 'dev', 'bench']);
  t.ok(graph.size > 30, `${graph.size} modules`);
  t.ok(
    graph.get('agent/source/aws.ts')?.includes('agent/source/ssm.ts'),
    'import() counts (aws.ts loads ssm.ts lazily)',
  );
  t.same(cycles(graph), []);
});
