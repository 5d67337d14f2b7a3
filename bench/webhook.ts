/**
 * The webhook under load: `POST /mutate` with a realistic opted-in pod (the catalog example,
 * test/fixtures/pods/env-vars.yaml) as an AdmissionReview, against `dist/cli.js webhook` as a
 * real process, at concurrency 1, 16 and 64 (autocannon), then at a fixed 200 requests/s.
 * The baseline, in the same run: a bare Node HTTPS server (same certificate, same Node) that
 * reads the body and answers the webhook's own response bytes, fixed.
 *
 *   node bench/webhook.ts [--quick]
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import { makeCa, makePair } from '../test/helpers/certs.ts';
import { freePort } from '../test/helpers/agent-process.ts';
import { CLI, NODE, printResult, QUICK, ROOT, round, sleep, table, tempDir } from './lib.ts';

const CONCURRENCY = [1, 16, 64] as const;
const SECONDS = QUICK ? 1 : 5;
const RATE = 200;
const GOAL_THROUGHPUT = 0.7;
const GOAL_P99_MS = 10;

const work = tempDir('sa-bench-webhook-');
const pair = makePair(makeCa());
const certFile = join(work, 'tls.crt');
const keyFile = join(work, 'tls.key');
writeFileSync(certFile, pair.cert);
writeFileSync(keyFile, pair.key);

const pod = parse(readFileSync(join(ROOT, 'test/fixtures/pods/env-vars.yaml'), 'utf8')) as unknown;
const body = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'catalog',
    operation: 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    object: pod,
    dryRun: false,
  },
});

const BARE_SERVER = `
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
const response = readFileSync(process.env.RESPONSE_FILE);
const server = createServer({ cert: readFileSync(process.env.CERT), key: readFileSync(process.env.KEY) }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(response));
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
`;

interface Server {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
}

async function waitListening(child: ChildProcess, port: number, name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}`);
    const up = await post(port).then(
      () => true,
      () => false,
    );
    if (up) return;
    await sleep(100);
  }
  throw new Error(`${name} did not listen on ${port}`);
}

function post(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function startWebhook(): Promise<Server> {
  const port = await freePort();
  const child = spawn(
    NODE,
    [
      CLI,
      'webhook',
      '--address',
      '127.0.0.1',
      '--port',
      String(port),
      '--tls-cert-file',
      certFile,
      '--tls-key-file',
      keyFile,
      '--metrics-port',
      '0',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitListening(child, port, 'webhook');
  return { name: 'webhook', port, child };
}

async function startBare(responseFile: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(NODE, ['--input-type=module', '-e', BARE_SERVER], {
    env: { CERT: certFile, KEY: keyFile, PORT: String(port), RESPONSE_FILE: responseFile },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitListening(child, port, 'bare server');
  return { name: 'bare https', port, child };
}

interface Load {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

async function load(server: Server, connections: number, overallRate?: number): Promise<Load> {
  const result = await autocannon({
    url: `https://127.0.0.1:${server.port}/mutate`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: SECONDS,
    ...(overallRate === undefined ? {} : { overallRate }),
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const webhook = await startWebhook();
const responseFile = join(work, 'response.json');
writeFileSync(responseFile, await post(webhook.port));
const bare = await startBare(responseFile);
try {
  // Warm-up: JIT, TLS session setup paths.
  await load(webhook, 16);
  await load(bare, 16);
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown>[] = [];
  let throughputMet = true;
  for (const c of CONCURRENCY) {
    const w = await load(webhook, c);
    const b = await load(bare, c);
    const ratio = w.rps / b.rps;
    throughputMet &&= ratio >= GOAL_THROUGHPUT;
    rows.push([
      `concurrency ${c}`,
      round(w.rps, 0),
      w.p50,
      w.p99,
      round(b.rps, 0),
      b.p50,
      b.p99,
      ratio.toFixed(2),
    ]);
    results.push({ concurrency: c, webhook: w, bare: b, throughputRatio: round(ratio) });
  }
  const wr = await load(webhook, 8, RATE);
  const br = await load(bare, 8, RATE);
  rows.push([
    `fixed ${RATE}/s`,
    round(wr.rps, 0),
    wr.p50,
    wr.p99,
    round(br.rps, 0),
    br.p50,
    br.p99,
    (wr.rps / br.rps).toFixed(2),
  ]);
  const errors = results.reduce(
    (sum, r) => sum + (r['webhook'] as Load).errors + (r['webhook'] as Load).non2xx,
    wr.errors + wr.non2xx,
  );
  process.stdout.write(
    `Webhook POST /mutate (catalog pod, ${body.length} bytes), ${SECONDS} s per point, latency in ms\n\n`,
  );
  process.stdout.write(
    `${table(['load', 'webhook req/s', 'p50', 'p99', 'bare req/s', 'p50', 'p99', 'x bare req/s'], rows)}\n`,
  );
  const p99Met = wr.p99 < GOAL_P99_MS;
  process.stdout.write(
    `\ngoal: throughput >= ${GOAL_THROUGHPUT}x bare at every concurrency: ${throughputMet ? 'met' : 'MISSED'}; ` +
      `p99 < ${GOAL_P99_MS} ms at ${RATE}/s: ${wr.p99} ms ${p99Met ? 'met' : 'MISSED'}; errors and non-2xx: ${errors}\n`,
  );
  printResult('webhook', {
    seconds: SECONDS,
    requestBytes: body.length,
    results,
    fixedRate: { rate: RATE, webhook: wr, bare: br },
    errors,
    goal: { throughputRatio: GOAL_THROUGHPUT, throughputMet, p99Ms: GOAL_P99_MS, p99Met },
  });
} finally {
  webhook.child.kill('SIGTERM');
  bare.child.kill('SIGTERM');
}
