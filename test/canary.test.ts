/**
 * One test that collects everything the product says to anyone — agent logs and termination
 * lines (success, every fault, every rendering error), metrics, health answers, the dev
 * endpoint's logs and request log, the Kubernetes API traffic, the webhook's responses, logs
 * and metrics, `inject` output — while secrets hold a canary value, and greps it all.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';
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

t.test('a canary secret value appears nowhere the product speaks', async (t) => {
  const devLogs: string[] = [];
  const aws = await startDevServer({
    logger: createLogger({ write: (l: string) => devLogs.push(l) }, { level: 'debug' }),
    seed: {
      secrets: [
        { name: 'json', value: { username: 'u', password: CANARY, nested: { deep: CANARY } } },
        { name: 'plain', value: CANARY },
        { name: 'binary', binary: Buffer.from(`\u0000${CANARY}`).toString('base64') },
        { name: 'not-json', value: `{"broken": "${CANARY}"` },
      ],
    },
  });
  t.teardown(() => aws.close());
  const kube = await startKubeApiServer({ tls: false });
  t.teardown(() => kube.close());
  const root = await tempDir(t);
  const kubeconfig = join(root, 'kubeconfig');
  await writeFile(
    kubeconfig,
    `current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u, namespace: shop}}]\nclusters: [{name: k, cluster: {server: "${kube.url}"}}]\nusers: [{name: u, user: {token: ${ADMIN_TOKEN}}}]\n`,
  );
  const env = agentEnv(aws.url, { KUBECONFIG: kubeconfig, SECRETS_AGENT_LOG_LEVEL: 'debug' });

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

  // 2. Init failures: rendering errors on values that hold the canary, and AWS faults.
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
  for (const [title, secret] of failing) {
    const termination = join(root, `term-${title.replace(/\W/g, '-')}`);
    const run = await runAgent(
      [
        '--config-json',
        JSON.stringify({
          mode: 'init',
          outputDir: join(root, 'fail'),
          httpPort: 0,
          terminationLogPath: termination,
          secrets: [secret],
        }),
      ],
      env,
    );
    t.equal(run.code, 1, title);
    collect(`agent logs: ${title}`, run.stdout + run.stderr);
    collect(`termination line: ${title}`, await readFile(termination, 'utf8'));
  }
  for (const kind of ['throttle', 'error5xx', 'accessDenied', 'decryptFailure', 'drop'] as const) {
    aws.faults.clear();
    aws.faults.add({ kind });
    const termination = join(root, `term-${kind}`);
    const run = await runAgent(
      [
        '--config-json',
        JSON.stringify({
          mode: 'init',
          initTimeout: '2s',
          outputDir: join(root, 'fail'),
          httpPort: 0,
          terminationLogPath: termination,
          secrets: [{ name: 'x', id: 'json' }],
        }),
      ],
      env,
    );
    t.equal(run.code, 1, kind);
    collect(`agent logs: ${kind}`, run.stdout + run.stderr);
    collect(`termination line: ${kind}`, await readFile(termination, 'utf8'));
  }
  aws.faults.clear();

  // 3. A sidecar: health, readiness, metrics before and after a rotation and an outage.
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

  // 4. The injector: admission responses, logs, metrics; inject output.
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

  // 5. What the other side saw: the dev endpoint's logs and request log, the API server's traffic.
  collect('dev endpoint logs', devLogs.join(''));
  collect('dev endpoint request log', JSON.stringify(aws.requests.list()));
  collect('kubernetes API requests', JSON.stringify(kube.requests));

  t.ok(collected.size >= 20, `collected ${collected.size} sources`);
  for (const [where, text] of collected) {
    t.ok(text.length > 0, `${where}: something was collected`);
    t.equal(findCanary(text), undefined, `no secret value in ${where}`);
  }
});
