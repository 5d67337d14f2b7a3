/**
 * One test that collects everything the product says to anyone — agent logs and termination
 * lines (success, every fault, every rendering error), metrics, health answers, the dev
 * endpoint's logs and request log, the Kubernetes API traffic, the webhook's responses, logs
 * and metrics, `inject` output — while secrets hold a canary value, and greps it all.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startDevServer, type DevServer } from '../dev/server.ts';
import { createLogger } from '../common/log.ts';
import {
  agentEnv,
  CLI,
  eventually,
  freePort,
  runAgent,
  startAgent,
} from './helpers/agent-process.ts';
import { CANARY, findCanary } from './helpers/canary.ts';
import {
  call,
  JSON_HEADERS,
  makeCa,
  makePair,
  tempDir as certDir,
  writeSecretVolume,
} from './helpers/certs.ts';
import { ADMIN_TOKEN, startKubeApiServer } from './helpers/kube-api-server.ts';
import { podReview } from './helpers/admission.ts';
import { tempDir } from './helpers/tmp.ts';
import { spawnWebhook } from './helpers/shipped-webhook.ts';
import { lineMatching } from './helpers/wait.ts';

const collected = new Map<string, string>();
const collect = (where: string, text: string): void => {
  collected.set(where, (collected.get(where) ?? '') + text);
};

async function get(url: string): Promise<string> {
  const res = await fetch(url);
  return `${res.status} ${await res.text()}`;
}

async function runCli(args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.once('close', resolve));
  return out;
}

const SEED = {
  secrets: [
    { name: 'json', value: { username: 'u', password: CANARY, nested: { deep: CANARY } } },
    { name: 'plain', value: CANARY },
    { name: 'binary', binary: Buffer.from(`\u0000${CANARY}`).toString('base64') },
    { name: 'not-json', value: `{"broken": "${CANARY}"` },
  ],
};

type Env = Record<string, string>;

/**
 * A dev endpoint holding the canary, with `report()` to collect its logs and request log. Each
 * fault case has one of its own, so the cases run side by side, each fault as it would be alone
 * (a whole request failed, not one secret's entry).
 */
async function canaryEndpoint(
  t: Test,
  name: string,
): Promise<{ aws: DevServer; report: () => void }> {
  const logs: string[] = [];
  const aws = await startDevServer({
    logger: createLogger({ write: (l: string) => logs.push(l) }, { level: 'debug' }),
    seed: SEED,
  });
  t.teardown(() => aws.close());
  const report = (): void => {
    collect(`${name} logs`, logs.join(''));
    collect(`${name} request log`, JSON.stringify(aws.requests.list()));
  };
  return { aws, report };
}

/** An init run that must fail: its logs and its termination line. */
async function failingInit(
  root: string,
  env: Env,
  title: string,
  extra: object,
): Promise<number | null> {
  const termination = join(root, `term-${title.replace(/\W/g, '-')}`);
  const run = await runAgent(
    [
      '--config-json',
      JSON.stringify({
        mode: 'init',
        outputDir: join(root, `fail-${title.replace(/\W/g, '-')}`),
        httpPort: 0,
        terminationLogPath: termination,
        ...extra,
      }),
    ],
    env,
  );
  collect(`agent logs: ${title}`, run.stdout + run.stderr);
  collect(`termination line: ${title}`, await readFile(termination, 'utf8'));
  return run.code;
}

/**
 * 2. Init failures: rendering errors on values that hold the canary, against an endpoint of
 * their own (the sidecar's fault is for the sidecar alone).
 */
async function renderingFailures(t: Test, root: string, extraEnv: Env): Promise<void> {
  const { aws, report } = await canaryEndpoint(t, 'dev endpoint (rendering errors)');
  const env = agentEnv(aws.url, extraEnv);
  const failing: [string, unknown][] = [
    ['key selects nothing', { name: 'x', id: 'json', key: 'missing' }],
    ['template field missing', { name: 'x', id: 'json', template: '{{ nope }} {{ password }}' }],
    ['not JSON', { name: 'x', id: 'not-json', key: 'broken' }],
    ['format needs an object', { name: 'x', id: 'plain', format: 'dotenv' }],
    ['binary with a key', { name: 'x', id: 'binary', key: 'a' }],
    [
      'dotenv of nested with bad names',
      { name: 'x', id: 'json', format: 'dotenv', key: '{"bad key": password}' },
    ],
  ];
  await Promise.all(
    failing.map(async ([title, secret]) => {
      t.equal(await failingInit(root, env, title, { secrets: [secret] }), 1, title);
    }),
  );
  report();
}

/** 2. Init failures: every AWS fault, each against an endpoint of its own. */
async function awsFaults(t: Test, root: string, extraEnv: Env): Promise<void> {
  const kinds = ['throttle', 'error5xx', 'accessDenied', 'decryptFailure', 'drop'] as const;
  await Promise.all(
    kinds.map(async (kind) => {
      const { aws, report } = await canaryEndpoint(t, `dev endpoint (${kind})`);
      aws.faults.add({ kind });
      const code = await failingInit(root, agentEnv(aws.url, extraEnv), kind, {
        initTimeout: '2s',
        secrets: [{ name: 'x', id: 'json' }],
      });
      t.equal(code, 1, kind);
      report();
    }),
  );
}

/** 3. A sidecar: health, readiness, metrics before and after a rotation and an outage. */
async function sidecarRun(
  t: Test,
  root: string,
  aws: DevServer,
  env: Env,
  good: object,
): Promise<void> {
  const port = await freePort();
  const sidecar = startAgent(
    [
      '--config-json',
      JSON.stringify({
        ...good,
        mode: 'sidecar',
        refreshInterval: '5s',
        httpAddress: '127.0.0.1',
        httpPort: port,
        outputDir: join(root, 'sidecar'),
      }),
    ],
    env,
  );
  t.teardown(() => sidecar.stop('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  await sidecar.waitForLog(/"msg":"all secrets written"/);
  t.match(await get(`${base}/readyz`), /^200/, 'the sidecar is ready');
  aws.putSecretValue('json', { username: 'u', password: `${CANARY}-2`, nested: { deep: CANARY } });
  aws.faults.add({ kind: 'accessDenied', secretId: 'plain', count: 1 });
  await sidecar.waitForLog(/"msg":"secret fetch failed"/, 20_000);
  await eventually(
    async () =>
      (await readFile(join(root, 'sidecar', 'pw'), 'utf8')) === `${CANARY}-2` ? true : undefined,
    20_000,
  );
  for (const path of ['/healthz', '/readyz', '/metrics'])
    collect(`agent ${path}`, await get(`${base}${path}`));
  collect('agent sidecar logs', (await sidecar.stop()).stdout);
}

/** 4. The injector: admission responses, logs, metrics; inject output. */
async function injector(t: Test): Promise<void> {
  const ca = makeCa();
  const pair = makePair(ca);
  const certs = certDir();
  await writeSecretVolume(certs, { 'tls.crt': pair.cert, 'tls.key': pair.key });
  const webhookPort = await freePort();
  const metricsPort = await freePort();
  const webhook = spawnWebhook({
    tlsDir: certs,
    port: webhookPort,
    metricsPort,
    logLevel: 'info',
  });
  let webhookLogs = '';
  webhook.stdout?.on('data', (d: Buffer) => (webhookLogs += d.toString()));
  webhook.stderr?.on('data', (d: Buffer) => (webhookLogs += d.toString()));
  t.teardown(() => webhook.kill('SIGKILL'));
  await lineMatching([webhook.stdout, webhook.stderr], /"msg":"listening"/);
  t.equal((await call({ port: webhookPort, ca: ca.cert, path: '/readyz' })).status, 200);
  const pods = [
    {
      'secrets-agent.io/inject': 'true',
      'secrets-agent.io/secret-db': 'json',
      'secrets-agent.io/key-db': 'password',
    },
    {
      'secrets-agent.io/inject': 'true',
      'secrets-agent.io/secret-db': 'json',
      'secrets-agent.io/kye-db': 'x',
    },
  ];
  for (const [i, annotations] of pods.entries()) {
    const body = podReview({ uid: `u${i}`, name: 'p', annotations });
    const reply = await call({
      port: webhookPort,
      ca: ca.cert,
      method: 'POST',
      path: '/mutate',
      headers: JSON_HEADERS,
      body,
    });
    const patch = (JSON.parse(reply.body) as { response?: { patch?: string } }).response?.patch;
    collect(
      'webhook responses',
      reply.body + (patch === undefined ? '' : Buffer.from(patch, 'base64').toString()),
    );
  }
  collect('webhook metrics', await get(`http://127.0.0.1:${metricsPort}/metrics`));
  webhook.kill('SIGTERM');
  await new Promise((resolve) => webhook.once('close', resolve));
  collect('webhook logs', webhookLogs);
  collect(
    'inject output',
    await runCli([
      'inject',
      '-f',
      join(import.meta.dirname, '..', 'manifests/examples/catalog/deployment.yaml'),
    ]),
  );
}

t.test('a canary secret value appears nowhere the product speaks', async (t) => {
  const kube = await startKubeApiServer({ tls: false });
  t.teardown(() => kube.close());
  const { aws, report } = await canaryEndpoint(t, 'dev endpoint');
  const root = await tempDir(t);
  const kubeconfig = join(root, 'kubeconfig');
  await writeFile(
    kubeconfig,
    `current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u, namespace: shop}}]\nclusters: [{name: k, cluster: {server: "${kube.url}"}}]\nusers: [{name: u, user: {token: ${ADMIN_TOKEN}}}]\n`,
  );
  const extraEnv = { KUBECONFIG: kubeconfig, SECRETS_AGENT_LOG_LEVEL: 'debug' };
  const env = agentEnv(aws.url, extraEnv);

  // 1. A successful init with every kind of rendering and the Secret sink.
  const good = {
    mode: 'init',
    outputDir: join(root, 'good'),
    httpPort: 0,
    terminationLogPath: join(root, 'good-termination'),
    k8sSecret: { name: 'app' },
    secrets: [
      { name: 'json', id: 'json', extract: true },
      { name: 'pw', id: 'json', key: 'password' },
      { name: 'env', id: 'json', key: 'nested', format: 'env' },
      { name: 'tpl', id: 'json', template: 'p={{ password }}' },
      { name: 'plain', id: 'plain' },
      { name: 'binary', id: 'binary' },
    ],
  };
  const ok = await runAgent(['--config-json', JSON.stringify(good)], env);
  t.equal(ok.code, 0, ok.stdout + ok.stderr);
  collect('agent init logs', ok.stdout + ok.stderr);
  t.match(await readFile(join(root, 'good', 'pw'), 'utf8'), CANARY, 'the files do hold it');

  // The rest side by side: the sidecar mostly waits for its refresh.
  await Promise.all([
    sidecarRun(t, root, aws, env, good),
    (async () => {
      await renderingFailures(t, root, extraEnv);
      await awsFaults(t, root, extraEnv);
      await injector(t);
    })(),
  ]);

  // 5. What the other side saw: the dev endpoint's logs and request log, the API server's traffic.
  report();
  collect('kubernetes API requests', JSON.stringify(kube.requests));

  t.ok(collected.size >= 20, `collected ${collected.size} sources`);
  for (const [where, text] of collected) {
    t.ok(text.length > 0, `${where}: something was collected`);
    t.equal(findCanary(text), undefined, `no secret value in ${where}`);
  }
});
