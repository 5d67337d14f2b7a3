/**
 * The webhook server's bounds, over real HTTPS on loopback, each with small limits so a test
 * takes a second: connections beyond the cap closed at once; a connection that never sends a
 * request closed after the header timeout; a body that stalls cut at the request deadline, with
 * what it held given back; bodies beyond the bytes-in-flight budget refused with 503 at once; a
 * decision past the deadline answered 503. Time bounds are generous (seconds against limits of
 * a few hundred milliseconds): they tell "cut at its deadline" from "never cut" (the server used
 * to keep such connections for 30 to 60 s), not one timing from another.
 * (The webhook process under pathological reviews: test/webhook-abuse.test.ts.)
 */
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { Registry } from 'prom-client';
import t from 'tap';
import type { Test } from 'tap';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/admission.ts';
import { createInjectorMetrics } from '../injector/metrics.ts';
import {
  startWebhookServer,
  type AdmissionHandler,
  type ServerLimits,
  type WebhookServer,
} from '../injector/server.ts';
import { startDiskCertificateSource } from '../injector/tls.ts';
import { admissionHandler } from '../injector/webhook-command.ts';
import { podReview } from './helpers/admission.ts';
import {
  JSON_HEADERS,
  call,
  makeCa,
  makePair,
  tempDir,
  writeSecretVolume,
} from './helpers/certs.ts';
import { OPTED_IN } from './helpers/pathological.ts';

const ca = makeCa();
const pair = makePair(ca);
/** How long a test waits for the server to act on a limit of a few hundred ms: 10x or more. */
const PATIENCE_MS = 6_000;

async function server(
  t: Test,
  limits: Partial<ServerLimits>,
  handler: AdmissionHandler = admissionHandler(DEFAULT_INJECTOR_OPTIONS),
): Promise<WebhookServer> {
  const dir = tempDir();
  await writeSecretVolume(dir, { 'tls.crt': pair.cert, 'tls.key': pair.key });
  const certificates = await startDiskCertificateSource({
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
  });
  t.teardown(() => certificates.close());
  const s = await startWebhookServer({
    address: '127.0.0.1',
    port: 0,
    certificates,
    handler,
    metrics: createInjectorMetrics(new Registry(), false),
    limits,
    shutdownTimeoutMs: 1_000,
  });
  t.teardown(() => s.close());
  return s;
}

interface Open {
  readonly socket: TLSSocket;
  /** Resolves with the ms from opening to the close, or rejects after `PATIENCE_MS`. */
  readonly closed: Promise<number>;
  /** Everything the server sent. */
  received(): string;
}

/** A TLS connection; resolves once the handshake is done, or rejects if it fails. */
function open(port: number): Promise<Open> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let data = '';
    const socket = connect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost' });
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    const closed = new Promise<number>((done, fail) => {
      const timer = setTimeout(() => fail(new Error('still open')), PATIENCE_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        done(performance.now() - started);
      });
    });
    closed.catch(() => undefined);
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve({ socket, closed, received: () => data });
    });
    socket.once('error', reject);
  });
}

/** Headers and all but the last byte of a body of `length` bytes: a client that stalls. */
function stallBody(c: Open, length: number, chunked = false): void {
  const head = chunked ? 'transfer-encoding: chunked\r\n' : `content-length: ${length}\r\n`;
  c.socket.write(
    `POST /mutate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n${head}\r\n`,
  );
  const body = Buffer.alloc(length - 1, 0x20);
  c.socket.write(
    chunked
      ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')])
      : body,
  );
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + PATIENCE_MS;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ordinary = (uid: string): string => podReview({ uid, annotations: OPTED_IN });

async function admitOne(s: WebhookServer, uid: string): Promise<number> {
  const res = await call({
    port: s.port,
    ca: ca.cert,
    method: 'POST',
    path: '/mutate',
    headers: JSON_HEADERS,
    body: ordinary(uid),
  });
  return res.status;
}

t.test('connections beyond the cap are closed at once; a closed one makes room', async (t) => {
  const s = await server(t, { maxConnections: 4 });
  const held = await Promise.all([1, 2, 3, 4].map(() => open(s.port)));
  await t.rejects(open(s.port), 'the fifth connection is refused');
  t.equal(await admitOne(s, 'over-cap').catch(() => 0), 0, 'and no request gets through it');
  held[0]?.socket.destroy();
  await held[0]?.closed;
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = await admitOne(s, `room-${i}`).catch(() => 0);
    if (status !== 200) await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(status, 200, 'a new connection is served once one closed');
  for (const c of held) c.socket.destroy();
});

t.test('a connection that never sends a request is closed after the header timeout', async (t) => {
  const s = await server(t, { headersTimeoutMs: 300 });
  const silent = await open(s.port);
  const ms = await silent.closed;
  t.ok(ms >= 250, `not before the timeout (${Math.round(ms)} ms)`);
  const halfHeaders = await open(s.port);
  halfHeaders.socket.write('POST /mutate HTTP/1.1\r\nhost: localhost\r\n');
  await halfHeaders.closed;
  t.pass('nor one whose headers never end');
});

t.test(
  'a body that stalls is cut at the request deadline, and its bytes are given back',
  async (t) => {
    const s = await server(t, { requestTimeoutMs: 400, maxBodyBytes: 256 * 1024 });
    for (const chunked of [false, true]) {
      const c = await open(s.port);
      stallBody(c, 200 * 1024, chunked);
      await until('the body is held', () => s.bytesInFlight() > 0);
      const ms = await c.closed;
      t.ok(ms >= 350, `${chunked ? 'chunked: ' : ''}cut after the deadline (${Math.round(ms)} ms)`);
      t.equal(c.received(), '', 'with no answer: the client was not reading one');
      await until('the budget is given back', () => s.bytesInFlight() === 0);
      t.pass(`${chunked ? 'chunked: ' : ''}nothing held after the cut`);
    }
    t.equal(await admitOne(s, 'after'), 200, 'and the next admission is served');
  },
);

t.test('bodies beyond the bytes-in-flight budget are refused with 503 at once', async (t) => {
  const max = 64 * 1024;
  const s = await server(t, {
    maxBodyBytes: max,
    maxBytesInFlight: 2 * max,
    requestTimeoutMs: 800,
  });
  const stalled = await Promise.all([1, 2].map(() => open(s.port)));
  for (const c of stalled) stallBody(c, max);
  await until('both bodies are held', () => s.bytesInFlight() === 2 * max);
  const started = performance.now();
  const refused = await call({
    port: s.port,
    ca: ca.cert,
    method: 'POST',
    path: '/mutate',
    headers: JSON_HEADERS,
    body: ordinary('refused'),
  });
  t.equal(refused.status, 503, 'no room: 503');
  t.ok(performance.now() - started < 1_500, 'at once, not at the stalled requests’ deadline');
  t.equal(refused.headers['retry-after'], '1');
  t.match(JSON.parse(refused.body), { error: /bytes of requests.*limit; retry/ });
  t.equal(s.bytesInFlight(), 2 * max, 'the refused request held nothing');
  await Promise.all(stalled.map((c) => c.closed));
  await until('the budget is given back', () => s.bytesInFlight() === 0);
  t.equal(await admitOne(s, 'room-again'), 200, 'served once the stalled bodies were cut');
});

t.test('a decision past the deadline is answered 503, and the connection closed', async (t) => {
  const s = await server(t, { requestTimeoutMs: 300 }, () => new Promise(() => undefined));
  const res = await call({
    port: s.port,
    ca: ca.cert,
    method: 'POST',
    path: '/mutate',
    headers: JSON_HEADERS,
    body: ordinary('slow'),
  });
  t.equal(res.status, 503);
  t.equal(res.headers['connection'], 'close');
  t.match(JSON.parse(res.body), { error: /not answered within 300 ms/ });
  await until('the budget is given back', () => s.bytesInFlight() === 0);
  t.pass('nothing held');
});
