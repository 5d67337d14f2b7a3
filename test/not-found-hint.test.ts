/**
 * A typo'd secret name in init mode: the termination line says which region was asked and, when
 * the role may list secrets, the names near the one asked for. One ListSecrets call (one page),
 * only on that failure.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';
import { agentEnv, runAgent } from './helpers/agent-process.ts';

async function init(t: { teardown(fn: () => unknown): void }, id: string) {
  const dev = await startDevServer({
    seed: {
      secrets: [
        { name: 'eks-workshop-catalog-secret', value: 'v' },
        { name: 'eks-workshop-orders-secret', value: 'v' },
        { name: 'unrelated/thing', value: 'v' },
      ],
    },
  });
  t.teardown(() => dev.close());
  const dir = await mkdtemp(join(tmpdir(), 'sa-hint-'));
  const run = await runAgent(
    [
      '--config-json',
      JSON.stringify({
        mode: 'init',
        outputDir: join(dir, 'out'),
        httpPort: 0,
        terminationLogPath: join(dir, 'termination-log'),
        region: 'us-east-1',
        secrets: [{ name: 'catalog', id }],
      }),
    ],
    agentEnv(dev.url),
  );
  const termination = await readFile(join(dir, 'termination-log'), 'utf8').catch(() => '');
  return { run, termination, lists: dev.requests.list({ operation: 'ListSecrets' }).length };
}

t.test('a typo: the region asked, and the near names the role can see', async (t) => {
  const { run, termination, lists } = await init(t, 'eks-workshop-catalog-secrte');
  t.equal(run.code, 1);
  t.match(
    termination,
    /failed to fetch catalog: .*ResourceNotFoundException.* \(asked in region us-east-1; did you mean eks-workshop-catalog-secret\?\)/,
  );
  t.notMatch(termination, /unrelated/, 'only near names');
  t.equal(lists, 1, 'one ListSecrets call, however many attempts init made');
});

t.test('nothing near: the region alone', async (t) => {
  const { termination, lists } = await init(t, 'payments/db');
  t.match(termination, /\(asked in region us-east-1\)\n$/);
  t.equal(lists, 1);
});

t.test('no failure, no ListSecrets', async (t) => {
  const { run, lists } = await init(t, 'eks-workshop-catalog-secret');
  t.equal(run.code, 0);
  t.equal(lists, 0);
});
