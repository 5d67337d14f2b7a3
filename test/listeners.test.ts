/**
 * Every port the product opens, attacked with generated connection patterns on loopback: floods
 * past the connection cap, connections that send nothing, headers sent in part, bodies sent in
 * part, keep-alive connections left idle. For each real listener (the webhook's HTTPS and metrics
 * ports, the agent's status port and local API) the server holds at most its cap, every hostile
 * connection is cut once its deadline passes (virtual time: the listener's timers are injected),
 * and a well-behaved client is then served.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import t from 'tap';
import { startStatusServer } from '../agent/http.ts';
import { RecordingSource, startLocalApi } from '../agent/local-api.ts';
import { LISTENERS, type ListenerLimits } from '../common/listener.ts';
import { silentLogger } from '../common/log.ts';
import { createInjectorMetrics } from '../injector/metrics.ts';
import { startMetricsServer, startWebhookServer } from '../injector/server.ts';
import { parseKeyPair } from '../injector/tls.ts';
import { makeCa, makePair } from './helpers/certs.ts';
import { ManualTimers } from './helpers/manual-timers.ts';

const ca = makeCa();
const pair = makePair(ca);
const TOKEN = 'listener-test-token';
/** The webhook's cap is a flag: a smaller one keeps the TLS handshakes of a run few. */
const WEBHOOK_CAP = 24;

interface Port {
  readonly name: string;
  readonly port: number;
  readonly tls: boolean;
  readonly limits: ListenerLimits;
  /** A request a well-behaved client makes, and the method an attacker's body goes with. */
  readonly path: string;
  readonly bodyMethod: string;
  close(): Promise<void>;
}

type Start = (timers: ManualTimers) => Promise<Port>;

const ports: Record<string, Start> = {
  async webhook(timers) {
    const keyPair = parseKeyPair(Buffer.from(pair.cert), Buffer.from(pair.key));
    const limits = { ...LISTENERS.webhook, maxConnections: WEBHOOK_CAP };
    const server = await startWebhookServer({
      address: '127.0.0.1',
      port: 0,
      certificates: {
        current: () => keyPair,
        onChange: () => () => undefined,
        close: async () => undefined,
      },
      handler: () => {
        throw new Error('never reached: no body is ever whole');
      },
      metrics: createInjectorMetrics(new Registry(), false),
      limits,
      timers,
      shutdownTimeoutMs: 0,
    });
    return {
      name: 'webhook',
      port: server.port,
      tls: true,
      limits: { ...limits, requestTimeoutMs: limits.headersTimeoutMs + limits.requestTimeoutMs },
      path: '/healthz',
      bodyMethod: 'POST /mutate',
      close: () => server.close(),
    };
  },
  async webhookMetrics(timers) {
    const server = await startMetricsServer({
      address: '127.0.0.1',
      port: 0,
      registry: new Registry(),
      timers,
    });
    return plain('webhookMetrics', server, '/metrics');
  },
  async agentStatus(timers) {
    const server = await startStatusServer({
      address: '127.0.0.1',
      port: 0,
      registry: new Registry(),
      ready: () => true,
      timers,
    });
    return plain('agentStatus', server, '/healthz');
  },
  async localApi(timers) {
    const source = new RecordingSource(
      { fetch: () => Promise.resolve(new Map()), close: () => undefined },
      [],
    );
    const server = await startLocalApi({
      port: 0,
      token: TOKEN,
      source,
      parameters: () => Promise.reject(new Error('no parameters here')),
      cacheTtlMs: 60_000,
      logger: silentLogger,
      onRequest: () => undefined,
      timers,
    });
    return plain('localApi', server, '/nothing-here');
  },
};

function plain(
  name: keyof typeof LISTENERS,
  server: { port: number; close(): Promise<void> },
  path: string,
): Port {
  const limits = LISTENERS[name];
  const close = (): Promise<void> => server.close();
  return { name, port: server.port, tls: false, limits, path, bodyMethod: 'POST /', close };
}

/** One hostile connection's pattern. */
type Pattern =
  | { readonly kind: 'silent' }
  | { readonly kind: 'slowHeaders'; readonly bytes: number }
  | { readonly kind: 'halfBody'; readonly declared: number; readonly sent: number }
  | { readonly kind: 'idle' };

const pattern: fc.Arbitrary<Pattern> = fc.oneof(
  fc.constant({ kind: 'silent' as const }),
  fc.record({ kind: fc.constant('slowHeaders' as const), bytes: fc.integer({ min: 1, max: 40 }) }),
  fc
    .record({
      kind: fc.constant('halfBody' as const),
      declared: fc.integer({ min: 2, max: 64 * 1024 }),
      cut: fc.double({ min: 0, max: 0.99, noNaN: true }),
    })
    .map(({ kind, declared, cut }) => ({ kind, declared, sent: Math.floor(declared * cut) })),
  fc.constant({ kind: 'idle' as const }),
);

function requestHead(port: Port, extra: string): string {
  return `GET ${port.path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-aws-parameters-secrets-token: ${TOKEN}\r\n${extra}\r\n`;
}

/** A connection, open (after its handshake on TLS) or closed by the server meanwhile. */
function open(port: Port): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve) => {
    const socket: Socket = port.tls
      ? tlsConnect({ port: port.port, host: '127.0.0.1', ca: ca.cert, servername: 'localhost' })
      : netConnect({ port: port.port, host: '127.0.0.1' });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', () => undefined);
    // Read whatever comes, so the server's close is seen whatever it sent first.
    socket.resume();
    socket.once(port.tls ? 'secureConnect' : 'connect', () => resolve({ socket, closed }));
    socket.once('close', () => resolve({ socket, closed }));
  });
}

/**
 * Puts a connection in its pattern's state; resolves once it is there (or closed), to the
 * promise of its close.
 */
async function attack(port: Port, p: Pattern): Promise<{ readonly closed: Promise<void> }> {
  const { socket, closed } = await open(port);
  if (socket.destroyed) return { closed };
  const head = requestHead(port, '');
  switch (p.kind) {
    case 'silent':
      break;
    case 'slowHeaders':
      socket.write(head.slice(0, Math.min(p.bytes, head.length - 4)));
      break;
    case 'halfBody': {
      const [method, path] = port.bodyMethod.split(' ');
      socket.write(
        `${method} ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
          `content-length: ${p.declared}\r\n\r\n${'x'.repeat(p.sent)}`,
      );
      break;
    }
    case 'idle':
      socket.write(head);
      // Idle from the end of its answer: wait for the answer's first bytes.
      await Promise.race([new Promise((r) => socket.once('data', r)), closed]);
      break;
  }
  return { closed };
}

/** A well-behaved request on a fresh connection: its status, or undefined when it was refused. */
function wellBehaved(port: Port): Promise<number | undefined> {
  const request = port.tls ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: port.port,
        path: port.path,
        agent: false,
        headers: { connection: 'close', 'x-aws-parameters-secrets-token': TOKEN },
        ...(port.tls ? { ca: ca.cert, servername: 'localhost' } : {}),
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode));
      },
    );
    req.once('error', () => resolve(undefined));
    req.end();
  });
}

/** Resolves once `count` of the promises resolved. */
function atLeast(promises: readonly Promise<void>[], count: number): Promise<void> {
  if (count <= 0) return Promise.resolve();
  let done = 0;
  return new Promise((resolve) => {
    for (const p of promises)
      void p.then(() => {
        done += 1;
        if (done === count) resolve();
      });
  });
}

for (const [name, start] of Object.entries(ports)) {
  t.test(
    `${name}: generated connection patterns are capped and cut; others are served`,
    async (t) => {
      const probe = await start(new ManualTimers());
      const cap = probe.limits.maxConnections;
      await probe.close();
      await fc.assert(
        fc.asyncProperty(
          fc.array(pattern, { minLength: 1, maxLength: cap + 12 }),
          async (patterns) => {
            const timers = new ManualTimers();
            const port = await start(timers);
            try {
              const closes: Promise<void>[] = [];
              for (const p of patterns) closes.push((await attack(port, p)).closed);
              // Beyond the cap, connections are closed at once: the server holds at most its cap.
              await atLeast(closes, patterns.length - cap);
              // The connections' deadlines pass (virtual time): every hostile connection is cut.
              const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = port.limits;
              // A request past the cap is refused, one within is answered: either way the server has
              // taken every earlier connection in by then, and armed its deadline.
              await wellBehaved(port);
              timers.advance(keepAliveTimeoutMs + headersTimeoutMs + requestTimeoutMs);
              await Promise.all(closes);
              const status = await wellBehaved(port);
              if (status === undefined || status >= 500) throw new Error(`not served: ${status}`);
            } finally {
              await port.close();
            }
          },
        ),
        { numRuns: 15, endOnFailure: true },
      );
      t.pass('every generated pattern was capped, cut at its deadline, and a client then served');
    },
  );
}

t.test(
  'a header sent in part holds the local API for its deadline, to the millisecond',
  async (t) => {
    const timers = new ManualTimers();
    const port = await ports['localApi']?.(timers);
    if (port === undefined) throw new Error('no local API in the table');
    t.teardown(() => port.close());
    const { closed } = await attack(port, { kind: 'slowHeaders', bytes: 10 });
    await wellBehaved(port); // the server has the connection and its deadline
    let cut = false;
    void closed.then(() => (cut = true));
    const before = timers.pending;
    timers.advance(port.limits.headersTimeoutMs - 1);
    t.equal(timers.pending, before, 'nothing due before the deadline');
    timers.advance(1);
    await closed;
    t.ok(cut, 'cut at the header deadline, not at a connection-check interval');
  },
);
