import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import t from 'tap';
import { createLogger } from '../common/log.ts';
import { createInjectorMetrics } from '../injector/metrics.ts';
import { startWebhookServer, type WebhookServer } from '../injector/server.ts';
import { CertificateError, parseKeyPair, startDiskCertificateSource } from '../injector/tls.ts';
import {
  JSON_HEADERS,
  call,
  makeCa,
  makePair,
  review,
  tempDir,
  writeSecretVolume,
  type TestPair,
} from './helpers/certs.ts';
import { counter } from './helpers/wait.ts';

const ca = makeCa();
const [pairA, pairB, pairC] = [makePair(ca), makePair(ca), makePair(ca)] as [
  TestPair,
  TestPair,
  TestPair,
];

interface Setup {
  readonly dir: string;
  readonly source: Awaited<ReturnType<typeof startDiskCertificateSource>>;
  readonly server: WebhookServer;
  readonly logs: string[];
  readonly reloads: () => Promise<Record<string, number>>;
  /** Resolves once the source has reported `count` reloads with that outcome. */
  readonly reloaded: (outcome: 'loaded' | 'rejected', count: number) => Promise<void>;
}

async function setup(t: { teardown(fn: () => unknown): void }, dir = tempDir()): Promise<Setup> {
  const logs: string[] = [];
  const metrics = createInjectorMetrics(new Registry(), false);
  const events = counter<'loaded' | 'rejected'>();
  const logger = createLogger({ write: (l: string) => logs.push(l) }, { level: 'debug' });
  const source = await startDiskCertificateSource({
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    logger,
    debounceMs: 20,
    retryMs: 200,
    onReload: (outcome) => {
      metrics.certificateReloads.inc({ outcome });
      events.add(outcome);
    },
  });
  const server = await startWebhookServer({
    address: '127.0.0.1',
    port: 0,
    certificates: source,
    handler: (request) => ({
      outcome: 'skipped',
      reason: 'stub',
      review: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: request.uid, allowed: true },
      },
    }),
    metrics,
    logger,
  });
  t.teardown(async () => {
    await server.close();
    await source.close();
  });
  const reloads = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await metrics.certificateReloads.get()).values.map((v) => [
        String(v.labels['outcome']),
        v.value,
      ]),
    );
  return { dir, source, server, logs, reloads, reloaded: events.reached };
}

async function servedFingerprint(port: number): Promise<string> {
  return (await call({ port, ca: ca.cert, path: '/healthz' })).peer.fingerprint256;
}

t.test('parseKeyPair rejects a mismatched or truncated pair with TLS_INVALID', (t) => {
  const ok = parseKeyPair(Buffer.from(pairA.cert), Buffer.from(pairA.key));
  t.equal(ok.fingerprint256, pairA.fingerprint256);
  t.ok(ok.notAfter.getTime() > Date.now());
  for (const [name, cert, key] of [
    ['mismatch', pairA.cert, pairB.key],
    ['truncated certificate', pairA.cert.slice(0, 200), pairA.key],
    ['empty key', pairA.cert, ''],
  ] as const) {
    t.throws(
      () => parseKeyPair(Buffer.from(cert), Buffer.from(key)),
      { code: 'TLS_INVALID' },
      name,
    );
    try {
      parseKeyPair(Buffer.from(cert), Buffer.from(key));
    } catch (err) {
      t.ok(err instanceof CertificateError);
      t.notMatch((err as Error).message, /PRIVATE KEY-----/, 'no key material in the message');
    }
  }
  t.end();
});

t.test(
  'rotation through the kubelet ..data swap under load: zero failed requests, new pair served',
  async (t) => {
    const dir = tempDir();
    await writeSecretVolume(dir, { 'tls.crt': pairA.cert, 'tls.key': pairA.key });
    const s = await setup(t, dir);
    t.equal(await servedFingerprint(s.server.port), pairA.fingerprint256);

    const deadline = Date.now() + 20_000;
    const served: string[] = [];
    const progress = counter<'served'>();
    let failures = 0;
    let rotatedAt = -1;
    // Four clients, each a fresh TLS connection per request, bounded by count and time.
    const client = async (): Promise<void> => {
      while (served.length + failures < 2_000 && Date.now() < deadline) {
        try {
          const res = await call({
            port: s.server.port,
            ca: ca.cert,
            method: 'POST',
            path: '/mutate',
            headers: JSON_HEADERS,
            body: review(),
          });
          if (res.status !== 200) failures += 1;
          served.push(res.peer.fingerprint256);
          progress.add('served');
        } catch {
          failures += 1;
        }
        if (rotatedAt >= 0 && served.length - rotatedAt > 300) return; // plenty seen after the swap
      }
    };
    const rotate = async (): Promise<void> => {
      await progress.reached('served', 200);
      rotatedAt = served.length;
      await writeSecretVolume(dir, { 'tls.crt': pairB.cert, 'tls.key': pairB.key });
    };
    await Promise.all([client(), client(), client(), client(), rotate()]);

    t.equal(failures, 0, 'no request failed during the rotation');
    t.ok(served.length >= 400, `enough requests (${served.length})`);
    const firstB = served.indexOf(pairB.fingerprint256);
    t.ok(firstB >= 0, 'the new certificate was served');
    t.ok(
      served.slice(0, rotatedAt).every((f) => f === pairA.fingerprint256),
      'the old one before the swap',
    );
    t.ok(
      served.slice(firstB + 10).every((f) => f === pairB.fingerprint256),
      'and only the new one shortly after',
    );
    t.equal(s.source.current()?.serialNumber, pairB.serialNumber);
    t.match(await s.reloads(), { loaded: 2, rejected: 0 });
    t.ok(s.logs.some((l) => l.includes('TLS key pair reloaded') && l.includes(pairB.serialNumber)));
  },
);

t.test('a broken new pair is rejected with a log line and the old one kept', async (t) => {
  const dir = tempDir();
  await writeSecretVolume(dir, { 'tls.crt': pairA.cert, 'tls.key': pairA.key });
  const s = await setup(t, dir);

  await writeSecretVolume(dir, { 'tls.crt': pairC.cert, 'tls.key': pairB.key }); // mismatched
  await s.reloaded('rejected', 1);
  t.ok(
    s.logs.some(
      (l) =>
        l.includes('TLS key pair rejected, keeping the previous key pair') &&
        l.includes('TLS_INVALID'),
    ),
  );
  t.equal(await servedFingerprint(s.server.port), pairA.fingerprint256, 'still the old pair');
  t.ok(s.server.isReady(), 'still ready');

  await writeSecretVolume(dir, { 'tls.crt': pairC.cert.slice(0, 300), 'tls.key': pairC.key }); // half-written
  await s.reloaded('rejected', 2); // the half-written pair
  t.equal(await servedFingerprint(s.server.port), pairA.fingerprint256, 'still the old pair');
  // What the retry after a rejection does, run now: the same broken bytes are read again.
  await s.source.check();
  t.equal(
    (await s.reloads())['rejected'],
    2,
    'the same broken bytes are not reported again on retry',
  );

  await writeSecretVolume(dir, { 'tls.crt': pairC.cert, 'tls.key': pairC.key });
  await s.reloaded('loaded', 2); // a good pair after that loads
  t.equal(await servedFingerprint(s.server.port), pairC.fingerprint256, 'and is served');
  t.match(await s.reloads(), { loaded: 2, rejected: 2 });
});

t.test(
  'plain files written one after the other (no symlink swap) converge on the new pair',
  async (t) => {
    const dir = tempDir();
    await writeFile(join(dir, 'tls.crt'), pairA.cert);
    await writeFile(join(dir, 'tls.key'), pairA.key);
    const s = await setup(t, dir);
    await writeFile(join(dir, 'tls.crt'), pairB.cert); // B's certificate, A's key
    await s.reloaded('rejected', 1); // the torn pair seen (and kept out)
    await writeFile(join(dir, 'tls.key'), pairB.key);
    await s.reloaded('loaded', 2);
    t.equal(s.source.current()?.fingerprint256, pairB.fingerprint256, 'converged');
    t.equal(await servedFingerprint(s.server.port), pairB.fingerprint256);
  },
);

t.test('a change missed by the watch is found by the periodic content check', async (t) => {
  const dir = tempDir();
  const events = counter<'loaded' | 'rejected'>();
  await writeSecretVolume(dir, { 'tls.crt': pairA.cert, 'tls.key': pairA.key });
  const source = await startDiskCertificateSource({
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    debounceMs: 60_000, // events effectively ignored: only the poll can see the change
    pollIntervalMs: 100,
    onReload: (outcome) => events.add(outcome),
  });
  t.teardown(() => source.close());
  await writeSecretVolume(dir, { 'tls.crt': pairB.cert, 'tls.key': pairB.key });
  await events.reached('loaded', 2);
  t.equal(source.current()?.fingerprint256, pairB.fingerprint256, 'found by the poll');
});
