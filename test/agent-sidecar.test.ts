/**
 * Sidecar mode as a real process: ready after the first write, refreshes on change, keeps the
 * last good files through an outage and recovers by itself, serves metrics, stops on SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';
import { agentEnv, eventually, freePort, startAgent } from './helpers/agent-process.ts';
import { assertNoCanary, CANARY } from './helpers/canary.ts';
import { SPEC_AGENT_METRICS } from './helpers/spec.ts';
import { tempDir } from './helpers/tmp.ts';

const METRICS = SPEC_AGENT_METRICS;

async function get(url: string): Promise<{ status: number; text: string } | undefined> {
  try {
    const res = await fetch(url);
    return { status: res.status, text: await res.text() };
  } catch {
    return undefined;
  }
}

function metric(text: string, name: string, labels: string): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

t.test(
  'sidecar: ready, refresh on change, outage with last good files, recovery, SIGTERM',
  async (t) => {
    const server = await startDevServer({
      seed: {
        secrets: [
          { name: 'app/db', value: { user: 'app', password: `one-${CANARY}` } },
          { name: 'app/key', value: 'k1' },
        ],
      },
    });
    t.teardown(() => server.close());
    const dir = join(await tempDir(t), 'secrets');
    const port = await freePort();
    const config = {
      mode: 'sidecar',
      outputDir: dir,
      httpAddress: '127.0.0.1',
      httpPort: port,
      refreshInterval: '5s',
      secrets: [
        { name: 'password', id: 'app/db', key: 'password' },
        { name: 'key', id: 'app/key' },
      ],
    };
    const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(server.url));
    t.teardown(() => agent.stop('SIGKILL'));
    const base = `http://127.0.0.1:${port}`;

    await eventually(async () =>
      (await get(`${base}/readyz`))?.status === 200 ? true : undefined,
    );
    t.equal(await readFile(join(dir, 'password'), 'utf8'), `one-${CANARY}`, 'written before ready');
    t.equal((await get(`${base}/healthz`))?.status, 200);
    let metrics = (await get(`${base}/metrics`))?.text ?? '';
    for (const name of METRICS)
      t.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), `exposes ${name}`);
    t.equal(metric(metrics, 'secrets_agent_ready', ''), 1);
    t.equal(metric(metrics, 'secrets_agent_fetch_total', 'secret="password",outcome="success"'), 1);
    t.equal(
      metric(
        metrics,
        'secrets_agent_aws_api_calls_total',
        'operation="BatchGetSecretValue",outcome="success"',
      ),
      1,
      'one call for two secrets',
    );

    server.putSecretValue('app/db', { user: 'app', password: `two-${CANARY}` });
    await eventually(
      async () =>
        (await readFile(join(dir, 'password'), 'utf8')) === `two-${CANARY}` ? true : undefined,
      15_000,
    );
    t.pass('the change reached the file within an interval');
    metrics = (await get(`${base}/metrics`))?.text ?? '';
    t.equal(
      metric(metrics, 'secrets_agent_updates_total', 'secret="password"'),
      2,
      'first write and the change',
    );
    t.equal(
      metric(metrics, 'secrets_agent_updates_total', 'secret="key"'),
      1,
      'the unchanged secret was not rewritten',
    );

    server.faults.add({ kind: 'error5xx' });
    await agent.waitForLog(/"msg":"retrying after errors"/, 20_000);
    t.equal(
      await readFile(join(dir, 'password'), 'utf8'),
      `two-${CANARY}`,
      'the last good file is kept',
    );
    t.equal((await get(`${base}/readyz`))?.status, 200, 'readiness does not flap');
    metrics = (await get(`${base}/metrics`))?.text ?? '';
    t.ok(
      metric(metrics, 'secrets_agent_fetch_total', 'secret="password",outcome="AWS_UNAVAILABLE"') >=
        1,
      'the failure is counted',
    );
    t.ok(
      metric(
        metrics,
        'secrets_agent_aws_api_calls_total',
        'operation="BatchGetSecretValue",outcome="server_error"',
      ) >= 1,
    );

    server.faults.clear();
    server.putSecretValue('app/db', { user: 'app', password: `three-${CANARY}` });
    await eventually(
      async () =>
        (await readFile(join(dir, 'password'), 'utf8')) === `three-${CANARY}` ? true : undefined,
      20_000,
    );
    t.pass('recovered by itself');

    const run = await agent.stop('SIGTERM');
    t.equal(run.code, 0, 'SIGTERM: clean exit');
    t.match(run.stdout, /"msg":"stopped"/);
    assertNoCanary(t, run.stdout + run.stderr + metrics, 'logs and metrics');
  },
);

t.test('sidecar: never-written secrets keep readiness false while retrying', async (t) => {
  const server = await startDevServer({ seed: { secrets: [{ name: 'a', value: 'A' }] } });
  t.teardown(() => server.close());
  server.faults.add({ kind: 'accessDenied', secretId: 'a' });
  const dir = join(await tempDir(t), 'secrets');
  const port = await freePort();
  const config = {
    outputDir: dir,
    httpAddress: '127.0.0.1',
    httpPort: port,
    refreshInterval: '5s',
    secrets: [{ name: 'a', id: 'a' }],
  };
  const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(server.url));
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog(/"msg":"secret fetch failed".*AccessDenied/);
  const ready = await eventually(() => get(`http://127.0.0.1:${port}/readyz`));
  t.equal(ready.status, 503, 'not ready: the startup probe holds the app');
  server.faults.clear();
  await eventually(
    async () => ((await get(`http://127.0.0.1:${port}/readyz`))?.status === 200 ? true : undefined),
    20_000,
  );
  t.equal(await readFile(join(dir, 'a'), 'utf8'), 'A');
  t.equal((await agent.stop()).code, 0);
});

t.test(
  'sidecar: reload-url is POSTed after a change (the bundle runs it under lite mode)',
  async (t) => {
    const { createServer } = await import('node:http');
    const { readFileSync } = await import('node:fs');
    const { CLI } = await import('./helpers/agent-process.ts');
    const server = await startDevServer({ seed: { secrets: [{ name: 'a', value: 'A1' }] } });
    t.teardown(() => server.close());
    const posts: (string | undefined)[] = [];
    const app = createServer((req, res) => {
      posts.push(req.headers['x-secrets-agent-changed'] as string | undefined);
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => app.close(() => resolve())));
    const appPort = (app.address() as import('node:net').AddressInfo).port;
    const dir = join(await tempDir(t), 'secrets');
    const port = await freePort();
    const config = {
      outputDir: dir,
      httpAddress: '127.0.0.1',
      httpPort: port,
      refreshInterval: '5s',
      reloadUrl: `http://127.0.0.1:${appPort}/-/reload`,
      secrets: [{ name: 'a', id: 'a' }],
    };
    const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(server.url));
    t.teardown(() => agent.stop('SIGKILL'));
    await eventually(async () =>
      (await get(`http://127.0.0.1:${port}/readyz`))?.status === 200 ? true : undefined,
    );
    const cmdline = readFileSync(`/proc/${agent.child.pid ?? 0}/cmdline`, 'utf8').split('\0');
    if (CLI.endsWith('.js'))
      t.ok(
        cmdline.includes('--lite-mode'),
        'the bundle re-executed itself under lite mode, same pid',
      );
    else
      t.notOk(
        cmdline.includes('--lite-mode'),
        'the TypeScript source does not (type stripping needs WebAssembly)',
      );
    t.same(posts, [], 'no reload before the app runs');
    server.putSecretValue('a', 'A2');
    await eventually(() => (posts.length > 0 ? true : undefined), 20_000);
    t.same(posts, ['a'], 'one POST naming the changed file');
    t.equal(await readFile(join(dir, 'a'), 'utf8'), 'A2');
    t.equal((await agent.stop()).code, 0);
  },
);
