/**
 * The webhook command as a real process under load, with a TLS rotation in the middle done the
 * way the kubelet updates a Secret volume (a new `..<timestamp>` directory, the `..data` symlink
 * swapped). 16 keep-alive clients and 4 clients opening a fresh TLS connection per request send
 * real AdmissionReviews (injected, skipped, denied), bounded by count and time; a fifth kind of
 * client sends oversized and malformed bodies meanwhile. Not one good request may fail, both
 * certificates must be served to fresh connections, and the metrics must count every request.
 * (The rotation alone, against a stub handler: test/webhook-tls.test.ts.)
 */
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import {
  JSON_HEADERS,
  call,
  makeCa,
  makePair,
  tempDir,
  writeSecretVolume,
} from './helpers/certs.ts';
import { podReview } from './helpers/admission.ts';
import { counter, lineMatching } from './helpers/wait.ts';
import { freePort } from './helpers/agent-process.ts';
import { spawnWebhook } from './helpers/shipped-webhook.ts';

const TOTAL = 5_000;
const DEADLINE_MS = 20_000;
const KEEP_ALIVE_CLIENTS = 16;
const FRESH_CLIENTS = 4;
const MAX_BODY = 3 * 1024 * 1024;

const ca = makeCa();
const [pairA, pairB] = [makePair(ca), makePair(ca)];

function reviewBody(uid: string, kind: number): string {
  const annotations: Record<string, string>[] = [
    { 'secrets-agent.io/inject': 'true', 'secrets-agent.io/secret-db': 'prod/db' },
    {},
    { 'secrets-agent.io/inject': 'true', 'secrets-agent.io/secert-db': 'prod/db' },
  ];
  return podReview({ uid, name: `p-${uid}`, annotations: annotations[kind % 3] ?? {} });
}

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly fingerprint: string;
  readonly reused: boolean;
}

function post(port: number, agent: Agent, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/mutate',
        headers: { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) },
        agent,
      },
      (res) => {
        const fingerprint = (res.socket as unknown as TLSSocket).getPeerCertificate()
          .fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            fingerprint,
            reused: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The plain-HTTP metrics endpoint's text. */
async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function metric(text: string, pattern: RegExp): number {
  return Number(pattern.exec(text)?.[1] ?? NaN);
}

interface Webhook {
  readonly port: number;
  readonly metricsPort: number;
  readonly output: () => string;
}

async function startWebhook(t: Test, dir: string): Promise<Webhook> {
  const metricsPort = await freePort();
  const child = spawnWebhook({ tlsDir: dir, port: 0, metricsPort, logLevel: 'info' });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const line = await lineMatching([child.stdout, child.stderr], /"msg":"listening"/, 15_000);
  const { port } = JSON.parse(line) as { port: number };
  return { port, metricsPort, output: () => output };
}

interface Tally {
  sent: number;
  ok: number;
  failures: string[];
  /** Fingerprints served to fresh connections, in order. */
  fresh: string[];
  reused: number;
  bad: { sent: number; answered: Record<string, number>; failures: string[] };
}

/** The bad requests and the status each must get; none may disturb the good ones. */
const BAD: readonly { name: string; status: number; body: () => string | Buffer }[] = [
  { name: 'oversized', status: 413, body: () => Buffer.alloc(MAX_BODY + 1, 0x20) },
  { name: 'not JSON', status: 400, body: () => '{"apiVersion":' },
  { name: 'not a review', status: 400, body: () => '{"kind":"Pod"}' },
  {
    name: 'no uid',
    status: 400,
    body: () =>
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} }),
  },
  {
    name: 'pod of the wrong shape',
    status: 400,
    body: () =>
      reviewBody('bad', 0).replace(
        '"containers":[{"name":"app","image":"app:1"}]',
        '"containers":{}',
      ),
  },
];

t.test(
  'under load, with a kubelet-style rotation halfway: no failed request, both pairs served',
  async (t) => {
    const dir = tempDir();
    await writeSecretVolume(dir, { 'tls.crt': pairA.cert, 'tls.key': pairA.key });
    const webhook = await startWebhook(t, dir);
    const tally: Tally = {
      sent: 0,
      ok: 0,
      failures: [],
      fresh: [],
      reused: 0,
      bad: { sent: 0, answered: {}, failures: [] },
    };
    const deadline = Date.now() + DEADLINE_MS;
    const progress = counter<'sent'>();
    let rotatedAt = -1;
    const done = (): boolean =>
      Date.now() > deadline ||
      (tally.sent >= TOTAL &&
        tally.fresh.slice(rotatedAt).filter((f) => f === pairB.fingerprint256).length >= 20);

    const check = (uid: string, status: number, body: string): void => {
      if (status !== 200) {
        tally.failures.push(`${uid}: ${status} ${body.slice(0, 200)}`);
        return;
      }
      const answer = JSON.parse(body) as { response?: { uid?: string } };
      if (answer.response?.uid !== uid)
        tally.failures.push(`${uid}: answered ${body.slice(0, 200)}`);
      else tally.ok += 1;
    };

    const keepAlive = async (id: number): Promise<void> => {
      const agent = new Agent({
        keepAlive: true,
        maxSockets: 1,
        ca: ca.cert,
        servername: 'localhost',
      });
      try {
        for (let i = 0; !done(); i++) {
          const uid = `k${id}-${i}`;
          tally.sent += 1;
          progress.add('sent');
          try {
            const res = await post(webhook.port, agent, reviewBody(uid, i));
            if (res.reused) tally.reused += 1;
            check(uid, res.status, res.body);
          } catch (err) {
            tally.failures.push(`${uid}: ${String(err)}`);
          }
        }
      } finally {
        agent.destroy();
      }
    };

    const fresh = async (id: number): Promise<void> => {
      for (let i = 0; !done(); i++) {
        const uid = `f${id}-${i}`;
        tally.sent += 1;
        progress.add('sent');
        try {
          const res = await call({
            port: webhook.port,
            ca: ca.cert,
            method: 'POST',
            path: '/mutate',
            headers: JSON_HEADERS,
            body: reviewBody(uid, i),
          });
          tally.fresh.push(res.peer.fingerprint256);
          check(uid, res.status, res.body);
        } catch (err) {
          tally.failures.push(`${uid}: ${String(err)}`);
        }
      }
    };

    const bad = async (): Promise<void> => {
      for (let i = 0; !done() && i < 60; i++) {
        const c = BAD[i % BAD.length];
        if (c === undefined) break;
        tally.bad.sent += 1;
        try {
          const res = await call({
            port: webhook.port,
            ca: ca.cert,
            method: 'POST',
            path: '/mutate',
            headers: JSON_HEADERS,
            body: c.body(),
          });
          tally.bad.answered[res.status] = (tally.bad.answered[res.status] ?? 0) + 1;
          if (res.status !== c.status) tally.bad.failures.push(`${c.name}: ${res.status}`);
        } catch (err) {
          tally.bad.failures.push(`${c.name}: ${String(err)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    const rotate = async (): Promise<void> => {
      // Halfway through the load (or at its deadline, and the test then says too few were sent).
      await progress.reached('sent', TOTAL / 2, DEADLINE_MS).catch(() => undefined);
      rotatedAt = tally.fresh.length;
      await writeSecretVolume(dir, { 'tls.crt': pairB.cert, 'tls.key': pairB.key });
    };

    const started = Date.now();
    await Promise.all([
      ...Array.from({ length: KEEP_ALIVE_CLIENTS }, (_, i) => keepAlive(i)),
      ...Array.from({ length: FRESH_CLIENTS }, (_, i) => fresh(i)),
      bad(),
      rotate(),
    ]);
    const seconds = (Date.now() - started) / 1000;
    t.comment(
      `${tally.sent} requests in ${seconds.toFixed(1)} s (${Math.round(tally.sent / seconds)}/s), ${tally.reused} on reused connections, ${tally.bad.sent} bad ones`,
    );

    t.same(tally.failures.slice(0, 10), [], 'no request failed (no TLS error, no non-200)');
    t.equal(tally.ok, tally.sent, 'every good request answered 200 with its uid');
    // A slow machine may hit the time bound first: still a load, and the rotation still in it.
    t.ok(
      tally.sent >= TOTAL || (Date.now() > deadline && tally.sent >= 1_000),
      `the load ran to ${TOTAL} requests or ${DEADLINE_MS / 1000} s (${tally.sent})`,
    );
    t.ok(tally.reused > tally.sent / 2, 'keep-alive connections were reused');
    t.same(tally.bad.failures, [], 'every bad request got its 4xx');
    t.ok(tally.bad.sent >= BAD.length, `bad requests sent: ${JSON.stringify(tally.bad.answered)}`);

    const before = tally.fresh.slice(0, rotatedAt);
    const firstB = tally.fresh.indexOf(pairB.fingerprint256);
    t.ok(rotatedAt > 0 && before.every((f) => f === pairA.fingerprint256), 'A before the swap');
    t.ok(firstB >= rotatedAt, 'B served to fresh connections after the swap');
    t.ok(
      tally.fresh.slice(firstB + 20).every((f) => f === pairB.fingerprint256),
      'and only B shortly after',
    );

    const text = await scrape(webhook.metricsPort);
    const count = (outcome: string): number =>
      metric(
        text,
        new RegExp(`secrets_agent_injector_admissions_total\\{outcome="${outcome}"\\} (\\d+)`),
      );
    const all = tally.sent + tally.bad.sent;
    t.equal(
      count('injected') + count('skipped') + count('denied') + count('error'),
      all,
      'the metrics count every request',
    );
    t.equal(count('error'), tally.bad.sent, 'each bad request counted as error');
    t.ok(
      count('injected') > 0 && count('skipped') > 0 && count('denied') > 0,
      'every outcome seen',
    );
    t.equal(
      metric(text, /secrets_agent_injector_admission_duration_seconds_count (\d+)/),
      all,
      'and time it',
    );
    t.equal(
      metric(text, /secrets_agent_injector_certificate_reloads_total\{outcome="loaded"\} (\d+)/),
      2,
      'two pairs loaded',
    );
    t.notMatch(webhook.output(), /"level":"error"/, 'no error logged');
  },
);
