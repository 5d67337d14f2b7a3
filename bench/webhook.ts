/**
 * The webhook under load and under abuse, against `dist/cli.js webhook` as a real process run
 * with the runtime settings of manifests/deployment.yaml (NODE_OPTIONS, MALLOC_*).
 *
 * 1. Throughput: `POST /mutate` with a realistic opted-in pod (the catalog example,
 *    test/fixtures/pods/env-vars.yaml) at concurrency 1, 16 and 64 (autocannon), then at a
 *    fixed 200 requests/s. The baseline, in the same run and alternating with the webhook round
 *    by round: a bare Node HTTPS server (same certificate, same Node) that reads the body and
 *    answers the webhook's own response bytes, fixed.
 * 2. A 3 MiB review whose pod holds a million `tolerations: [{}, …]` (and the same million in
 *    the app container, and in an init container the agent moves): time to answer and peak RSS
 *    growth (VmHWM), RSS a few seconds later; an ordinary admission sent by another process
 *    0 to 80 ms after each large body (while it is read or decided); the bare server reading
 *    the same body as the baseline.
 * 3. Sixty connections that each send 3 MiB − 1 byte of a 3 MiB body and stall: how many are
 *    refused at once, how long the others are held, the RSS they cost; an ordinary admission
 *    meanwhile.
 * 4. Hostile reviews at the body cap, one per fresh process: each list the injector reads
 *    filled with `{}` (refused past its bound before it is built), an init container the
 *    agent moves with the most env vars allowed: time, answer size, peak RSS growth (goals: 1 s,
 *    64 MiB); then 64 of them in flight at once: the process lives under its shipped heap.
 *
 *   node bench/webhook.ts [--quick] [--hostile-only]
 *   SECRETS_AGENT_BENCH_CLI=path/to/cli.js: another bundle (relative to the checkout)
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect } from 'node:tls';
import { freePort } from '../test/helpers/agent-process.ts';
import {
  postReview,
  shippedRuntimeEnv,
  untilUp,
  writeServingPair,
  type Reply,
} from '../test/helpers/shipped-webhook.ts';
import {
  pathologicalReview,
  READ_LISTS,
  THREE_MIB,
  type Filler,
} from '../test/helpers/pathological.ts';
import {
  catalogReview,
  median,
  NODE,
  printResult,
  QUICK,
  round,
  sleep,
  table,
  tempDir,
  vmHwm,
  vmRss,
  benchWebhook,
} from './lib.ts';

const CONCURRENCY = [1, 16, 64] as const;
const SECONDS = QUICK ? 0.25 : 5;
/**
 * autocannon counts requests per sample: a quick point lasts one short sample. Not at the fixed
 * rate, which autocannon paces per whole second: that point lasts at least one.
 */
const SAMPLE_MS = QUICK ? 250 : 1000;
const ROUNDS = QUICK ? 1 : 3;
const RATE = 200;
const STALLED = QUICK ? 12 : 60;
/** When the ordinary admission is sent, after the large body: one try each. */
const ALONGSIDE_AFTER_MS = QUICK ? [0, 20] : [0, 10, 20, 40, 80];
const MIB = 1024 * 1024;

const GOAL = {
  throughputRatio: 0.7,
  p99Ms: 10,
  pathologicalMs: 1000,
  pathologicalRssMiB: 100,
  /** "Returned": a few seconds later, RSS within this of where it was before. */
  returnedRssMiB: 25,
  alongsideMs: 100,
  hostileMs: 1000,
  hostileRssMiB: 64,
  inFlight: 64,
} as const;
const HOSTILE_ONLY = process.argv.includes('--hostile-only');
/** Hostile reviews sent at once: the goal's number, fewer in a quick run. */
const IN_FLIGHT = QUICK ? 16 : GOAL.inFlight;

const work = tempDir('sa-bench-webhook-');
writeServingPair(work);

const body = catalogReview('705ab4f5-6393-11e8-b7cc-42010a800002');

const RUNTIME_ENV = shippedRuntimeEnv();

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

function waitListening(child: ChildProcess, port: number, name: string): Promise<void> {
  return untilUp(child, async () => (await post(port, body)).status === 200, name);
}

/** Posts `payload` (nothing checks the certificate); `onSent`: its last byte is handed over. */
function post(port: number, payload: string, onSent?: () => void): Promise<Reply> {
  return postReview(port, payload, { sent: onSent });
}

async function startWebhook(): Promise<Server> {
  const port = await freePort();
  const child = benchWebhook(work, port);
  await waitListening(child, port, 'webhook');
  return { name: 'webhook', port, child };
}

async function startBare(responseFile: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(NODE, ['--input-type=module', '-e', BARE_SERVER], {
    env: {
      CERT: join(work, 'tls.crt'),
      KEY: join(work, 'tls.key'),
      PORT: String(port),
      RESPONSE_FILE: responseFile,
      ...RUNTIME_ENV,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitListening(child, port, 'bare server');
  return { name: 'bare https', port, child };
}

function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

/** The 1-minute load average and the cores: the machine is shared, figures move with it. */
function machineLoad(): string {
  const [one] = readFileSync('/proc/loadavg', 'utf8').split(' ');
  return `load average ${one ?? '?'} on ${readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? '?'} cores`;
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput

interface Load {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

async function load(server: Server, connections: number, overallRate?: number): Promise<Load> {
  const sampleMs = overallRate === undefined ? SAMPLE_MS : 1000;
  const result = await autocannon({
    url: `https://127.0.0.1:${server.port}/mutate`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: Math.max(SECONDS, sampleMs / 1000),
    sampleInt: sampleMs,
    ...(overallRate === undefined ? {} : { overallRate }),
  });
  return {
    rps: (result.requests.average * 1000) / sampleMs,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

interface Point {
  readonly label: string;
  readonly webhook: Load[];
  readonly bare: Load[];
}

/** Every point, webhook then bare, round after round: both see the same machine. */
async function throughput(webhook: Server, bare: Server): Promise<Point[]> {
  const points: Point[] = [
    ...CONCURRENCY.map((c) => ({ label: `concurrency ${c}`, webhook: [], bare: [] })),
    { label: `fixed ${RATE}/s`, webhook: [], bare: [] },
  ];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, point] of points.entries()) {
      const c = CONCURRENCY[i];
      const run = (s: Server): Promise<Load> => (c === undefined ? load(s, 8, RATE) : load(s, c));
      point.webhook.push(await run(webhook));
      point.bare.push(await run(bare));
    }
  }
  return points;
}

function summary(loads: readonly Load[]): Load {
  return {
    rps: median(loads.map((l) => l.rps)),
    p50: median(loads.map((l) => l.p50)),
    p99: median(loads.map((l) => l.p99)),
    errors: loads.reduce((n, l) => n + l.errors, 0),
    non2xx: loads.reduce((n, l) => n + l.non2xx, 0),
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Pathological reviews

interface Pathological {
  readonly filler: Filler;
  readonly status: number;
  readonly ms: number;
  readonly bareMs: number;
  readonly peakGrowthMiB: number;
  readonly bareGrowthMiB: number;
  readonly afterGrowthMiB: number;
  readonly alongsideMs: readonly number[];
}

/**
 * The client of ordinary admissions, in a process of its own (as the API server is): the
 * bench's own work on a large answer must not count as the webhook's delay. Each line on its
 * stdin posts one admission over a kept-alive connection; it prints the status and the ms.
 */
const PROBE = `
import { Agent, request } from 'node:https';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
const body = readFileSync(process.env.BODY_FILE);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function post() {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: Number(process.env.PORT), path: '/mutate', method: 'POST', agent, rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode + ' ' + (performance.now() - started)));
    });
    req.on('error', (err) => resolve('0 ' + err.message));
    req.end(body);
  });
}
for await (const _ of createInterface({ input: process.stdin })) console.log(await post());
`;

interface Probe {
  /** Posts one ordinary admission; its latency in ms as the probe process saw it. */
  post(): Promise<number>;
  stop(): void;
}

async function startProbe(port: number): Promise<Probe> {
  const bodyFile = join(work, 'ordinary.json');
  writeFileSync(bodyFile, body);
  const child = spawn(NODE, ['--input-type=module', '-e', PROBE], {
    env: { PORT: String(port), BODY_FILE: bodyFile },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const post = async (): Promise<number> => {
    child.stdin.write('post\n');
    const { value: line } = await lines.next();
    const [status, ms] = (line ?? '0 no answer').split(' ');
    if (status !== '200') throw new Error(`ordinary admission answered ${line ?? 'nothing'}`);
    return Number(ms);
  };
  for (let i = 0; i < 20; i++) await post(); // warm: connection open, code paths hot
  return { post, stop: () => child.kill('SIGTERM') };
}

/**
 * An ordinary admission posted (by the probe) `afterMs` after the last byte of `payload` was
 * handed to the connection: at 0 it may still be read between the large body's chunks; later,
 * it arrives while the webhook reads or decides the large one, and waits for that.
 */
async function alongside(
  port: number,
  payload: string,
  probe: Probe,
  afterMs: number,
): Promise<number> {
  let sent: () => void = () => undefined;
  const whenSent = new Promise<void>((resolve) => (sent = resolve));
  const big = post(port, payload, () => sent());
  await whenSent;
  await sleep(afterMs);
  const ms = await probe.post();
  await big;
  return ms;
}

async function pathological(filler: Filler, responseFile: string): Promise<Pathological> {
  const payload = pathologicalReview('patho-1', filler);
  const webhook = await startWebhook();
  const bare = await startBare(responseFile);
  try {
    for (let i = 0; i < 50; i++) {
      await post(webhook.port, body);
      await post(bare.port, body);
    }
    const pid = webhook.child.pid ?? 0;
    const before = vmRss(pid);
    const hwmBefore = Math.max(vmHwm(pid), before);
    const reply = await post(webhook.port, payload);
    const peak = vmHwm(pid) - hwmBefore;
    const barePid = bare.child.pid ?? 0;
    const bareHwm = Math.max(vmHwm(barePid), vmRss(barePid));
    const bareReply = await post(bare.port, payload);
    const bareGrowth = vmHwm(barePid) - bareHwm;
    const probe = await startProbe(webhook.port);
    const alongsideMs: number[] = [];
    for (const afterMs of ALONGSIDE_AFTER_MS)
      alongsideMs.push(await alongside(webhook.port, payload, probe, afterMs));
    probe.stop();
    await sleep(QUICK ? 1000 : 5000);
    for (let i = 0; i < 20; i++) await post(webhook.port, body);
    const after = vmRss(pid) - before;
    return {
      filler,
      status: reply.status,
      ms: reply.ms,
      bareMs: bareReply.ms,
      peakGrowthMiB: peak / MIB,
      bareGrowthMiB: bareGrowth / MIB,
      afterGrowthMiB: after / MIB,
      alongsideMs,
    };
  } finally {
    await stop(webhook);
    await stop(bare);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Stalled slow bodies

interface Stalled {
  readonly connections: number;
  readonly refused: number;
  readonly cut: number;
  readonly heldMs: number;
  readonly stillOpen: number;
  readonly peakGrowthMiB: number;
  readonly ordinaryStatus: number;
  readonly ordinaryMs: number;
}

/**
 * Opens a connection that sends all but the last byte of a 3 MiB body and stalls. Refused: a
 * 503, or the connection closed, within a second (the refusal may cut the body's sending short).
 */
function stall(port: number): Promise<{ refused: boolean; closedAt: Promise<number> }> {
  return new Promise((resolve) => {
    const opened = performance.now();
    let answered503 = false;
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      socket.write(
        `POST /mutate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${THREE_MIB}\r\n\r\n`,
      );
      socket.write(Buffer.alloc(THREE_MIB - 1, 0x20));
    });
    sockets.push(socket);
    socket.on('data', (d: Buffer) => {
      if (d.toString('latin1').startsWith('HTTP/1.1 503')) answered503 = true;
    });
    socket.on('error', () => undefined); // EPIPE when refused while still sending
    const closedAt = new Promise<number>((done) =>
      socket.once('close', () => done(performance.now())),
    );
    void sleep(1000).then(async () => {
      const closedSoon = await Promise.race([
        closedAt.then((at) => at - opened < 1000),
        sleep(0).then(() => false),
      ]);
      resolve({ refused: answered503 || closedSoon, closedAt });
    });
  });
}
const sockets: import('node:tls').TLSSocket[] = [];

/**
 * When a connection closed, or NaN if it is still open after `ms`. The timer is cleared once it
 * closes: a pending one would hold the process open for the rest of `ms` after the report.
 */
function closedWithin(closedAt: Promise<number>, ms: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<number>((resolve) => (timer = setTimeout(resolve, ms, Number.NaN)));
  return Promise.race([closedAt, limit]).finally(() => clearTimeout(timer));
}

async function stalledBodies(): Promise<Stalled> {
  const webhook = await startWebhook();
  try {
    for (let i = 0; i < 50; i++) await post(webhook.port, body);
    const pid = webhook.child.pid ?? 0;
    const hwmBefore = Math.max(vmHwm(pid), vmRss(pid));
    const started = performance.now();
    const opened = await Promise.all(Array.from({ length: STALLED }, () => stall(webhook.port)));
    const ordinary = await post(webhook.port, body);
    const closes = await Promise.all(opened.map((o) => closedWithin(o.closedAt, 20_000)));
    const held = closes.filter((c, i) => opened[i]?.refused === false && !Number.isNaN(c));
    const stillOpen = closes.filter((c) => Number.isNaN(c)).length;
    for (const s of sockets) s.destroy();
    return {
      connections: STALLED,
      refused: opened.filter((o) => o.refused).length,
      cut: closes.filter((c) => !Number.isNaN(c)).length,
      heldMs: Math.max(0, ...held.map((c) => c - started)),
      stillOpen,
      peakGrowthMiB: (vmHwm(pid) - hwmBefore) / MIB,
      ordinaryStatus: ordinary.status,
      ordinaryMs: ordinary.ms,
    };
  } finally {
    await stop(webhook);
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Hostile reviews at the body cap

interface Hostile {
  readonly shape: string;
  readonly status: number;
  readonly ms: number;
  readonly answerBytes: number;
  readonly peakGrowthMiB: number;
}

/** An init container the agent moves down, with as many env vars as allowed, padded to 3 MiB. */
function movedInitReview(): string {
  const env = Array.from({ length: 4096 }, (_, i) => ({ name: `V${i}`, value: 'x'.repeat(200) }));
  const review = JSON.parse(pathologicalReview('moved', 'tolerations', 512 * 1024)) as {
    request: { object: { spec: Record<string, unknown> } };
  };
  review.request.object.spec['initContainers'] = [{ name: 'setup', image: 'busybox:1', env }];
  return JSON.stringify(review);
}

const HOSTILE: readonly { shape: string; review: () => string }[] = [
  ...READ_LISTS.map((filler) => ({
    shape: `${filler}: {} to 3 MiB`,
    review: () => pathologicalReview(`hostile-${filler}`, filler),
  })),
  { shape: 'init container moved, 4096 env vars', review: movedInitReview },
];

async function hostileOne(shape: string, review: string): Promise<Hostile> {
  const webhook = await startWebhook();
  try {
    for (let i = 0; i < 30; i++) await post(webhook.port, body);
    const pid = webhook.child.pid ?? 0;
    const before = Math.max(vmHwm(pid), vmRss(pid));
    const started = performance.now();
    // A process that dies on the request (the heap limit) answers nothing: status 0.
    const reply = await post(webhook.port, review).catch(() => ({
      status: 0,
      ms: performance.now() - started,
      body: '',
    }));
    await sleep(100); // a process that died on it has exited by now
    const died = webhook.child.exitCode !== null || webhook.child.signalCode !== null;
    return {
      shape,
      status: reply.status,
      ms: reply.ms,
      answerBytes: reply.body.length,
      peakGrowthMiB: died ? Number.NaN : (vmHwm(pid) - before) / MIB,
    };
  } finally {
    await stop(webhook);
  }
}

/** 64 of the heaviest at once: answered (200, 400, or 503 past the bytes in flight), alive. */
async function hostileInFlight(review: string): Promise<{
  statuses: Record<string, number>;
  alive: boolean;
  worstMs: number;
  peakGrowthMiB: number;
}> {
  const webhook = await startWebhook();
  try {
    for (let i = 0; i < 30; i++) await post(webhook.port, body);
    const pid = webhook.child.pid ?? 0;
    const before = Math.max(vmHwm(pid), vmRss(pid));
    const replies = await Promise.all(
      Array.from({ length: IN_FLIGHT }, () =>
        post(webhook.port, review).catch(() => ({ status: 0, ms: 0, body: '' })),
      ),
    );
    const statuses: Record<string, number> = {};
    for (const r of replies) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    await sleep(100);
    return {
      statuses,
      alive: webhook.child.exitCode === null && webhook.child.signalCode === null,
      worstMs: Math.max(...replies.map((r) => r.ms)),
      peakGrowthMiB: (vmHwm(pid) - before) / MIB,
    };
  } finally {
    await stop(webhook);
  }
}

/** The shipped heap (--max-old-space-size), in MiB. */
const SHIPPED_HEAP_MIB = Number(
  /--max-old-space-size=(\d+)/.exec(RUNTIME_ENV['NODE_OPTIONS'] ?? '')?.[1] ?? NaN,
);

async function hostileSection(): Promise<void> {
  const results: Hostile[] = [];
  for (const h of QUICK ? HOSTILE.slice(0, 2) : HOSTILE)
    results.push(await hostileOne(h.shape, h.review()));
  const heaviest = pathologicalReview('in-flight', 'app-env');
  const inFlight = await hostileInFlight(heaviest);
  process.stdout.write(
    `${table(
      ['hostile review (3 MiB)', 'status', 'ms', 'answer bytes', 'peak RSS +MiB'],
      results.map((r) => [
        r.shape,
        r.status,
        round(r.ms, 0),
        r.answerBytes,
        round(r.peakGrowthMiB, 1),
      ]),
    )}\n\n`,
  );
  const met = {
    time: results.every((r) => r.status !== 0 && r.ms < GOAL.hostileMs),
    rss: results.every((r) => r.peakGrowthMiB < GOAL.hostileRssMiB),
    inFlight:
      inFlight.alive && !('0' in inFlight.statuses) && inFlight.peakGrowthMiB < SHIPPED_HEAP_MIB,
  };
  const word = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  process.stdout.write(
    [
      `goal: any hostile review up to the body cap answered within ${GOAL.hostileMs} ms: worst ${round(Math.max(...results.map((r) => r.ms)), 0)} ms ${word(met.time)}`,
      `goal: its peak RSS growth < ${GOAL.hostileRssMiB} MiB: worst ${round(Math.max(...results.map((r) => r.peakGrowthMiB)), 1)} MiB ${word(met.rss)}`,
      `goal: ${GOAL.inFlight} in flight at once (${IN_FLIGHT} sent) stay under the shipped heap (${SHIPPED_HEAP_MIB} MiB): ${inFlight.alive ? 'alive' : 'DIED'}, statuses ${JSON.stringify(inFlight.statuses)}, worst ${round(inFlight.worstMs, 0)} ms, peak RSS +${round(inFlight.peakGrowthMiB, 1)} MiB ${word(met.inFlight)}`,
      '',
    ].join('\n'),
  );
  printResult('webhook-hostile', { results, inFlight, goal: { ...GOAL, met } });
}

if (HOSTILE_ONLY) {
  await hostileSection();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------

const webhook = await startWebhook();
const responseFile = join(work, 'response.json');
writeFileSync(responseFile, (await post(webhook.port, body)).body);
const bare = await startBare(responseFile);
const loadBefore = machineLoad();
let points: Point[];
try {
  // Warm-up: JIT, TLS session setup paths (not in a quick run, whose figures are not kept).
  if (!QUICK) {
    await load(webhook, 16);
    await load(bare, 16);
  }
  points = await throughput(webhook, bare);
} finally {
  await stop(webhook);
  await stop(bare);
}
const fillers: Filler[] = QUICK ? ['tolerations'] : ['tolerations', 'app-envFrom', 'init-envFrom'];
const patho: Pathological[] = [];
for (const filler of fillers) patho.push(await pathological(filler, responseFile));
const stalled = await stalledBodies();
const loadAfter = machineLoad();

// Report.
const results = points.map((p) => {
  const w = summary(p.webhook);
  const b = summary(p.bare);
  const ratios = p.webhook.map((l, i) => l.rps / (p.bare[i]?.rps ?? Number.NaN));
  return { point: p.label, webhook: w, bare: b, throughputRatio: round(median(ratios)), ratios };
});
const fixed = results.at(-1);
const concurrent = results.slice(0, -1);
process.stdout.write(
  `Webhook POST /mutate (catalog pod, ${body.length} bytes), ${SECONDS} s per point, ${ROUNDS} round(s) alternating webhook and bare, latency in ms; runtime ${JSON.stringify(RUNTIME_ENV)}\n` +
    `machine: ${loadBefore} before, ${loadAfter} after (shared with other work)\n\n`,
);
process.stdout.write(
  `${table(
    [
      'load',
      'webhook req/s',
      'p50',
      'p99',
      'bare req/s',
      'p50',
      'p99',
      'x bare req/s (median of rounds)',
    ],
    results.map((r) => [
      r.point,
      round(r.webhook.rps, 0),
      r.webhook.p50,
      r.webhook.p99,
      round(r.bare.rps, 0),
      r.bare.p50,
      r.bare.p99,
      `${r.throughputRatio.toFixed(2)} (${r.ratios.map((x) => x.toFixed(2)).join(', ')})`,
    ]),
  )}\n\n`,
);
process.stdout.write(
  `${table(
    [
      '3 MiB review, a million {} in',
      'status',
      'ms',
      'bare ms',
      'peak RSS +MiB',
      'bare +MiB',
      'RSS later +MiB',
      `ordinary sent ${ALONGSIDE_AFTER_MS.join(', ')} ms after it: ms`,
    ],
    patho.map((p) => [
      p.filler,
      p.status,
      round(p.ms, 0),
      round(p.bareMs, 0),
      round(p.peakGrowthMiB, 1),
      round(p.bareGrowthMiB, 1),
      round(p.afterGrowthMiB, 1),
      p.alongsideMs.map((x) => round(x, 0)).join(', '),
    ]),
  )}\n\n`,
);
process.stdout.write(
  `${table(
    [
      'stalled 3 MiB bodies',
      'refused at once',
      'cut',
      'held up to ms',
      'still open',
      'peak RSS +MiB',
      'ordinary meanwhile',
    ],
    [
      [
        String(stalled.connections),
        stalled.refused,
        stalled.cut,
        round(stalled.heldMs, 0),
        stalled.stillOpen,
        round(stalled.peakGrowthMiB, 1),
        `${stalled.ordinaryStatus} in ${round(stalled.ordinaryMs, 0)} ms`,
      ],
    ],
  )}\n`,
);

const errors = results.reduce((n, r) => n + r.webhook.errors + r.webhook.non2xx, 0);
const met = {
  throughput: concurrent.every((r) => r.throughputRatio >= GOAL.throughputRatio),
  p99: (fixed?.webhook.p99 ?? Infinity) < GOAL.p99Ms,
  pathologicalTime: patho.every((p) => p.status === 200 && p.ms < GOAL.pathologicalMs),
  pathologicalRss: patho.every((p) => p.peakGrowthMiB < GOAL.pathologicalRssMiB),
  returned: patho.every((p) => p.afterGrowthMiB < GOAL.returnedRssMiB),
  alongside: patho.every((p) => Math.max(...p.alongsideMs) < GOAL.alongsideMs),
};
const word = (ok: boolean): string => (ok ? 'met' : 'MISSED');
process.stdout.write(
  [
    '',
    `goal: throughput >= ${GOAL.throughputRatio}x bare at every concurrency: ${concurrent.map((r) => r.throughputRatio.toFixed(2)).join(', ')} ${word(met.throughput)}`,
    `goal: p99 < ${GOAL.p99Ms} ms at ${RATE}/s: ${fixed?.webhook.p99 ?? '?'} ms (bare ${fixed?.bare.p99 ?? '?'} ms) ${word(met.p99)}`,
    `goal: a 3 MiB pathological review answered within ${GOAL.pathologicalMs} ms: ${patho.map((p) => round(p.ms, 0)).join(', ')} ms ${word(met.pathologicalTime)}`,
    `goal: its peak RSS growth < ${GOAL.pathologicalRssMiB} MiB: ${patho.map((p) => round(p.peakGrowthMiB, 1)).join(', ')} MiB ${word(met.pathologicalRss)}; ` +
      `returned (within ${GOAL.returnedRssMiB} MiB a few seconds later): ${patho.map((p) => round(p.afterGrowthMiB, 1)).join(', ')} MiB ${word(met.returned)}`,
    `goal: an ordinary admission alongside answered within ${GOAL.alongsideMs} ms: worst ${patho.map((p) => round(Math.max(...p.alongsideMs), 0)).join(', ')} ms ${word(met.alongside)}`,
    `errors and non-2xx under load: ${errors}`,
    '',
  ].join('\n'),
);
await hostileSection();
printResult('webhook', {
  seconds: SECONDS,
  rounds: ROUNDS,
  requestBytes: body.length,
  runtime: RUNTIME_ENV,
  machine: { before: loadBefore, after: loadAfter },
  results,
  fixedRate: { rate: RATE, webhook: fixed?.webhook, bare: fixed?.bare },
  pathological: patho,
  stalled,
  errors,
  goal: { ...GOAL, met },
});
