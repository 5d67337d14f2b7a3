/**
 * The webhook's HTTPS server: `POST /mutate`, `GET /healthz`, `GET /readyz`; and, on its own
 * plain-HTTP port, Prometheus `/metrics`. It knows nothing about pods: the admission decision
 * is a handler passed in, so the server is tested with any handler and the injector's logic
 * without a socket.
 *
 * The request body is untrusted until validated here: size, media type, JSON, and the
 * AdmissionReview envelope (admission.ts's one parser). Only then is the handler called.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import { isObject, type JsonObject } from '../common/json.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import {
  isAdmissionReviewError,
  parseAdmissionReview,
  type AdmissionRequest,
  type AdmissionResult,
} from './admission.ts';
import type { AdmissionOutcome, InjectorMetrics } from './metrics.ts';
import type { CertificateSource, KeyPair } from './tls.ts';

/** The API server caps request bodies at 3 MiB; a review is a pod plus a little. */
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;
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
  readonly maxBodyBytes?: number;
  /** On close, keep serving (not ready) this long so the Service stops routing to us first. */
  readonly drainDelayMs?: number;
  /** On close, connections still busy after this long are cut. */
  readonly shutdownTimeoutMs?: number;
}

export interface WebhookServer {
  readonly port: number;
  /** A key pair is loaded and the server is not shutting down. */
  isReady(): boolean;
  /** Stops accepting, lets in-flight requests finish, resolves when every connection is closed. */
  close(): Promise<void>;
}

/** A request rejected at the boundary, before the handler ran. */
export class BoundaryError extends Error {
  readonly status: 400 | 413 | 415;
  constructor(status: 400 | 413 | 415, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BoundaryError';
    this.status = status;
  }
}

type Obj = JsonObject;

function checkMediaType(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new BoundaryError(415, `content-type must be application/json, got "${type ?? ''}"`);
  }
}

/** Reads at most `max` bytes; beyond that the rest is discarded (not buffered) and 413 is thrown. */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) {
    req.resume(); // discard, so the client can finish sending and read our answer
    throw new BoundaryError(413, `request body of ${declared} bytes exceeds the ${max}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      req.resume();
      throw new BoundaryError(413, `request body exceeds the ${max}-byte limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** The body as JSON. The parser's message is not repeated: it quotes the body (a pod). */
function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BoundaryError(400, 'request body is not valid JSON', { cause: err });
  }
}

/** The only pod facts that reach a log line: which request, which namespace, which pod. */
function reviewIds(request: AdmissionRequest | undefined): Record<string, string> {
  const object = isObject(request?.object) ? request.object : {};
  const metadata = isObject(object['metadata']) ? object['metadata'] : {};
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

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string, headers: Obj = {}): void {
  res
    .writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers })
    .end(`${text}\n`);
}

interface MutateContext {
  readonly options: WebhookServerOptions;
  readonly logger: Logger;
}

/** Runs one admission end to end; every path counts exactly one outcome. */
async function mutate(
  ctx: MutateContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { options, logger } = ctx;
  const stopTimer = options.metrics.admissionDuration.startTimer();
  let outcome: AdmissionOutcome = 'error';
  let request: AdmissionRequest | undefined;
  try {
    checkMediaType(req);
    const body = await readBody(req, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    request = parseAdmissionReview(parseJson(body));
    const result = await options.handler(request);
    sendJson(res, 200, result.review);
    outcome = result.outcome;
    logger.info('admission', {
      ...reviewIds(request),
      outcome,
      ...(result.reason === undefined ? {} : { reason: result.reason }),
    });
  } catch (err) {
    answerFailure(ctx, res, err, request);
  } finally {
    options.metrics.admissions.inc({ outcome });
    stopTimer();
  }
}

function answerFailure(
  ctx: MutateContext,
  res: ServerResponse,
  err: unknown,
  request: AdmissionRequest | undefined,
): void {
  const ids = reviewIds(request);
  if (err instanceof BoundaryError || isAdmissionReviewError(err)) {
    const status = err instanceof BoundaryError ? err.status : 400;
    const message = err instanceof Error ? err.message : String(err);
    ctx.logger.warn('admission request rejected', { ...ids, status, error: message });
    if (status === 413) res.setHeader('connection', 'close');
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

async function listen(server: Server, port: number, address: string): Promise<number> {
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
async function closeServer(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), timeoutMs).unref();
  await closed;
  clearTimeout(cut);
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const logger = options.logger ?? silentLogger;
  let shuttingDown = false;
  const ready = (): boolean => !shuttingDown && options.certificates.current() !== undefined;
  const ctx = { options, logger, ready };
  const server = createHttpsServer(
    {
      ...tlsOptions(options.certificates.current()),
      // The API server's Go client idles connections up to 90 s; closing ours sooner races its
      // reuse of a connection and fails that admission (a denied pod with failurePolicy Fail).
      keepAliveTimeout: 120_000,
      headersTimeout: 10_000,
      requestTimeout: 30_000,
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
    close: () =>
      (closing ??= (async () => {
        shuttingDown = true;
        if ((options.drainDelayMs ?? 0) > 0) await sleep(options.drainDelayMs);
        await closeServer(server, options.shutdownTimeoutMs ?? 25_000);
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
}): Promise<MetricsServer> {
  const server = createHttpServer((req, res) => {
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
  return { port, close: () => closeServer(server, 5_000) };
}
