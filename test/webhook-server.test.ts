import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { Registry } from 'prom-client';
import t from 'tap';
import { createLogger } from '../common/log.ts';
import { AdmissionReviewError, type AdmissionResult } from '../injector/admission.ts';
import { createInjectorMetrics, type InjectorMetrics } from '../injector/metrics.ts';
import {
  startMetricsServer,
  startWebhookServer,
  type AdmissionHandler,
  type WebhookServerOptions,
} from '../injector/server.ts';
import { startDiskCertificateSource, type CertificateSource } from '../injector/tls.ts';
import {
  JSON_HEADERS,
  call,
  makeCa,
  makePair,
  review,
  tempDir,
  writeSecretVolume,
} from './helpers/certs.ts';

const ca = makeCa();
const pair = makePair(ca);
const CANARY = 'pod-content-canary-7f3a';

/** The part of tap's Test these helpers use. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

async function certificates(t: Teardown): Promise<CertificateSource> {
  const dir = tempDir();
  await writeSecretVolume(dir, { 'tls.crt': pair.cert, 'tls.key': pair.key });
  const source = await startDiskCertificateSource({
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
  });
  t.teardown(() => source.close());
  return source;
}

interface Harness {
  readonly port: number;
  readonly metrics: InjectorMetrics;
  readonly logs: string[];
  readonly seen: unknown[];
  /** Resolves with the first log line, past or to come, that matches. */
  logged(pattern: RegExp): Promise<string>;
  close(): Promise<void>;
  isReady(): boolean;
}

const allow: AdmissionHandler = (request) => ({
  review: {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: request.uid, allowed: true },
  },
  outcome: 'skipped',
  reason: 'stub',
});

async function harness(
  t: Teardown,
  handler: AdmissionHandler = allow,
  extra: Partial<WebhookServerOptions> = {},
): Promise<Harness> {
  const logs: string[] = [];
  const waiters = new Set<(line: string) => void>();
  const seen: unknown[] = [];
  const metrics = createInjectorMetrics(new Registry(), false);
  const write = (line: string): void => {
    logs.push(line);
    for (const waiter of waiters) waiter(line);
  };
  const logged = (pattern: RegExp): Promise<string> =>
    new Promise((resolve) => {
      const past = logs.find((line) => pattern.test(line));
      if (past !== undefined) return resolve(past);
      const waiter = (line: string): void => {
        if (!pattern.test(line)) return;
        waiters.delete(waiter);
        resolve(line);
      };
      waiters.add(waiter);
    });
  const server = await startWebhookServer({
    address: '127.0.0.1',
    port: 0,
    certificates: await certificates(t),
    handler: (r) => {
      seen.push(r);
      return handler(r);
    },
    metrics,
    logger: createLogger({ write }, { level: 'debug' }),
    limits: { maxBodyBytes: 64 * 1024 },
    ...extra,
  });
  t.teardown(() => server.close());
  return {
    port: server.port,
    metrics,
    logs,
    seen,
    logged,
    close: () => server.close(),
    isReady: () => server.isReady(),
  };
}

async function counts(metrics: InjectorMetrics): Promise<Record<string, number>> {
  const data = await metrics.admissions.get();
  return Object.fromEntries(data.values.map((v) => [String(v.labels['outcome']), v.value]));
}

t.test('POST /mutate answers with the handler result', async (t) => {
  const h = await harness(t);
  const res = await call({
    port: h.port,
    ca: ca.cert,
    method: 'POST',
    path: '/mutate',
    headers: JSON_HEADERS,
    body: review('abc'),
  });
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /application\/json/);
  t.same(JSON.parse(res.body), {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'abc', allowed: true },
  });
  t.equal(h.seen.length, 1, 'handler called once with the parsed review');
  t.match(h.seen[0], { uid: 'abc' });
  t.equal((await counts(h.metrics))['skipped'], 1);
  const line = h.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l['msg'] === 'admission');
  t.match(line, { uid: 'abc', namespace: 'default', name: 'web', outcome: 'skipped' });
});

t.test(
  'the boundary rejects bad requests with a clear status and never calls the handler',
  async (t) => {
    const h = await harness(t);
    const post = (
      body: string | Buffer,
      headers: Record<string, string> = JSON_HEADERS,
      chunked = false,
    ) =>
      call({ port: h.port, ca: ca.cert, method: 'POST', path: '/mutate', headers, body, chunked });
    const cases: {
      name: string;
      send: () => ReturnType<typeof call>;
      status: number;
      message: RegExp;
    }[] = [
      {
        name: 'malformed JSON',
        send: () => post('{"kind":'),
        status: 400,
        message: /not valid JSON/,
      },
      {
        // JSON.parse quotes the start of what it could not parse: a pod, its annotations.
        name: 'malformed JSON is not quoted back',
        send: () => post(`secret-value-of-a-pod {"kind":`),
        status: 400,
        message: /^request body is not valid JSON$/,
      },
      {
        name: 'JSON but not an object',
        send: () => post('[1,2]'),
        status: 400,
        message: /AdmissionReview object/,
      },
      {
        name: 'wrong kind',
        send: () =>
          post(
            JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'Pod',
              request: { uid: 'x' },
            }),
          ),
        status: 400,
        message: /kind must be AdmissionReview; got "Pod"/,
      },
      {
        name: 'v1beta1 review',
        send: () =>
          post(
            JSON.stringify({
              apiVersion: 'admission.k8s.io/v1beta1',
              kind: 'AdmissionReview',
              request: { uid: 'x' },
            }),
          ),
        status: 400,
        message: /admission\.k8s\.io\/v1/,
      },
      {
        name: 'no request.uid',
        send: () =>
          post(
            JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              request: {},
            }),
          ),
        status: 400,
        message: /request\.uid/,
      },
      {
        name: 'oversize body',
        send: () => post(Buffer.alloc(200 * 1024, 0x20)),
        status: 413,
        message: /exceeds/,
      },
      {
        name: 'oversize chunked body',
        send: () => post(Buffer.alloc(200 * 1024, 0x20), JSON_HEADERS, true),
        status: 413,
        message: /exceeds/,
      },
      {
        name: 'text/plain',
        send: () => post(review(), { 'content-type': 'text/plain' }),
        status: 415,
        message: /application\/json/,
      },
      {
        name: 'no content type',
        send: () => post(review(), {}),
        status: 415,
        message: /application\/json/,
      },
    ];
    for (const c of cases) {
      const res = await c.send();
      t.equal(res.status, c.status, c.name);
      t.match((JSON.parse(res.body) as { error: string }).error, c.message, `${c.name}: message`);
    }
    t.equal(h.seen.length, 0);
    t.equal((await counts(h.metrics))['error'], cases.length, 'each counted as error');
    const ok = await post(review('after'), { 'content-type': 'application/json; charset=utf-8' });
    t.equal(ok.status, 200, 'still serving; a charset parameter is fine');
  },
);

t.test('methods and paths', async (t) => {
  const h = await harness(t);
  const get = (path: string, method = 'GET') => call({ port: h.port, ca: ca.cert, method, path });
  t.equal((await get('/mutate')).status, 405);
  t.equal((await get('/mutate')).headers['allow'], 'POST');
  t.equal((await get('/healthz', 'POST')).status, 405);
  t.equal((await get('/nope')).status, 404);
  t.equal((await get('/healthz')).status, 200);
  t.equal((await get('/readyz')).status, 200);
  t.equal((await get('/readyz?verbose')).status, 200);
  t.ok(h.isReady());
});

t.test(
  'handler failures: a typed bad-request error is 400, anything else 500 without pod content in logs',
  async (t) => {
    let mode: 'bad' | 'bug' = 'bad';
    const h = await harness(t, () => {
      if (mode === 'bad') throw new AdmissionReviewError('request.object is not a Pod');
      throw new Error('boom: a bug in the handler');
    });
    const post = () =>
      call({
        port: h.port,
        ca: ca.cert,
        method: 'POST',
        path: '/mutate',
        headers: JSON_HEADERS,
        body: review('u-1', {
          metadata: { name: 'p', namespace: 'ns', annotations: { secret: CANARY } },
        }),
      });
    const bad = await post();
    t.equal(bad.status, 400);
    t.match(bad.body, /request\.object is not a Pod/);
    mode = 'bug';
    const bug = await post();
    t.equal(bug.status, 500);
    t.notMatch(bug.body, 'boom', 'the error text is not sent to the API server');
    t.equal((await counts(h.metrics))['error'], 2);
    const failed = h.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['msg'] === 'admission failed');
    t.match(failed, {
      level: 'error',
      uid: 'u-1',
      namespace: 'default',
      name: 'p',
      error: { message: /boom/ },
    });
    t.notOk(
      h.logs.some((l) => l.includes(CANARY) || l.includes('annotations')),
      'no pod content beyond namespace/name/uid reaches the logs',
    );
  },
);

t.test('metrics per outcome on the plain-HTTP metrics port', async (t) => {
  const outcomes = ['injected', 'skipped', 'denied'] as const;
  let next = 0;
  const h = await harness(t, (r) => ({
    ...(allow(r) as AdmissionResult),
    outcome: outcomes[next++ % 3] ?? 'skipped',
  }));
  for (let i = 0; i < 6; i++) {
    await call({
      port: h.port,
      ca: ca.cert,
      method: 'POST',
      path: '/mutate',
      headers: JSON_HEADERS,
      body: review(`u${i}`),
    });
  }
  await call({
    port: h.port,
    ca: ca.cert,
    method: 'POST',
    path: '/mutate',
    headers: JSON_HEADERS,
    body: 'nope',
  });
  const metricsServer = await startMetricsServer({
    address: '127.0.0.1',
    port: 0,
    registry: h.metrics.registry,
  });
  t.teardown(() => metricsServer.close());
  const text = await new Promise<string>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: metricsServer.port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  t.match(text, /secrets_agent_injector_admissions_total\{outcome="injected"\} 2/);
  t.match(text, /secrets_agent_injector_admissions_total\{outcome="skipped"\} 2/);
  t.match(text, /secrets_agent_injector_admissions_total\{outcome="denied"\} 2/);
  t.match(text, /secrets_agent_injector_admissions_total\{outcome="error"\} 1/);
  t.match(text, /secrets_agent_injector_admission_duration_seconds_count 7/);
});

t.test('TLS below 1.2 is refused', async (t) => {
  const h = await harness(t);
  await t.rejects(call({ port: h.port, ca: ca.cert, path: '/healthz', maxVersion: 'TLSv1.1' }));
  t.equal(
    (await call({ port: h.port, ca: ca.cert, path: '/healthz', maxVersion: 'TLSv1.2' })).status,
    200,
  );
});

t.test(
  'graceful shutdown: not ready while draining, an in-flight slow request finishes, then closed',
  async (t) => {
    let release: () => void = () => undefined;
    let entered: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const h = await harness(
      t,
      async (r) => {
        entered();
        await new Promise<void>((resolve) => (release = resolve));
        return allow(r);
      },
      { drainDelayMs: 300 },
    );
    const slow = call({
      port: h.port,
      ca: ca.cert,
      method: 'POST',
      path: '/mutate',
      headers: JSON_HEADERS,
      body: review('slow'),
    });
    await inHandler;
    let closed = false;
    const closing = h.close().then(() => (closed = true));
    const readyz = await call({ port: h.port, ca: ca.cert, path: '/readyz' });
    t.equal(readyz.status, 503, 'not ready while shutting down');
    t.equal(readyz.headers['connection'], 'close');
    await h.logged(/drain delay over/);
    t.notOk(closed, 'close waits for the in-flight request');
    await t.rejects(
      call({ port: h.port, ca: ca.cert, path: '/healthz' }),
      'no new connections after the drain delay',
    );
    release();
    const res = await slow;
    t.equal(res.status, 200, 'the in-flight request completed');
    t.match(JSON.parse(res.body), { response: { uid: 'slow' } });
    await closing;
    t.ok(closed);
  },
);

t.test('not ready without a certificate', async (t) => {
  const dir = tempDir();
  const source = await startDiskCertificateSource({
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
  });
  t.teardown(() => source.close());
  const server = await startWebhookServer({
    address: '127.0.0.1',
    port: 0,
    certificates: source,
    handler: allow,
    metrics: createInjectorMetrics(new Registry(), false),
  });
  t.teardown(() => server.close());
  t.notOk(server.isReady());
  const loaded = new Promise<void>((resolve) => source.onChange(() => resolve()));
  await writeSecretVolume(dir, { 'tls.crt': pair.cert, 'tls.key': pair.key });
  await loaded;
  t.ok(server.isReady(), 'ready once the pair appears');
  const res = await call({ port: server.port, ca: ca.cert, path: '/readyz' });
  t.equal(res.status, 200, 'and serving TLS with it');
  t.equal(res.peer.fingerprint256, pair.fingerprint256);
});

t.test(
  'TLS: 1.1 is refused, a CBC suite under 1.2 is refused, AEAD under 1.2 and 1.3 work',
  async (t) => {
    const { connect } = await import('node:tls');
    const { TLS12_CIPHERS } = await import('../injector/server.ts');
    t.notMatch(TLS12_CIPHERS, /CBC|SHA1$|-SHA:/, 'no CBC or SHA-1 suites offered');
    const server = await harness(t);
    const attempt = (options: import('node:tls').ConnectionOptions): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect(
          {
            host: '127.0.0.1',
            port: server.port,
            ca: ca.cert,
            servername: 'localhost',
            ...options,
          },
          () => {
            resolve(`${socket.getProtocol() ?? ''} ${socket.getCipher().name}`);
            socket.end();
          },
        );
        socket.on('error', (err: Error) => resolve(`error: ${err.message}`));
      });
    t.match(await attempt({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }), /^error/);
    t.match(await attempt({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA256' }), /^error/);
    t.match(await attempt({ maxVersion: 'TLSv1.2' }), /^TLSv1\.2 ECDHE-\w+-(AES\d+-GCM|CHACHA20)/);
    t.match(await attempt({}), /^TLSv1\.3 TLS_/);
  },
);
