/**
 * The webhook's HTTPS server: `POST /mutate`, `GET /healthz`, `GET /readyz`; and, on its own
 * plain-HTTP port, Prometheus `/metrics`. It knows nothing about pods: the admission decision
 * is a handler passed in, so the server is tested with any handler and the injector's logic
 * without a socket.
 *
 * The request body is untrusted until validated here: size, media type, JSON, and the
 * AdmissionReview envelope (admission.ts's one parser). Only then is the handler called.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setImmediate as yieldToOthers, setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import type { JsonObject } from '../common/json.ts';
import {
  closeListener,
  createListener,
  listen,
  LISTENERS,
  type ListenerTimers,
} from '../common/listener.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import {
  isAdmissionReviewError,
  MAX_ERROR_ANSWER,
  readAdmissionReview,
  reviewJson,
  type AdmissionRequest,
  type AdmissionResult,
} from './admission.ts';
import { isRecord, JsonSyntaxError } from './partial-json.ts';
import type { AdmissionOutcome, InjectorMetrics } from './metrics.ts';
import type { CertificateSource, KeyPair } from './tls.ts';

/**
 * The server's bounds, each a flag of `webhook` (webhook-command.ts). Whatever a caller sends,
 * the webhook holds at most `maxConnections` connections and `maxBytesInFlight` bytes of
 * request bodies, and answers or cuts every request within `requestTimeoutMs`.
 */
export interface ServerLimits {
  /** One request body; the API server caps requests at 3 MiB, a review is a pod plus a little. */
  readonly maxBodyBytes: number;
  /** Request bodies being received or decided, all requests together; beyond, 503 at once. */
  readonly maxBytesInFlight: number;
  /** Open connections (TLS handshakes included); beyond, new ones are closed at once. */
  readonly maxConnections: number;
  /** A new connection's TLS handshake and its request headers must each arrive within this. */
  readonly headersTimeoutMs: number;
  /**
   * From a request's headers to its answer: the body must arrive and the decision be made
   * within this, or the request is cut (body still arriving) or answered 503. Shorter than the
   * API server's webhook timeout (`timeoutSeconds`, 10 s in manifests/webhook.yaml), so the
   * webhook stops working on a request before the API server gives up on it.
   */
  readonly requestTimeoutMs: number;
  /**
   * An idle keep-alive connection is closed after this. Longer than the API server's Go client
   * idles a connection (90 s): closing first races its reuse and fails that admission.
   */
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

/** The connection bounds are the webhook listener's (common/listener.ts). */
export const DEFAULT_LIMITS: ServerLimits = Object.freeze({
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  maxBytesInFlight: 16 * 1024 * 1024,
  maxConnections: LISTENERS.webhook.maxConnections,
  headersTimeoutMs: LISTENERS.webhook.headersTimeoutMs,
  requestTimeoutMs: LISTENERS.webhook.requestTimeoutMs,
  keepAliveTimeoutMs: LISTENERS.webhook.keepAliveTimeoutMs,
});

/**
 * A review larger than this (an ordinary pod is a few KiB) is read, decided and answered in
 * three turns of the event loop, not one: requests that arrived meanwhile are served between
 * them, so an ordinary admission waits for the slowest step of a 3 MiB review, not for all.
 */
const LARGE_BODY_BYTES = 256 * 1024;

/** At most one log line per this long about connections refused at the cap. */
const DROP_LOG_INTERVAL_MS = 10_000;
const MIN_TLS_VERSION = 'TLSv1.2' as const;

/**
 * Decides on a request whose envelope was validated. An AdmissionReviewError it throws (the
 * request's object is malformed) is answered 400; anything else 500.
 */
export type AdmissionHandler = (
  request: AdmissionRequest,
) => AdmissionResult | Promise<AdmissionResult>;

export interface WebhookServerOptions {
  readonly address: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly certificates: CertificateSource;
  readonly handler: AdmissionHandler;
  readonly metrics: InjectorMetrics;
  readonly logger?: Logger;
  /** DEFAULT_LIMITS, field by field. */
  readonly limits?: Partial<ServerLimits>;
  /** On close, keep serving (not ready) this long so the Service stops routing to us first. */
  readonly drainDelayMs?: number;
  /** On close, connections still busy after this long are cut. */
  readonly shutdownTimeoutMs?: number;
  /** The listener's deadline timers (tests). */
  readonly timers?: ListenerTimers;
}

export interface WebhookServer {
  readonly port: number;
  /** A key pair is loaded and the server is not shutting down. */
  isReady(): boolean;
  /** Request body bytes held now (received or being decided): the in-flight budget in use. */
  bytesInFlight(): number;
  /** Stops accepting, lets in-flight requests finish, resolves when every connection is closed. */
  close(): Promise<void>;
}

/** A request rejected at the boundary, before the handler ran, or cut by its deadline. */
export class BoundaryError extends Error {
  readonly status: 400 | 408 | 413 | 415 | 503;
  constructor(status: 400 | 408 | 413 | 415 | 503, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BoundaryError';
    this.status = status;
  }
}

/** A request's deadline passed before it was answered. */
class DeadlineError extends BoundaryError {
  constructor(ms: number) {
    super(503, `the request was not answered within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

type Obj = JsonObject;

function checkMediaType(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new BoundaryError(415, `content-type must be application/json, got "${type ?? ''}"`);
  }
}

/** The bytes of request bodies held by all requests together, against one limit. */
class ByteBudget {
  private used = 0;
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  inUse(): number {
    return this.used;
  }
  /** Takes `n` bytes if they fit. */
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used -= n;
  }
}

/** What one request holds of the budget; given back once, when its response closes. */
class Held {
  private bytes = 0;
  private readonly budget: ByteBudget;
  constructor(budget: ByteBudget) {
    this.budget = budget;
  }
  take(n: number): void {
    if (!this.budget.take(n)) {
      throw new BoundaryError(
        503,
        `the webhook holds ${this.budget.inUse()} bytes of requests, near its ${this.budget.limit}-byte limit; retry`,
      );
    }
    this.bytes += n;
  }
  release(): void {
    this.budget.give(this.bytes);
    this.bytes = 0;
  }
}

/**
 * Reads at most `max` bytes, each taken from the budget as it arrives (a declared length all at
 * once, before a byte is read); beyond `max` the rest is discarded (not buffered) and 413 is
 * thrown, beyond the budget 503.
 */
function readBody(req: IncomingMessage, max: number, held: Held): Promise<string> {
  return new Promise((resolve, reject) => {
    const refuse = (err: Error): void => {
      req.off('data', onData);
      req.resume(); // discard the rest, so the client can finish sending and read our answer
      reject(err);
    };
    const header = req.headers['content-length'];
    const declared = header === undefined ? undefined : Number(header);
    if (declared !== undefined && declared > max) {
      refuse(
        new BoundaryError(413, `request body of ${declared} bytes exceeds the ${max}-byte limit`),
      );
      return;
    }
    try {
      if (declared !== undefined) held.take(declared);
    } catch (err) {
      refuse(err as Error);
      return;
    }
    // A declared length is read into one buffer of that size as it arrives, not collected and
    // copied again: a body costs its size once, then its text.
    const whole = declared === undefined ? undefined : Buffer.allocUnsafe(declared);
    const chunks: Buffer[] = [];
    let size = 0;
    function onData(chunk: Buffer): void {
      try {
        if (size + chunk.length > max)
          throw new BoundaryError(413, `request body exceeds the ${max}-byte limit`);
        if (whole === undefined) held.take(chunk.length);
      } catch (err) {
        refuse(err as Error);
        return;
      }
      if (whole === undefined) chunks.push(chunk);
      else chunk.copy(whole, size);
      size += chunk.length;
    }
    req.on('data', onData);
    req.once('end', () =>
      resolve((whole ?? Buffer.concat(chunks, size)).toString('utf8', 0, size)),
    );
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('the connection closed before the request body ended'));
    });
  });
}

/** The review, read where the injector reads it. A JSON error never quotes the body (a pod). */
function parseReview(text: string): AdmissionRequest {
  try {
    return readAdmissionReview(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError)
      throw new BoundaryError(400, 'request body is not valid JSON', { cause: err });
    throw err;
  }
}

/**
 * A request's deadline: `passed` rejects with a DeadlineError once `ms` have passed, and a body
 * still arriving then is cut, answered or not (a refused body is discarded as it arrives, until
 * then: a client that sent it whole reads its 503, one that stalls is closed). `done` once the
 * request was answered: the timer then lives on only while the body is still arriving.
 */
function deadline(
  req: IncomingMessage,
  ms: number,
): { readonly passed: Promise<never>; done(): void } {
  let timer: NodeJS.Timeout | undefined;
  const passed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new DeadlineError(ms));
      if (!req.complete) req.destroy();
    }, ms);
  });
  passed.catch(() => undefined); // raced below; never an unhandled rejection
  const clear = (): void => clearTimeout(timer);
  return {
    passed,
    done: () => {
      if (req.complete || req.destroyed) return clear();
      req.once('end', clear).once('close', clear);
    },
  };
}

/** The only pod facts that reach a log line: which request, which namespace, which pod. */
function reviewIds(request: AdmissionRequest | undefined): Record<string, string> {
  const object = isRecord(request?.object) ? request.object : {};
  const metadata = isRecord(object['metadata']) ? object['metadata'] : {};
  const ids: Record<string, string> = {};
  const pick = (key: string, ...values: unknown[]): void => {
    const value = values.find((v) => typeof v === 'string' && v !== '');
    if (typeof value === 'string') ids[key] = value.slice(0, 253);
  };
  pick('uid', request?.uid);
  pick('namespace', request?.namespace, metadata['namespace']);
  pick('name', request?.name, metadata['name'], metadata['generateName']);
  return ids;
}

function sendJson(res: ServerResponse, status: number, body: object | string): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' }).end(text);
}

function sendText(res: ServerResponse, status: number, text: string, headers: Obj = {}): void {
  res
    .writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers })
    .end(`${text}\n`);
}

interface MutateContext {
  readonly options: WebhookServerOptions;
  readonly limits: ServerLimits;
  readonly budget: ByteBudget;
  readonly logger: Logger;
}

/** Runs one admission end to end within its deadline; every path counts exactly one outcome. */
async function mutate(
  ctx: MutateContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { options, logger, limits } = ctx;
  const started = performance.now();
  const held = new Held(ctx.budget);
  res.once('close', () => held.release());
  const timeout = deadline(req, limits.requestTimeoutMs);
  let outcome: AdmissionOutcome = 'error';
  let request: AdmissionRequest | undefined;
  try {
    checkMediaType(req);
    const reading = readBody(req, limits.maxBodyBytes, held);
    reading.catch(() => undefined); // when the deadline wins the race
    const text = await Promise.race([reading, timeout.passed]);
    const large = text.length > LARGE_BODY_BYTES;
    request = parseReview(text);
    if (large) await yieldToOthers();
    const decided = options.handler(request);
    // A decision made at once is answered at once; one still to come races the deadline.
    const result =
      decided instanceof Promise ? await Promise.race([decided, timeout.passed]) : decided;
    if (large) await yieldToOthers();
    sendJson(res, 200, reviewJson(result.review));
    outcome = result.outcome;
    logger.info('admission', {
      ...reviewIds(request),
      outcome,
      ...(result.reason === undefined ? {} : { reason: result.reason }),
    });
  } catch (err) {
    answerFailure(ctx, req, res, err, request);
  } finally {
    timeout.done();
    options.metrics.admissions.inc({ outcome });
    options.metrics.admissionDuration.observe((performance.now() - started) / 1000);
  }
}

/** An error as answered (and logged): at most MAX_ERROR_ANSWER characters, as a denial. */
function errorAnswer(message: string): string {
  if (message.length <= MAX_ERROR_ANSWER) return message;
  return `${message.slice(0, MAX_ERROR_ANSWER - 1)}…`;
}

function answerFailure(
  ctx: MutateContext,
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  request: AdmissionRequest | undefined,
): void {
  const ids = reviewIds(request);
  if (err instanceof BoundaryError || isAdmissionReviewError(err)) {
    const message = errorAnswer(err instanceof Error ? err.message : String(err));
    if (err instanceof DeadlineError && !req.complete) {
      // The deadline passed with the body still arriving: nobody is waiting for an answer that
      // the client is not reading; the connection was cut (deadline()), with what it sent.
      ctx.logger.warn('admission request cut', { ...ids, status: 408, error: message });
      return;
    }
    const status = err instanceof BoundaryError ? err.status : 400;
    ctx.logger.warn('admission request rejected', { ...ids, status, error: message });
    // The body was not read to its end (or the request took too long): this connection is done.
    if (status === 413 || status === 503) res.setHeader('connection', 'close');
    if (status === 503) res.setHeader('retry-after', '1');
    if (!res.headersSent) sendJson(res, status, { error: message });
    return;
  }
  // A bug or an unexpected failure: the message may not be fit for the API server's events.
  ctx.logger.error('admission failed', { ...ids, error: err });
  if (!res.headersSent)
    sendJson(res, 500, { error: 'internal error while processing the admission review' });
}

function route(
  ctx: MutateContext & { ready: () => boolean },
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method ?? 'GET';
  const read = method === 'GET' || method === 'HEAD';
  switch (path) {
    case '/mutate':
      if (method !== 'POST') return sendText(res, 405, 'method not allowed', { allow: 'POST' });
      void mutate(ctx, req, res);
      return;
    case '/healthz':
      if (!read) return sendText(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
      return sendText(res, 200, 'ok');
    case '/readyz': {
      if (!read) return sendText(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
      const ready = ctx.ready();
      return sendText(res, ready ? 200 : 503, ready ? 'ready' : 'not ready');
    }
    default:
      sendText(res, 404, 'not found');
  }
}

/**
 * TLS 1.2 with forward-secret AEAD suites only (TLS 1.3's are all AEAD): what the API server
 * speaks, without the CBC suites Node's default list still allows under 1.2.
 */
export const TLS12_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

function tlsOptions(pair: KeyPair | undefined): {
  minVersion: 'TLSv1.2';
  ciphers: string;
  cert?: Buffer;
  key?: Buffer;
} {
  const base = { minVersion: MIN_TLS_VERSION, ciphers: TLS12_CIPHERS };
  return pair === undefined ? base : { ...base, cert: pair.cert, key: pair.key };
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const logger = options.logger ?? silentLogger;
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  let shuttingDown = false;
  const ready = (): boolean => !shuttingDown && options.certificates.current() !== undefined;
  const budget = new ByteBudget(limits.maxBytesInFlight);
  const ctx = { options, limits, budget, logger, ready };
  let lastDropLog = 0;
  const onDrop = (): void => {
    const now = Date.now();
    if (now - lastDropLog < DROP_LOG_INTERVAL_MS) return;
    lastDropLog = now;
    logger.warn('connection refused: at the connection limit', {
      maxConnections: limits.maxConnections,
    });
  };
  // The body's deadline is the listener's request timeout plus the headers': /mutate answers
  // 503 at its own deadline (requestTimeoutMs) first, before the listener cuts a body still
  // arriving.
  const server = createListener(
    {
      limits: {
        ...LISTENERS.webhook,
        ...limits,
        requestTimeoutMs: limits.headersTimeoutMs + limits.requestTimeoutMs,
      },
      tls: tlsOptions(options.certificates.current()),
      timers: options.timers,
      onDrop,
    },
    (req, res) => {
      if (shuttingDown) res.setHeader('connection', 'close');
      route(ctx, req, res);
    },
  );
  // New connections get the new pair; connections already open keep theirs: none fails.
  const unsubscribe = options.certificates.onChange((pair) =>
    server.setSecureContext(tlsOptions(pair)),
  );
  server.on('tlsClientError', (err) => logger.debug('TLS handshake failed', { error: err }));
  const port = await listen(server, options.port, options.address);
  let closing: Promise<void> | undefined;
  return {
    port,
    isReady: ready,
    bytesInFlight: () => budget.inUse(),
    close: () =>
      (closing ??= (async () => {
        shuttingDown = true;
        if ((options.drainDelayMs ?? 0) > 0) await sleep(options.drainDelayMs);
        logger.debug('drain delay over: no new connections', {
          drainDelayMs: options.drainDelayMs,
        });
        await closeListener(server, options.shutdownTimeoutMs ?? 25_000);
        unsubscribe();
      })()),
  };
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Prometheus `/metrics` over plain HTTP, on a port of its own (scraped without TLS). */
export async function startMetricsServer(options: {
  readonly address: string;
  readonly port: number;
  readonly registry: Registry;
  readonly timers?: ListenerTimers;
}): Promise<MetricsServer> {
  const limits = LISTENERS.webhookMetrics;
  const server = createListener({ limits, timers: options.timers }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return sendText(res, 404, 'not found');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendText(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
    options.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
      () => sendText(res, 500, 'metrics unavailable'),
    );
  });
  const port = await listen(server, options.port, options.address);
  return { port, close: () => closeListener(server, 5_000) };
}
