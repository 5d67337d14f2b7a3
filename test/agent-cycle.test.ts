/**
 * The agent's cycle in-process, with the real AWS source against `secrets-agent dev`: API calls
 * counted from both sides, the failover region, last good content kept per secret.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { AgentMetrics } from '../agent/metrics.ts';
import { RELOAD_BACKOFF } from '../agent/reload.ts';
import { startDevServer } from '../dev/server.ts';
import { assertNoCanary, CANARY } from './helpers/canary.ts';
import { agentRig } from './helpers/agent-rig.ts';
import { AgentClock } from './helpers/virtual-time.ts';

async function counter(
  metrics: AgentMetrics,
  labels: Partial<Record<'operation' | 'outcome', string>>,
): Promise<number> {
  const data = await metrics.awsApiCalls.get();
  const matches = (v: (typeof data.values)[number]): boolean =>
    (labels.operation === undefined || v.labels.operation === labels.operation) &&
    (labels.outcome === undefined || v.labels.outcome === labels.outcome);
  return data.values.filter(matches).reduce((n, v) => n + v.value, 0);
}

t.test(
  'API calls per cycle: ceil(N/20), the same count on the endpoint and in the metric',
  async (t) => {
    const server = await startDevServer();
    t.teardown(() => server.close());
    const n = 65;
    for (let i = 0; i < n; i++) server.putSecretValue(`s/${i}`, `v${i}-${CANARY}`);
    const { agent, metrics, logs } = await agentRig(t, server, {
      secrets: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, id: `s/${i}` })),
    });
    const signal = new AbortController().signal;
    const cycles = 3;
    for (let c = 0; c < cycles; c++) t.same((await agent.cycle(signal)).failures, []);
    const endpointCalls = server.requests
      .list()
      .filter((r) => r.service === 'secretsmanager').length;
    const agentCalls = await counter(metrics, {});
    t.equal(endpointCalls, cycles * Math.ceil(n / 20), 'endpoint side');
    t.equal(agentCalls, endpointCalls, 'the agent counts what the endpoint saw');
    t.equal(
      await counter(metrics, { operation: 'BatchGetSecretValue', outcome: 'success' }),
      cycles * 4,
    );
    assertNoCanary(t, logs.join('') + (await metrics.registry.metrics()), 'logs and metrics');
  },
);

t.test('failover: a failing primary region is replaced by the failover region', async (t) => {
  const server = await startDevServer({ seed: { secrets: [{ name: 'replicated', value: 'R' }] } });
  t.teardown(() => server.close());
  server.faults.add({ kind: 'error5xx', region: 'us-east-1' });
  const { agent, dir, logs } = await agentRig(t, server, {
    region: 'us-east-1',
    failoverRegion: 'us-west-2',
    secrets: [{ name: 'r', id: 'replicated' }],
  });
  const result = await agent.cycle(new AbortController().signal);
  t.same(result.failures, []);
  t.equal(await readFile(join(dir, 'r'), 'utf8'), 'R');
  const regions = server.requests.list().map((r) => `${r.region}:${r.outcome}`);
  t.ok(regions.includes('us-east-1:InternalServiceError'), 'tried the primary');
  t.equal(regions.at(-1), 'us-west-2:ok', 'then the failover');
  t.match(logs.join(''), /trying the failover region/);
});

t.test(
  'a not-found secret does not fail over (another region would not have it either)',
  async (t) => {
    const server = await startDevServer();
    t.teardown(() => server.close());
    const { agent } = await agentRig(t, server, {
      region: 'us-east-1',
      failoverRegion: 'us-west-2',
      secrets: [{ name: 'x', id: 'missing' }],
    });
    const result = await agent.cycle(new AbortController().signal);
    t.equal(result.failures[0]?.error.code, 'SECRET_NOT_FOUND');
    t.notOk(server.requests.list().some((r) => r.region === 'us-west-2'));
  },
);

t.test('one failing secret keeps its last good file while the others refresh', async (t) => {
  const server = await startDevServer({
    seed: {
      secrets: [
        { name: 'a', value: 'a1' },
        { name: 'b', value: 'b1' },
      ],
    },
  });
  t.teardown(() => server.close());
  const { agent, dir, metrics } = await agentRig(t, server, {
    secrets: [
      { name: 'a', id: 'a' },
      { name: 'b', id: 'b' },
    ],
  });
  const signal = new AbortController().signal;
  await agent.cycle(signal);
  t.ok(agent.ready);
  server.putSecretValue('a', 'a2');
  server.putSecretValue('b', 'b2');
  server.faults.add({ kind: 'accessDenied', secretId: 'b' });
  const second = await agent.cycle(signal);
  t.same(
    second.failures.map((f) => [f.secret, f.error.code]),
    [['b', 'ACCESS_DENIED']],
  );
  t.same(second.changed, ['a']);
  t.equal(await readFile(join(dir, 'a'), 'utf8'), 'a2');
  t.equal(await readFile(join(dir, 'b'), 'utf8'), 'b1', 'last good content kept');
  t.ok(agent.ready, 'still ready');
  const fetches = await metrics.fetchTotal.get();
  t.ok(
    fetches.values.some(
      (v) => v.labels['secret'] === 'b' && v.labels['outcome'] === 'ACCESS_DENIED' && v.value === 1,
    ),
  );
  server.faults.clear();
  t.same((await agent.cycle(signal)).changed, ['b']);
  t.same((await agent.cycle(signal)).changed, [], 'nothing rewritten when nothing changed');
});

const FAILURE_METRICS: {
  kind: 'notFound' | 'accessDenied' | 'throttle' | 'error5xx' | 'decryptFailure';
  code: string;
  call: string;
}[] = [
  { kind: 'notFound', code: 'SECRET_NOT_FOUND', call: 'success' },
  { kind: 'accessDenied', code: 'ACCESS_DENIED', call: 'success' },
  { kind: 'decryptFailure', code: 'DECRYPTION_FAILED', call: 'success' },
  { kind: 'throttle', code: 'THROTTLED', call: 'throttled' },
  { kind: 'error5xx', code: 'AWS_UNAVAILABLE', call: 'server_error' },
];

for (const f of FAILURE_METRICS) {
  t.test(`metrics say what happened: ${f.kind}`, async (t) => {
    const server = await startDevServer({ seed: { secrets: [{ name: 'a', value: 'A' }] } });
    t.teardown(() => server.close());
    // Per-secret faults fail the secret's entry inside a successful batch call; the others fail the call.
    server.faults.add({ kind: f.kind, secretId: 'a' });
    const { agent, metrics } = await agentRig(t, server, { secrets: [{ name: 'a', id: 'a' }] });
    const result = await agent.cycle(new AbortController().signal);
    t.equal(result.failures[0]?.error.code, f.code);
    const fetches = await metrics.fetchTotal.get();
    t.same(
      fetches.values.map((v) => [v.labels['secret'], v.labels['outcome'], v.value]),
      [['a', f.code, 1]],
    );
    t.ok(
      (await counter(metrics, { operation: 'BatchGetSecretValue', outcome: f.call })) >= 1,
      `api call outcome ${f.call}`,
    );
    t.notOk(agent.ready);
    t.same(
      (await metrics.ready.get()).values.map((v) => v.value),
      [0],
      'secrets_agent_ready 0',
    );
  });
}

t.test(
  'reload-url: POSTed after a change once the app runs, retried, failures counted',
  async (t) => {
    const { createServer } = await import('node:http');
    const server = await startDevServer({ seed: { secrets: [{ name: 'a', value: 'a1' }] } });
    t.teardown(() => server.close());
    const posts: { method: string; changed: string | undefined }[] = [];
    let answer = 200;
    const app = createServer((req, res) => {
      posts.push({
        method: req.method ?? '',
        changed: req.headers['x-secrets-agent-changed'] as string | undefined,
      });
      res.writeHead(answer).end();
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => app.close(() => resolve())));
    const { port } = app.address() as import('node:net').AddressInfo;
    const clock = new AgentClock();
    const { agent, metrics, dir, logs } = await agentRig(
      t,
      server,
      { reloadUrl: `http://127.0.0.1:${port}/-/reload`, secrets: [{ name: 'a', id: 'a' }] },
      // The reloader's own backoff, in virtual time.
      { clock },
    );
    const signal = new AbortController().signal;
    const cycle = () => clock.drive(agent.cycle(signal));
    await cycle();
    t.same(posts, [], 'not before the first write: the app is not running yet');
    await cycle();
    t.same(posts, [], 'not when nothing changed');
    server.putSecretValue('a', 'a2');
    await cycle();
    t.same(posts, [{ method: 'POST', changed: 'a' }], 'one POST naming the changed file');
    t.equal(clock.now(), 0, 'at once');
    answer = 503;
    server.putSecretValue('a', 'a3');
    await cycle();
    t.equal(posts.length, 1 + 3, 'three attempts');
    const { baseMs } = RELOAD_BACKOFF;
    t.ok(
      clock.now() >= 1.5 * baseMs && clock.now() <= 3 * baseMs,
      `1 s then 2 s apart, jittered to 50–100%: ${clock.now()} ms`,
    );
    const outcomes = (await metrics.reloads.get()).values.map((v) => [
      v.labels['outcome'],
      v.value,
    ]);
    t.same(outcomes.sort(), [
      ['failure', 1],
      ['success', 1],
    ]);
    t.match(logs.join(''), /"msg":"app reload failed".*"error":"HTTP 503"/);
    t.equal(await readFile(join(dir, 'a'), 'utf8'), 'a3', 'the files are in place regardless');
  },
);

t.test('a failed batch is one warning naming its secrets; recovery is one line', async (t) => {
  const server = await startDevServer();
  t.teardown(() => server.close());
  const n = 25;
  for (let i = 0; i < n; i++) server.putSecretValue(`s/${i}`, `v${i}`);
  const { agent, logs } = await agentRig(t, server, {
    secrets: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, id: `s/${i}` })),
  });
  const signal = new AbortController().signal;
  server.faults.add({ kind: 'error5xx', operation: 'BatchGetSecretValue', count: 2 });
  t.equal((await agent.cycle(signal)).failures.length, n, 'both batches failed');
  const warnings = logs
    .map((l) => JSON.parse(l) as { level: string; msg: string; secrets?: string[] })
    .filter((l) => l.msg === 'secret fetch failed');
  t.equal(warnings.length, 1, 'one warning for one kind of failure');
  t.equal(warnings[0]?.secrets?.length, n, 'naming every secret it hit');
  logs.length = 0;
  t.same((await agent.cycle(signal)).failures, []);
  const recovered = logs
    .map((l) => JSON.parse(l) as { msg: string; secrets?: string[] })
    .filter((l) => l.msg === 'secrets read again');
  t.equal(recovered.length, 1);
  t.equal(recovered[0]?.secrets?.length, n);
  logs.length = 0;
  await agent.cycle(signal);
  t.notOk(
    logs.some((l) => l.includes('read again')),
    'said once',
  );
});
