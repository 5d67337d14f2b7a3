/**
 * Every port the product opens comes from here: the webhook's HTTPS port and its metrics port,
 * the agent's health/metrics port and its local API. One declaration of each port's bounds
 * (LISTENERS; docs/limits.md lists them, test/readme.test.ts holds the page to it) and one
 * guard that enforces them, so no port is left with Node's defaults.
 *
 * Node's own header and request timeouts are checked only at its connection-check interval
 * (30 s by default), and its header timeout starts at a request's first byte: a client that
 * connects and sends nothing, or one byte at a time, holds its connection far longer than the
 * timeout says. The guard keeps a timer of its own per connection instead:
 *
 * - a new connection (after its TLS handshake, on HTTPS) has `headersTimeoutMs` to send its
 *   first request's headers;
 * - a request has `requestTimeoutMs` from its headers to the end of its body;
 * - once every answer on a connection is sent, the next request's headers must be in within
 *   `keepAliveTimeoutMs + headersTimeoutMs` (Node closes the idle connection at the first);
 * - beyond `maxConnections`, a new connection is closed at once.
 *
 * What a connection can cost is then bounded by the cap times one connection's buffers, for a
 * bounded time, whatever the pattern of connections.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  createServer as createHttpsServer,
  type Server as HttpsServer,
  type ServerOptions as TlsOptions,
} from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** One port's bounds. */
export interface ListenerLimits {
  /** Open connections (TLS handshakes included); beyond, new ones are closed at once. */
  readonly maxConnections: number;
  /** A new connection's first request headers (and its TLS handshake) must arrive within this. */
  readonly headersTimeoutMs: number;
  /** From a request's headers to the end of its body. */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** The bytes of a request's headers; beyond, 431. */
  readonly maxHeaderBytes: number;
}

/**
 * Each port's bounds. The webhook's can be changed by its flags (webhook-command.ts); the rest
 * are fixed. Callers of the metrics and health ports are few (Prometheus, the kubelet's probes):
 * a small cap leaves room for them and little for anyone else.
 */
export const LISTENERS = Object.freeze({
  /** The webhook's HTTPS port (8443): the API server keeps connections alive ~90 s. */
  webhook: {
    maxConnections: 128,
    headersTimeoutMs: 5_000,
    requestTimeoutMs: 5_000,
    keepAliveTimeoutMs: 120_000,
    maxHeaderBytes: 16 * 1024,
  },
  /** The webhook's plain-HTTP metrics port. */
  webhookMetrics: {
    maxConnections: 16,
    headersTimeoutMs: 5_000,
    requestTimeoutMs: 5_000,
    keepAliveTimeoutMs: 5_000,
    maxHeaderBytes: 8 * 1024,
  },
  /** The agent's health and metrics port. */
  agentStatus: {
    maxConnections: 16,
    headersTimeoutMs: 5_000,
    requestTimeoutMs: 5_000,
    keepAliveTimeoutMs: 5_000,
    maxHeaderBytes: 8 * 1024,
  },
  /** The agent's local API (loopback, the app's processes). */
  localApi: {
    maxConnections: 64,
    headersTimeoutMs: 5_000,
    requestTimeoutMs: 5_000,
    keepAliveTimeoutMs: 5_000,
    maxHeaderBytes: 16 * 1024,
  },
} as const satisfies Record<string, ListenerLimits>);

export type ListenerName = keyof typeof LISTENERS;

/** The timers the guard uses: the global ones, or a test's. */
export interface ListenerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const GLOBAL_TIMERS: ListenerTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface ListenerOptions {
  readonly limits: ListenerLimits;
  /** HTTPS with these options (a key pair, TLS versions); plain HTTP without. */
  readonly tls?: TlsOptions;
  /** The per-connection deadlines' timers (tests pass a manual clock); the global ones by default. */
  readonly timers?: ListenerTimers | undefined;
  /** A connection was refused at the cap. */
  readonly onDrop?: () => void;
}

/** Node's own checks, as a second line behind the guard's timers. */
const CONNECTIONS_CHECK_MS = 1_000;

/** An HTTP(S) server bounded by `limits`; listen with `listen()`. */
export function createListener(
  options: ListenerOptions & { readonly tls: TlsOptions },
  handler: RequestListener,
): HttpsServer;
export function createListener(options: ListenerOptions, handler: RequestListener): Server;
export function createListener(options: ListenerOptions, handler: RequestListener): Server {
  const { limits } = options;
  const nodeLimits = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.headersTimeoutMs + limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
  };
  const server =
    options.tls === undefined
      ? createHttpServer(nodeLimits, handler)
      : (createHttpsServer(
          { ...options.tls, ...nodeLimits, handshakeTimeout: limits.headersTimeoutMs },
          handler,
        ) as unknown as Server);
  server.maxConnections = limits.maxConnections;
  if (options.onDrop !== undefined) server.on('drop', options.onDrop);
  const start = options.tls === undefined ? 'connection' : 'secureConnection';
  guard(server, limits, start, options.timers ?? GLOBAL_TIMERS);
  return server;
}

/** A connection's one deadline timer and its requests still being answered. */
interface Watch {
  timer: unknown;
  busy: number;
}

/** Enforces the header, request and idle deadlines with timers of its own. */
function guard(
  server: Server,
  limits: ListenerLimits,
  start: string,
  timers: ListenerTimers,
): void {
  const watches = new WeakMap<Socket, Watch>();
  const arm = (socket: Socket, watch: Watch, ms: number): void => {
    timers.clearTimeout(watch.timer);
    watch.timer = timers.setTimeout(() => socket.destroy(), ms);
  };
  server.on(start, (socket: Socket) => {
    const watch: Watch = { timer: undefined, busy: 0 };
    watches.set(socket, watch);
    arm(socket, watch, limits.headersTimeoutMs);
    socket.once('close', () => timers.clearTimeout(watch.timer));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const watch = watches.get(socket);
    if (watch === undefined) return;
    timers.clearTimeout(watch.timer);
    watch.busy += 1;
    // The body must be in within requestTimeoutMs, answered or not.
    const body = timers.setTimeout(() => {
      if (!req.complete) socket.destroy();
    }, limits.requestTimeoutMs);
    req.once('end', () => timers.clearTimeout(body));
    req.once('close', () => {
      if (req.complete || socket.destroyed) timers.clearTimeout(body);
    });
    res.once('close', () => {
      watch.busy -= 1;
      if (req.complete) timers.clearTimeout(body);
      if (watch.busy === 0 && !socket.destroyed)
        arm(socket, watch, limits.keepAliveTimeoutMs + limits.headersTimeoutMs);
    });
  });
}

/** Listens on `address:port` (0 picks a free port); resolves to the port. */
export async function listen(server: Server, port: number, address: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Stops accepting, closes idle keep-alive connections, cuts the rest after `timeoutMs`. */
export async function closeListener(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), timeoutMs).unref();
  await closed;
  clearTimeout(cut);
}
