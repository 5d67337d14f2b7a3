/**
 * One HTTP exchange of the lean client, under the agent's transport rules (transport.ts): kept
 * connections, a connection timeout, the call's own time budget, an HTTP(S) proxy through node's
 * `proxyEnv` agents, and a cap on the answer's size, checked while it arrives (an endpoint that
 * is not AWS cannot make the agent hold more than AWS could answer).
 *
 * Errors take the SDK's shapes, so errors.ts reads them the same: a timeout is a `TimeoutError`,
 * an abort an `AbortError`, a socket error node's own (with its `code`).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { VERSION } from '../../../common/version.ts';
import { CONNECTION_TIMEOUT_MS, SOCKETS, type TransportOptions } from '../transport.ts';

/** Sent unsigned, as the SDK sends its own: CloudTrail's userAgent names the agent. */
export const USER_AGENT = `secrets-agent/${VERSION}`;

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface HttpCall {
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The whole exchange, connection to last byte, ends within this. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** An answer longer than this is refused unread. */
  readonly maxBytes: number;
}

export interface HttpClient {
  send(url: URL, call: HttpCall): Promise<HttpAnswer>;
  destroy(): void;
}

/** An error in the SDK's shape: `name` its kind, and the HTTP status when there was an answer. */
export class HttpError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { readonly httpStatusCode?: number };
  constructor(name: string, message: string, status?: number) {
    super(message);
    this.name = name;
    this.$fault = status !== undefined && status < 500 ? 'client' : 'server';
    this.$metadata = status === undefined ? {} : { httpStatusCode: status };
  }
}

/**
 * Connections for AWS calls: kept alive and reused (at most 50 a host), through the proxy
 * when one is set. `direct` makes one without the proxy (the container credentials endpoint,
 * which is on the node).
 */
export function createHttpClient(options: TransportOptions & { direct?: boolean }): HttpClient {
  const proxy = options.direct === true ? undefined : options.proxyAddress;
  const http = new HttpAgent(proxy === undefined ? SOCKETS : proxied(SOCKETS, 'HTTP_PROXY', proxy));
  const https = new HttpsAgent(
    proxy === undefined ? SOCKETS : proxied(SOCKETS, 'HTTPS_PROXY', proxy),
  );
  return {
    send: (url, call) => exchange(url, call, url.protocol === 'http:' ? http : https),
    destroy() {
      http.destroy();
      https.destroy();
    },
  };
}

function proxied<T extends object>(base: T, variable: string, proxy: string): T {
  return { ...base, proxyEnv: { [variable]: proxy } };
}

function exchange(url: URL, call: HttpCall, agent: HttpAgent): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    if (call.signal?.aborted === true) {
      reject(abortError());
      return;
    }
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    const headers = { 'user-agent': USER_AGENT, ...call.headers };
    const req = send(url, { method: call.method, headers, agent });
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const fail = (error: Error): void => {
      if (!settle()) return;
      req.destroy();
      reject(error);
    };
    const succeed = (answer: HttpAnswer): void => {
      if (settle()) resolve(answer);
    };
    const timer = setTimeout(() => fail(requestTimeout(call.timeoutMs)), call.timeoutMs);
    const onAbort = (): void => fail(abortError());
    call.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('socket', (socket: Socket) => connectionTimeout(socket, fail));
    req.on('error', (err) => fail(asSdkError(err)));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > call.maxBytes) {
        fail(tooLarge(call.maxBytes, status));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > call.maxBytes) fail(tooLarge(call.maxBytes, status));
        else chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () =>
        succeed({ status, headers: res.headers, body: Buffer.concat(chunks, size) }),
      );
    });
    req.end(call.body);
  });
}

/** A socket not connected within the connection timeout fails the call (a reused one is). */
function connectionTimeout(socket: Socket, fail: (error: Error) => void): void {
  if (!socket.connecting) return;
  const timer = setTimeout(
    () =>
      fail(
        new HttpError(
          'TimeoutError',
          `the request socket did not establish a connection with the server within the configured timeout of ${CONNECTION_TIMEOUT_MS} ms.`,
        ),
      ),
    CONNECTION_TIMEOUT_MS,
  );
  socket.once('connect', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
}

/** The SDK's handler's words for a call that outran its timeout. */
function requestTimeout(ms: number): Error {
  return Object.assign(
    new HttpError('TimeoutError', `a request has exceeded the configured ${ms} ms requestTimeout.`),
    { code: 'ETIMEDOUT' },
  );
}

/** The SDK's handler names a reset, broken or timed-out connection a TimeoutError. */
const TIMEOUT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

function asSdkError(err: NodeJS.ErrnoException): Error {
  if (err.code !== undefined && TIMEOUT_CODES.has(err.code)) err.name = 'TimeoutError';
  return err;
}

function abortError(): Error {
  const error = new Error('Request aborted');
  error.name = 'AbortError';
  return error;
}

/** Larger than AWS answers: not AWS, or not whole; the body is dropped unread. */
function tooLarge(max: number, status: number): HttpError {
  return new HttpError(
    'ResponseTooLarge',
    `the answer is larger than ${max} bytes, more than AWS answers`,
    status >= 500 ? status : undefined,
  );
}
