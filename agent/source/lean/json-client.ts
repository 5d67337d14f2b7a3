/**
 * AWS's JSON protocol (awsJson1_1) for Secrets Manager: `POST /` with the operation in
 * `X-Amz-Target`, signed with SigV4, the answer parsed once it is whole and within its cap.
 * Errors are thrown as the SDK throws them (`name` the error type, `$fault`, `$metadata`), so
 * errors.ts reads them alike; every call sent is counted, as the SDK clients' counting plugin
 * counts.
 */
import type { OnApiCall } from '../call.ts';
import { callOutcome } from '../errors.ts';
import { HttpError, type HttpAnswer, type HttpClient } from './http.ts';
import { signRequest, type Credentials } from './sigv4.ts';

export type JsonObject = Readonly<Record<string, unknown>>;

export interface JsonClientOptions {
  readonly service: string;
  /** `X-Amz-Target` is this, a dot, and the operation. */
  readonly targetPrefix: string;
  readonly endpoint: URL;
  readonly region: string;
  readonly credentials: () => Promise<Credentials>;
  readonly http: HttpClient;
  readonly onApiCall: OnApiCall;
  readonly now?: () => number;
}

export interface CallOptions {
  readonly abortSignal: AbortSignal;
  readonly requestTimeout: number;
  /** The largest answer accepted, in bytes. */
  readonly maxBytes: number;
}

export interface JsonClient {
  call(operation: string, input: JsonObject, options: CallOptions): Promise<JsonObject>;
}

const CONTENT_TYPE = 'application/x-amz-json-1.1';

export function createJsonClient(options: JsonClientOptions): JsonClient {
  const now = options.now ?? Date.now;
  return {
    async call(operation, input, call) {
      const credentials = await options.credentials();
      const body = JSON.stringify(input);
      const { endpoint } = options;
      const headers = signRequest(
        {
          method: 'POST',
          host: endpoint.host,
          path: endpoint.pathname === '' ? '/' : endpoint.pathname,
          headers: {
            'content-type': CONTENT_TYPE,
            'x-amz-target': `${options.targetPrefix}.${operation}`,
          },
          body,
        },
        { region: options.region, service: options.service, credentials, date: new Date(now()) },
      );
      try {
        const answer = await options.http.send(endpoint, {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          body,
          timeoutMs: call.requestTimeout,
          signal: call.abortSignal,
          maxBytes: call.maxBytes,
        });
        const out = parseAnswer(answer);
        options.onApiCall(operation, 'success');
        return out;
      } catch (err) {
        options.onApiCall(operation, callOutcome(err));
        throw err;
      }
    },
  };
}

/** The answer's object, or the error it states; a body that is not JSON is a SyntaxError. */
function parseAnswer(answer: HttpAnswer): JsonObject {
  const text = answer.body.toString('utf8');
  // JSON.parse's message quotes the text, which may hold a value: errors.ts withholds it.
  const parsed: unknown = text.trim() === '' ? {} : JSON.parse(text);
  const object = isObject(parsed) ? parsed : undefined;
  if (answer.status >= 200 && answer.status < 300) {
    if (object === undefined) throw syntaxError();
    return object;
  }
  throw awsError(answer, object ?? {});
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function syntaxError(): SyntaxError {
  return new SyntaxError('the response is not a JSON object');
}

/** The error type as the SDK reads it: the header, else `__type`, without namespace or URL. */
function errorType(answer: HttpAnswer, body: JsonObject): string | undefined {
  const header = answer.headers['x-amzn-errortype'];
  const raw =
    (typeof header === 'string' ? header : undefined) ??
    (typeof body['__type'] === 'string' ? body['__type'] : undefined) ??
    (typeof body['code'] === 'string' ? body['code'] : undefined);
  if (raw === undefined || raw === '') return undefined;
  const noUrl = raw.split(':')[0] ?? raw;
  return noUrl.slice(noUrl.lastIndexOf('#') + 1);
}

function awsError(answer: HttpAnswer, body: JsonObject): HttpError {
  const message = body['message'] ?? body['Message'];
  return new HttpError(
    errorType(answer, body) ?? 'UnknownError',
    typeof message === 'string' ? message : 'UnknownError',
    answer.status,
  );
}
