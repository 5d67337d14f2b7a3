/**
 * A `key-` expression or a template is the pod author's code, run on every refresh. Ones that
 * explode (a JMESPath that doubles what it selects at every step, nested `#each` blocks, a
 * template that writes megabytes) are stopped with a clear error naming the option, in bounded
 * time and memory, and the agent still answers SIGTERM at once.
 */
import t from 'tap';
import { MAX_RENDERED_BYTES, RENDER_TIMEOUT_MS } from '../agent/budget.ts';
import { prepareRenderer, renderFile } from '../agent/render.ts';
import { parseAgentConfig, type SecretSpec } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { startDevServer } from '../dev/server.ts';
import { agentEnv, startAgent } from './helpers/agent-process.ts';
import { tempDir } from './helpers/tmp.ts';

const DOUBLING = `${'[@,@]|'.repeat(40)}@`;
// Loops 40^6 times and writes nothing: the output bound never trips, only the time budget does.
const NESTED_EACH = `${'{{#each @root.list}}'.repeat(6)}${'{{/each}}'.repeat(6)}`;
const list = Array.from({ length: 40 }, (_, i) => i);
const value = {
  string: JSON.stringify({ list, big: 'y'.repeat(60_000), user: 'u' }),
  versionId: 'v1',
  arn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/app-AbCdEf',
};

async function spec(fields: Record<string, unknown>): Promise<SecretSpec> {
  const config = await parseAgentConfig({ secrets: [{ name: 'app', id: 'prod/app', ...fields }] });
  await prepareRenderer(config.secrets);
  const [only] = config.secrets;
  if (only === undefined) throw new Error('no spec');
  return only;
}

function failure(s: SecretSpec): { error: AgentError; ms: number; grewMb: number } {
  const rss = process.memoryUsage().rss;
  const started = performance.now();
  try {
    renderFile(s, value);
  } catch (err) {
    if (!(err instanceof AgentError)) throw err;
    return {
      error: err,
      ms: performance.now() - started,
      grewMb: (process.memoryUsage().rss - rss) / 2 ** 20,
    };
  }
  throw new Error('rendered');
}

t.test('a JMESPath that doubles at every step is stopped by its expanded size', async (t) => {
  for (const format of ['raw', 'json', 'yaml']) {
    const { error, ms, grewMb } = failure(await spec({ key: DOUBLING, format }));
    t.equal(error.code, 'RENDER_FAILED');
    t.match(error.message, /secrets\[name=app\]\.key ".*" expands to more than 1024 KiB/);
    t.ok(ms < 5_000, `${format}: stopped after ${ms.toFixed(0)} ms`);
    t.ok(grewMb < 200, `${format}: memory grew by ${grewMb.toFixed(0)} MiB`);
  }
});

t.test('nested #each blocks are stopped by the time budget', async (t) => {
  const { error, ms } = failure(await spec({ template: NESTED_EACH }));
  t.equal(error.code, 'RENDER_FAILED');
  t.match(
    error.message,
    `secrets[name=app].template took longer than ${RENDER_TIMEOUT_MS} ms and was stopped`,
  );
  t.ok(ms < 5_000, `stopped after ${ms.toFixed(0)} ms`);
});

t.test('a template that writes more than the output bound is refused', async (t) => {
  const { error } = failure(await spec({ template: '{{big}}'.repeat(20) }));
  t.match(
    error.message,
    `secrets[name=app].template renders more than ${MAX_RENDERED_BYTES / 1024} KiB`,
  );
  // Within the bounds, the same engines render as usual.
  t.equal(
    Buffer.from(renderFile(await spec({ template: '{{user}}:{{big}}' }), value)).length,
    60_002,
  );
});

t.test('the agent stopped on an exploding template answers SIGTERM at once', async (t) => {
  const server = await startDevServer({
    seed: { secrets: [{ name: 'prod/app', value: value.string }] },
  });
  t.teardown(() => server.close());
  const dir = await tempDir(t);
  const config = {
    mode: 'sidecar',
    outputDir: dir,
    httpPort: 0,
    refreshInterval: '5s',
    secrets: [
      { name: 'slow', id: 'prod/app', template: NESTED_EACH },
      { name: 'wide', id: 'prod/app', key: DOUBLING },
    ],
  };
  const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(server.url));
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog(/took longer than/);
  const started = performance.now();
  const run = await agent.stop('SIGTERM');
  const ms = performance.now() - started;
  t.equal(run.code, 0, 'a clean stop');
  // Generous for a loaded machine: the finding was an agent that ignored SIGTERM for minutes.
  t.ok(ms < 10_000, `stopped ${ms.toFixed(0)} ms after SIGTERM`);
  t.match(run.stdout, /expands to more than 1024 KiB/);
});
