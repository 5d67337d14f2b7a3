/**
 * Sidecar mode as a real process: ready after the first write, refreshes on change, keeps the
 * last good files through an outage and recovers by itself, serves metrics, stops on SIGTERM;
 * and the process runs exactly as the injected container says.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { stringify as stringifyYaml } from 'yaml';
import { startDevServer } from '../dev/server.ts';
import { agentEnv, CLI, freePort, ROOT, startAgent } from './helpers/agent-process.ts';
import { assertNoCanary, CANARY } from './helpers/canary.ts';
import {
  INIT_ATTEMPTS_FOR_PERMANENT_ERRORS,
  initCycleLimit,
  terminationMessage,
} from '../agent/agent.ts';
import { CONTRACT_AGENT_METRICS } from './helpers/contract.ts';
import { tempDir } from './helpers/tmp.ts';
import { agentRig } from './helpers/agent-rig.ts';
import { AgentClock } from './helpers/virtual-time.ts';
import { seededRandom } from '../common/clock.ts';
import { AGENT_COMMAND, AGENT_NODE_OPTIONS } from '../injector/types.ts';
import { collector } from '../agent/command.ts';
import { createLogger } from '../common/log.ts';

const METRICS = CONTRACT_AGENT_METRICS;

/** Two secrets, one a JSON value holding the canary, for the sidecar tests that refresh. */
const SIDECAR_SEED = {
  secrets: [
    { name: 'app/db', value: { user: 'app', password: `one-${CANARY}` } },
    { name: 'app/key', value: 'k1' },
  ],
};

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

t.test('sidecar as a process: ready after the first write, health, metrics, SIGTERM', async (t) => {
  const server = await startDevServer({ seed: SIDECAR_SEED });
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

  await agent.waitForLog(/"msg":"all secrets written"/);
  t.equal((await get(`${base}/readyz`))?.status, 200, 'ready');
  t.equal(await readFile(join(dir, 'password'), 'utf8'), `one-${CANARY}`, 'written before ready');
  t.equal((await get(`${base}/healthz`))?.status, 200);
  const metrics = (await get(`${base}/metrics`))?.text ?? '';
  for (const name of METRICS)
    t.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), `exposes ${name}`);
  for (const name of ['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds'])
    t.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), `and Node's process metrics: ${name}`);
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

  const run = await agent.stop('SIGTERM');
  t.equal(run.code, 0, 'SIGTERM: clean exit');
  t.match(run.stdout, /"msg":"stopped"/);
  assertNoCanary(t, run.stdout + run.stderr + metrics, 'logs and metrics');
});

t.test(
  'the sidecar loop: refresh on change within an interval, outage with last good files, recovery',
  async (t) => {
    const server = await startDevServer({ seed: SIDECAR_SEED });
    t.teardown(() => server.close());
    // The agent's own loop against dev, in virtual time: an interval takes no real time.
    const clock = new AgentClock();
    const { agent, config, dir, logs, metrics } = await agentRig(
      t,
      server,
      {
        refreshInterval: '5s',
        secrets: [
          { name: 'password', id: 'app/db', key: 'password' },
          { name: 'key', id: 'app/key' },
        ],
      },
      { clock, random: seededRandom(5) },
    );
    const interval = config.refreshIntervalMs;
    const controller = new AbortController();
    const loop = agent.runSidecar(controller.signal);
    const password = (): string => readFileSync(join(dir, 'password'), 'utf8');
    await clock.until(() => agent.ready, loop);
    t.equal(password(), `one-${CANARY}`, 'written before ready');

    server.putSecretValue('app/db', { user: 'app', password: `two-${CANARY}` });
    const changedAt = clock.now();
    // The condition is read each time the agent goes back to sleep (after each refresh).
    await clock.until(() => password() === `two-${CANARY}`, loop);
    t.ok(clock.now() - changedAt <= interval, 'the change reached the file within an interval');
    let text = await metrics.registry.metrics();
    t.equal(
      metric(text, 'secrets_agent_updates_total', 'secret="password"'),
      2,
      'first write and the change',
    );
    t.equal(
      metric(text, 'secrets_agent_updates_total', 'secret="key"'),
      1,
      'the unchanged secret was not rewritten',
    );

    server.faults.add({ kind: 'error5xx' });
    const failingFrom = clock.now();
    const retrying = (): boolean => logs.some((l) => l.includes('"msg":"retrying after errors"'));
    await clock.until(retrying, loop);
    t.ok(
      clock.now() - failingFrom <= interval * 1.1,
      'the next refresh came within an interval (and its jitter)',
    );
    t.equal(password(), `two-${CANARY}`, 'the last good file is kept');
    t.ok(agent.ready, 'readiness does not flap');
    text = await metrics.registry.metrics();
    t.ok(
      metric(text, 'secrets_agent_fetch_total', 'secret="password",outcome="AWS_UNAVAILABLE"') >= 1,
      'the failure is counted',
    );
    t.ok(
      metric(
        text,
        'secrets_agent_aws_api_calls_total',
        'operation="BatchGetSecretValue",outcome="server_error"',
      ) >= 1,
    );

    server.faults.clear();
    server.putSecretValue('app/db', { user: 'app', password: `three-${CANARY}` });
    const clearedAt = clock.now();
    await clock.until(() => password() === `three-${CANARY}`, loop);
    // One failed refresh: the next try within 5 s (full jitter), never past the interval.
    t.ok(clock.now() - clearedAt <= interval, 'recovered by itself, within the backoff');
    controller.abort();
    t.same(await loop, [], 'stopped');
    assertNoCanary(t, logs.join('') + (await metrics.registry.metrics()), 'logs and metrics');
  },
);

t.test('sidecar: until its first write it is not ready, retries, and recovers', async (t) => {
  const server = await startDevServer({ seed: { secrets: [{ name: 'a', value: 'A' }] } });
  t.teardown(() => server.close());
  server.faults.add({ kind: 'error5xx' });
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
  // Logged after 'starting', which the status server is up before.
  await agent.waitForLog(/"msg":"retrying".*"failed":\["a"\]/);
  const ready = await get(`http://127.0.0.1:${port}/readyz`);
  t.equal(ready?.status, 503, 'not ready: the startup probe holds the app');
  server.faults.clear();
  await agent.waitForLog(/"msg":"all secrets written"/);
  t.equal((await get(`http://127.0.0.1:${port}/readyz`))?.status, 200, 'ready once written');
  t.equal(await readFile(join(dir, 'a'), 'utf8'), 'A');
  t.equal((await agent.stop()).code, 0);
});

/**
 * The first write is an init step: the app waits for it. So a sidecar that cannot complete it
 * does what init does: retryable errors until initTimeout, others three times, then exit 1 with
 * the one line the kubelet shows, and it is restarted. Its startup probe is only a backstop.
 */
const FIRST_WRITE_FAILURES = [
  {
    title: 'every call 5xx: retries until initTimeout',
    fault: { kind: 'error5xx' } as const,
    line: /^failed to fetch a: secret a: InternalServiceError/,
    calls: (n: number) => n >= 3 && n <= initCycleLimit(3_000),
  },
  {
    title: 'access denied: three attempts',
    fault: { kind: 'accessDenied', secretId: 'a' } as const,
    line: /^failed to fetch a: secret a: AccessDeniedException/,
    calls: (n: number) => n === INIT_ATTEMPTS_FOR_PERMANENT_ERRORS,
  },
];

for (const c of FIRST_WRITE_FAILURES) {
  t.test(
    `the sidecar loop: a first write that cannot complete ends as init does (${c.title})`,
    async (t) => {
      const server = await startDevServer({ seed: { secrets: [{ name: 'a', value: 'A' }] } });
      t.teardown(() => server.close());
      server.faults.add(c.fault);
      const clock = new AgentClock();
      const { agent, logs } = await agentRig(
        t,
        server,
        { initTimeout: '3s', secrets: [{ name: 'a', id: 'a' }] },
        { clock },
      );
      const failures = await clock.drive(agent.runSidecar(new AbortController().signal));
      t.match(terminationMessage(failures), c.line);
      t.ok(clock.now() <= 3_000, `within initTimeout: ${clock.now()} ms`);
      const calls = server.requests.list().filter((r) => r.service === 'secretsmanager').length;
      t.ok(c.calls(calls), `${calls} Secrets Manager calls`);
      t.notOk(agent.ready, 'never ready');
      t.notOk(logs.some((l) => l.includes('"msg":"all secrets written"')));
    },
  );
}

t.test('a sidecar collects its garbage once after each cycle, an init agent never', async (t) => {
  const server = await startDevServer({ seed: SIDECAR_SEED });
  t.teardown(() => server.close());
  const calls = (): number =>
    server.requests.list().filter((r) => r.service === 'secretsmanager').length;
  const clock = new AgentClock();
  // At each collection, the Secrets Manager calls made so far: a cycle's calls come before it.
  const collections: number[] = [];
  const { agent } = await agentRig(
    t,
    server,
    { refreshInterval: '5s', secrets: [{ name: 'key', id: 'app/key' }] },
    { clock, random: seededRandom(7), collectGarbage: () => collections.push(calls()) },
  );
  const controller = new AbortController();
  const loop = agent.runSidecar(controller.signal);
  await clock.until(() => collections.length >= 4, loop);
  controller.abort();
  await loop;
  t.equal(collections.length, 4, 'the first write and three refreshes');
  t.ok(
    collections.every((n, i) => n > (collections[i - 1] ?? 0)),
    `a cycle's calls before each collection, none twice between two: ${collections.join(', ')}`,
  );

  const initCollections: number[] = [];
  const init = await agentRig(
    t,
    server,
    { mode: 'init', secrets: [{ name: 'key', id: 'app/key' }] },
    { collectGarbage: () => initCollections.push(calls()) },
  );
  t.same(await init.agent.runInit(new AbortController().signal), []);
  t.same(initCollections, [], 'an init agent exits instead');
});

t.test(
  'the sidecar process collects garbage after each cycle, as its NODE_OPTIONS allow',
  async (t) => {
    const server = await startDevServer({ seed: SIDECAR_SEED });
    t.teardown(() => server.close());
    const config = JSON.stringify({
      mode: 'sidecar',
      outputDir: join(await tempDir(t), 'secrets'),
      httpPort: 0,
      logLevel: 'debug',
      secrets: [{ name: 'key', id: 'app/key' }],
    });
    // As injected: the sidecar's NODE_OPTIONS expose gc().
    const agent = startAgent(['--config-json', config], agentEnv(server.url));
    t.teardown(() => agent.stop('SIGKILL'));
    t.match(
      await agent.waitForLog(/"msg":"garbage collected"/),
      /"heapUsedBytes":\d+/,
      'once the first write is done',
    );
  },
);

t.test('without gc() exposed there is nothing to call; a failing one is logged', async (t) => {
  const logs: string[] = [];
  const logger = createLogger({ write: (l) => logs.push(l) }, { level: 'debug' });
  const global = globalThis as { gc?: unknown };
  const before = global.gc;
  t.teardown(() => {
    global.gc = before;
  });
  global.gc = undefined;
  t.same(collector(logger), {}, 'Node without --expose-gc');
  const calls: unknown[] = [];
  global.gc = (options: unknown) => calls.push(options);
  collector(logger).collectGarbage?.();
  // V8's own names (its gc extension): a full, synchronous collection of the kind V8 makes when
  // memory runs out, which compacts and gives the emptied pages back.
  t.same(
    calls,
    [{ type: 'major', execution: 'sync', flavor: 'last-resort' }],
    'one collection, of the kind that gives pages back',
  );
  global.gc = () => {
    throw new Error('no');
  };
  t.doesNotThrow(() => collector(logger).collectGarbage?.());
  t.match(logs.at(-1) ?? '', /"msg":"garbage collection failed"/);
});

t.test('sidecar as a process: a first write that cannot complete exits 1', async (t) => {
  const [c] = FIRST_WRITE_FAILURES;
  if (c === undefined) throw new Error('no case');
  const server = await startDevServer({ seed: { secrets: [{ name: 'a', value: 'A' }] } });
  t.teardown(() => server.close());
  server.faults.add(c.fault);
  const dir = join(await tempDir(t), 'secrets');
  const config = {
    outputDir: dir,
    httpPort: 0,
    // Room for a first call on a loaded machine: the line must name the upstream error.
    initTimeout: '2s',
    terminationLogPath: join(dir, '..', 'termination-log'),
    secrets: [{ name: 'a', id: 'a' }],
  };
  const started = Date.now();
  const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(server.url));
  t.teardown(() => agent.stop('SIGKILL'));
  const run = await agent.exited;
  t.equal(run.code, 1, 'exit 1: the kubelet restarts it and shows the reason');
  t.ok(Date.now() - started < 2_000 + 5_000, 'within initTimeout (plus start and exit)');
  t.match(await readFile(config.terminationLogPath, 'utf8'), c.line);
  t.match(run.stdout, /"msg":"giving up"/);
});

t.test('the sidecar loop: reload-url is POSTed after a change, not before', async (t) => {
  const { createServer } = await import('node:http');
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
  const clock = new AgentClock();
  const { agent, config, dir } = await agentRig(
    t,
    server,
    {
      refreshInterval: '5s',
      reloadUrl: `http://127.0.0.1:${appPort}/-/reload`,
      secrets: [{ name: 'a', id: 'a' }],
    },
    { clock, random: seededRandom(7) },
  );
  const controller = new AbortController();
  const loop = agent.runSidecar(controller.signal);
  await clock.until(() => agent.ready, loop);
  t.same(posts, [], 'no reload before the app runs');
  server.putSecretValue('a', 'A2');
  const changedAt = clock.now();
  await clock.until(() => posts.length > 0, loop);
  t.ok(clock.now() - changedAt <= config.refreshIntervalMs, 'at the next refresh');
  t.same(posts, ['a'], 'one POST naming the changed file');
  t.equal(await readFile(join(dir, 'a'), 'utf8'), 'A2');
  controller.abort();
  t.same(await loop, []);
});

/** The image's ENTRYPOINT (exec form), as the Dockerfile declares it. */
function imageEntrypoint(): string[] {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const line = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
  if (line === undefined) throw new Error('no exec-form ENTRYPOINT in the Dockerfile');
  return JSON.parse(line) as string[];
}

t.test(
  'sidecar: the running process is the injected container as its spec says: its command and args, nothing added, same pid',
  async (t) => {
    const pod = join(await tempDir(t), 'pod.yaml');
    await writeFile(
      pod,
      stringifyYaml({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'app',
          namespace: 'shop',
          annotations: {
            'secrets-agent.io/inject': 'true',
            'secrets-agent.io/secret-a': 'a',
            'secrets-agent.io/refresh-interval': '5s',
          },
        },
        spec: { containers: [{ name: 'app', image: 'app:1' }] },
      }),
    );
    const inject = spawnSync(
      process.execPath,
      [CLI, 'inject', '-f', pod, '-o', 'json', '--default-region', 'us-east-1'],
      { encoding: 'utf8' },
    );
    t.equal(inject.status, 0, inject.stderr);
    const injected = JSON.parse(inject.stdout) as {
      spec: { initContainers?: InjectedContainer[]; containers: InjectedContainer[] };
    };
    const container = [...(injected.spec.initContainers ?? []), ...injected.spec.containers].find(
      (c) => c.name === 'secrets-agent',
    );
    if (container === undefined) throw new Error('no secrets-agent container injected');
    t.same(
      container.args?.slice(0, 2),
      [AGENT_COMMAND, '--config-json'],
      'args only: the agent command, then the configuration',
    );
    t.equal(container.command, undefined, "no command: the image's entrypoint runs");

    // As the container runtime starts it: the image's entrypoint (`node` found on the PATH, the
    // CLI under WORKDIR /app), then the container's args.
    const [nodeCommand, entry, ...entryRest] = imageEntrypoint();
    t.equal(nodeCommand, 'node');
    t.equal(entry, '/app/dist/cli.js', 'the entrypoint is the CLI');
    const argv = [
      join(ROOT, 'dist', (entry ?? '').slice('/app/dist/'.length)),
      ...entryRest,
      ...(container.args ?? []),
    ];
    const server = await startDevServer({ seed: { secrets: [{ name: 'a', value: 'A1' }] } });
    t.teardown(() => server.close());
    const dir = join(await tempDir(t), 'secrets');
    const port = await freePort();
    const containerEnv = Object.fromEntries(
      (container.env ?? []).flatMap((e) =>
        e.value !== undefined
          ? [[e.name, e.value]]
          : e.valueFrom?.fieldRef
            ? [[e.name, 'shop']]
            : [],
      ),
    );
    // The pod's volume and port, moved to a local folder and a free loopback port.
    const env = {
      ...agentEnv(server.url),
      ...containerEnv,
      SECRETS_AGENT_OUTPUT_DIR: dir,
      SECRETS_AGENT_HTTP_ADDRESS: '127.0.0.1',
      SECRETS_AGENT_HTTP_PORT: String(port),
    };
    // The test runner adds its process tracker to every child's NODE_OPTIONS: env(1) sets it to
    // exactly the container's (or none), then executes node in its own place (same pid).
    const nodeOptions = containerEnv['NODE_OPTIONS'];
    t.equal(nodeOptions, AGENT_NODE_OPTIONS.sidecar, "the sidecar's NODE_OPTIONS, in its env");
    const child = spawn(
      '/usr/bin/env',
      [
        ...(nodeOptions === undefined ? ['-u', 'NODE_OPTIONS'] : [`NODE_OPTIONS=${nodeOptions}`]),
        process.execPath,
        ...argv,
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const written = new Promise<void>((resolve, reject) => {
      const seen = (d: Buffer): void => {
        output += d.toString();
        if (output.includes('"msg":"all secrets written"')) resolve();
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      child.once('close', () =>
        reject(new Error(`the agent exited before its first write\n${output}`)),
      );
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    await written;
    t.equal((await get(`http://127.0.0.1:${port}/readyz`))?.status, 200, 'ready');
    t.equal(await readFile(join(dir, 'a'), 'utf8'), 'A1', 'the injected agent wrote its file');

    const pid = child.pid ?? 0;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    t.same(
      cmdline,
      [process.execPath, ...argv],
      "the command line is the image's entrypoint plus the container's args, nothing added",
    );
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    t.equal(
      environ.find((v) => v.startsWith('NODE_OPTIONS='))?.slice('NODE_OPTIONS='.length),
      nodeOptions,
      'NODE_OPTIONS only as the container sets it',
    );
    child.kill('SIGTERM');
    t.equal(await exited, 0, 'SIGTERM: clean exit');
  },
);

interface InjectedContainer {
  readonly name: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly {
    readonly name: string;
    readonly value?: string;
    readonly valueFrom?: { readonly fieldRef?: unknown };
  }[];
}
