/**
 * The local API: the AWS Secrets Manager Agent's (and the Lambda extension's) HTTP protocol,
 * served by the sidecar on 127.0.0.1, so apps written for it work unchanged.
 *
 * - `GET /secretsmanager/get?secretId=ID[&versionStage=S|&versionId=V][&refreshNow=true]`
 *   answers GetSecretValue's JSON; `GET /systemsmanager/parameters/get?name=N[&withDecryption=true]`
 *   answers GetParameter's.
 * - Every request carries `X-Aws-Parameters-Secrets-Token` with the pod's token, which the agent
 *   makes at start and writes to `<outputDir>/.secrets-agent-token` before it reports ready.
 * - What the configuration names is served from the agent's cache (the last good values of the
 *   refresh loop); anything else is read through (the pod's IAM role is the boundary) and kept
 *   for the refresh interval. `refreshNow=true` reads again, at most once a second per id.
 *
 * Bounds: loopback only, the connection bounds of LISTENERS.localApi (common/listener.ts), URLs
 * up to MAX_URL_LENGTH, no bodies, at most MAX_CACHED read-through entries. Values never reach the logs: only ids and error codes do.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from '../common/fs-async.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { AgentError } from '../common/errors.ts';
import {
  closeListener,
  createListener,
  listen,
  LISTENERS,
  type ListenerTimers,
} from '../common/listener.ts';
import type { Logger } from '../common/log.ts';
import type { LocalApiOutcome } from './metrics.ts';
import { translateAwsError } from './source/errors.ts';
import type { ParameterQuery, ParameterReader } from './source/ssm-read.ts';
import { refKey, type FetchOutcome, type SecretRef, type SecretSource } from './source/source.ts';
import type { SecretValue } from './types.ts';

/** The token file, beside the secret files (a secret's name never starts with a dot). */
export const TOKEN_FILE = '.secrets-agent-token';
export const TOKEN_HEADER = 'x-aws-parameters-secrets-token';
/** The only address the local API listens on. */
export const LOCAL_API_ADDRESS = '127.0.0.1';
export const MAX_URL_LENGTH = 4096;
/** Read-through entries kept (ids the configuration does not name), oldest dropped first. */
export const MAX_CACHED = 1_000;
/** …and their bytes: the agent's memory limit (128Mi by default) must hold them. */
export const MAX_CACHED_BYTES = 8 * 1024 * 1024;
/** `refreshNow=true` reads again at most this often per id. */
export const REFRESH_NOW_INTERVAL_MS = 1_000;

/**
 * The token: the agent's own AWS_TOKEN when set (its value, or `file://PATH` to read it from,
 * as the AWS agent takes its own), else 32 random bytes.
 */
export async function resolveToken(
  env: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  const given = env['AWS_TOKEN'];
  if (given === undefined || given === '') return randomBytes(32).toString('base64url');
  if (!given.startsWith('file://')) return given;
  const path = given.slice('file://'.length);
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new AgentError(
      'CONFIG_INVALID',
      `AWS_TOKEN names ${path}, which cannot be read: ${code}`,
    );
  });
  const token = text.trim();
  if (token === '')
    throw new AgentError('CONFIG_INVALID', `AWS_TOKEN names ${path}, which is empty`);
  return token;
}

/** Writes the token file atomically, with the files' mode. */
export async function writeTokenFile(dir: string, token: string, mode: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, TOKEN_FILE);
  const tmp = `${path}.tmp-${randomBytes(3).toString('hex')}`;
  await writeFile(tmp, token, { mode, flag: 'wx' });
  await chmod(tmp, mode);
  await rename(tmp, path);
  return path;
}

/**
 * The agent's source with a memory: the value of every configured ref a fetch returns is kept,
 * so the local API serves the last good value of what the refresh loop reads (a failed read
 * keeps the old one). Only configured refs: what the configuration bounds.
 */
export class RecordingSource implements SecretSource {
  readonly #inner: SecretSource;
  readonly #configured: ReadonlySet<string>;
  readonly #values = new Map<string, SecretValue>();

  constructor(inner: SecretSource, configured: readonly SecretRef[]) {
    this.#inner = inner;
    this.#configured = new Set(configured.map(refKey));
  }

  /** Whether the configuration names the ref. */
  configured(ref: SecretRef): boolean {
    return this.#configured.has(refKey(ref));
  }

  async fetch(
    ...args: Parameters<SecretSource['fetch']>
  ): Promise<ReadonlyMap<string, FetchOutcome>> {
    const outcomes = await this.#inner.fetch(...args);
    for (const [key, outcome] of outcomes)
      if (outcome.ok && 'value' in outcome && this.#configured.has(key))
        this.#values.set(key, outcome.value);
    return outcomes;
  }

  /** The last good value of a ref. */
  last(ref: SecretRef): SecretValue | undefined {
    return this.#values.get(refKey(ref));
  }

  close(): void {
    this.#inner.close();
  }
}

export interface LocalApiOptions {
  readonly port: number;
  readonly token: string;
  /** The source; it keeps what the configuration names (the refresh loop's values). */
  readonly source: RecordingSource;
  /** Loaded on the first parameter request. */
  readonly parameters: () => Promise<ParameterReader>;
  readonly cacheTtlMs: number;
  readonly logger: Logger;
  readonly onRequest: (outcome: LocalApiOutcome) => void;
  readonly now?: () => number;
  /** The listener's deadline timers (tests). */
  readonly timers?: ListenerTimers;
}

export interface LocalApi {
  readonly port: number;
  close(): Promise<void>;
}

/** An answer: status, and the JSON body (AWS's error shape for errors). */
interface Answer {
  readonly status: number;
  readonly body: string;
  readonly outcome: LocalApiOutcome;
}

function error(status: number, type: string, message?: string): Answer {
  const body =
    message === undefined ? { __type: type } : { __type: type, message: message.slice(0, 500) };
  return { status, body: JSON.stringify(body), outcome: status === 401 ? 'unauthorized' : 'error' };
}

class BadRequest extends Error {}

interface Cached {
  readonly body: string;
  readonly at: number;
}

export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const handler = new Handler(options);
  const server = createListener(
    { limits: LISTENERS.localApi, timers: options.timers },
    (req: IncomingMessage, res: ServerResponse) => {
      handler.answer(req).then(
        (a) => {
          options.onRequest(a.outcome);
          res
            .writeHead(a.status, {
              'content-type': 'application/json',
              'cache-control': 'no-store',
              // A request body is never read: the connection closes rather than drain one.
              ...(hasBody(req) ? { connection: 'close' } : {}),
            })
            .end(a.body);
        },
        () => res.destroy(),
      );
    },
  );
  server.maxRequestsPerSocket = 1_000;
  const port = await listen(server, options.port, LOCAL_API_ADDRESS);
  return {
    port,
    close: () => {
      handler.close();
      return closeListener(server, 0);
    },
  };
}

/** The requests' answers, and the caches behind them. */
class Handler {
  readonly #o: LocalApiOptions;
  readonly #now: () => number;
  readonly #expected: Buffer;
  /** Read-through answers (bodies), oldest first. */
  readonly #cache = new Map<string, Cached>();
  /** Characters of the kept bodies. */
  #cachedBytes = 0;
  readonly #inFlight = new Map<string, Promise<Answer>>();
  readonly #lastRefresh = new Map<string, number>();
  readonly #closing = new AbortController();

  constructor(options: LocalApiOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#expected = Buffer.from(options.token, 'utf8');
  }

  close(): void {
    this.#closing.abort();
  }

  async answer(req: IncomingMessage): Promise<Answer> {
    if ((req.url ?? '').length > MAX_URL_LENGTH)
      return error(414, 'InvalidRequest', `the URL is longer than ${MAX_URL_LENGTH} characters`);
    if (req.headers['x-forwarded-for'] !== undefined)
      return error(400, 'Forwarded', 'forwarded requests are refused');
    if (!this.#authorized(req))
      return error(401, 'Unauthorized', `the ${TOKEN_HEADER} header is missing or wrong`);
    if (req.method !== 'GET') return error(405, 'MethodNotAllowed', 'only GET is served');
    if (hasBody(req)) return error(400, 'InvalidRequest', 'a request has no body');
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      switch (url.pathname) {
        case '/secretsmanager/get':
          return await this.#getSecret(url.searchParams);
        case '/systemsmanager/parameters/get':
          return await this.#getParameter(url.searchParams);
        default:
          return error(404, 'NotFound', `no such path: ${url.pathname.slice(0, 100)}`);
      }
    } catch (err) {
      if (err instanceof BadRequest) return error(400, 'InvalidParameterException', err.message);
      this.#o.logger.error('local API: request failed', {
        error: err instanceof Error ? err.name : 'error',
      });
      return error(500, 'InternalFailure');
    }
  }

  #authorized(req: IncomingMessage): boolean {
    const given = req.headers[TOKEN_HEADER];
    if (typeof given !== 'string') return false;
    const bytes = Buffer.from(given, 'utf8');
    return bytes.length === this.#expected.length && timingSafeEqual(bytes, this.#expected);
  }

  /** A fresh read-through answer, if one is kept. */
  #cached(key: string): string | undefined {
    const cached = this.#cache.get(key);
    return cached !== undefined && this.#now() - cached.at < this.#o.cacheTtlMs
      ? cached.body
      : undefined;
  }

  #keep(key: string, body: string): void {
    const old = this.#cache.get(key);
    if (old !== undefined) this.#cachedBytes -= old.body.length;
    this.#cache.delete(key);
    this.#cache.set(key, { body, at: this.#now() });
    this.#cachedBytes += body.length;
    // Oldest first, down to both bounds (the newest entry always stays).
    for (const [k, v] of this.#cache) {
      if (k === key || (this.#cache.size <= MAX_CACHED && this.#cachedBytes <= MAX_CACHED_BYTES))
        break;
      this.#cache.delete(k);
      this.#cachedBytes -= v.body.length;
    }
  }

  /** One read per key at a time: concurrent requests for the same id share it. */
  #once(key: string, read: () => Promise<Answer>): Promise<Answer> {
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    const started = read().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, started);
    return started;
  }

  /** Whether refreshNow may read again now (once a second per id), and notes it. */
  #mayRefresh(key: string): boolean {
    const last = this.#lastRefresh.get(key);
    if (last !== undefined && this.#now() - last < REFRESH_NOW_INTERVAL_MS) return false;
    this.#lastRefresh.delete(key);
    this.#lastRefresh.set(key, this.#now());
    if (this.#lastRefresh.size > MAX_CACHED)
      this.#lastRefresh.delete(this.#lastRefresh.keys().next().value as string);
    return true;
  }

  async #getSecret(query: URLSearchParams): Promise<Answer> {
    const ref = secretQuery(query);
    const key = refKey(ref);
    const configured = this.#o.source.configured(ref);
    if (!(query.get('refreshNow') === 'true' && this.#mayRefresh(`s${key}`))) {
      const last = configured ? this.#o.source.last(ref) : undefined;
      if (last !== undefined) return { status: 200, body: secretJson(last, ref), outcome: 'hit' };
      const body = this.#cached(`s${key}`);
      if (body !== undefined) return { status: 200, body, outcome: 'hit' };
    }
    return this.#once(`s${key}`, async () => {
      const outcome = (await this.#o.source.fetch([ref], this.#closing.signal)).get(key);
      if (outcome === undefined) return error(500, 'InternalFailure');
      if (!outcome.ok) {
        this.#o.logger.warn('local API: read failed', {
          id: ref.id,
          code: outcome.error.code,
          error: outcome.error.message,
        });
        return awsError(outcome.error);
      }
      // A secret id read alone is one value (directory sources are never read through here).
      if (!('value' in outcome)) return error(500, 'InternalFailure');
      const body = secretJson(outcome.value, ref);
      // A configured ref was kept by the source itself.
      if (!configured) this.#keep(`s${key}`, body);
      return { status: 200, body, outcome: 'miss' };
    });
  }

  async #getParameter(query: URLSearchParams): Promise<Answer> {
    const p = parameterQuery(query);
    const key = `p${JSON.stringify([p.name, p.withDecryption])}`;
    const cached = this.#cached(key);
    if (cached !== undefined) return { status: 200, body: cached, outcome: 'hit' };
    return this.#once(key, async () => {
      try {
        const reader = await this.#o.parameters();
        const body = JSON.stringify(await reader.get(p, this.#closing.signal));
        this.#keep(key, body);
        return { status: 200, body, outcome: 'miss' };
      } catch (err) {
        const translated = translateAwsError(err, `parameter ${p.name}`);
        this.#o.logger.warn('local API: read failed', {
          parameter: p.name,
          code: translated.code,
          error: translated.message,
        });
        return awsError(translated);
      }
    });
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

const SECRET_ID = /^[A-Za-z0-9/_+=.@:-]{1,2048}$/;
const VERSION_STAGE = /^[A-Za-z0-9_.-]{1,256}$/;
const VERSION_ID = /^[A-Za-z0-9-]{32,64}$/;
const PARAMETER_NAME = /^[A-Za-z0-9/_.\-:]{1,2048}$/;

/** Each parameter given at most once, and only those named. */
function checkKeys(query: URLSearchParams, known: readonly string[]): void {
  for (const key of new Set(query.keys())) {
    if (!known.includes(key))
      throw new BadRequest(`unknown query parameter ${JSON.stringify(key.slice(0, 64))}`);
    const n = query.getAll(key).length;
    if (n > 1) throw new BadRequest(`${key} is given ${n} times`);
  }
}

/** An optional parameter that must match `rule`, else `problem` is the 400's message. */
function optional(query: URLSearchParams, name: string, rule: RegExp, problem: string) {
  const value = query.get(name) ?? undefined;
  if (value !== undefined && !rule.test(value)) throw new BadRequest(problem);
  return value;
}

function secretQuery(query: URLSearchParams): SecretRef {
  checkKeys(query, ['secretId', 'versionStage', 'versionId', 'refreshNow']);
  const id = query.get('secretId');
  if (id === null || !SECRET_ID.test(id))
    throw new BadRequest('secretId must be a secret name or ARN');
  const stage = optional(
    query,
    'versionStage',
    VERSION_STAGE,
    'versionStage must be a version stage such as AWSCURRENT',
  );
  const versionId = optional(
    query,
    'versionId',
    VERSION_ID,
    'versionId must be a version id (32 to 64 letters, digits or "-")',
  );
  optional(query, 'refreshNow', /^(true|false)$/, 'refreshNow must be true or false');
  if (stage !== undefined && versionId !== undefined)
    throw new BadRequest('give versionStage or versionId, not both');
  return {
    id,
    ...(stage === undefined || stage === 'AWSCURRENT' ? {} : { versionStage: stage }),
    ...(versionId === undefined ? {} : { versionId }),
  };
}

function parameterQuery(query: URLSearchParams): ParameterQuery {
  checkKeys(query, ['name', 'withDecryption']);
  const name = query.get('name');
  if (name === null || !PARAMETER_NAME.test(name))
    throw new BadRequest('name must be a parameter name or ARN');
  const decrypt = optional(
    query,
    'withDecryption',
    /^(true|false)$/,
    'withDecryption must be true or false',
  );
  return { name, withDecryption: decrypt === 'true' };
}

/** GetSecretValue's JSON. */
function secretJson(value: SecretValue, ref: SecretRef): string {
  const stages = value.versionStages ?? [ref.versionStage ?? 'AWSCURRENT'];
  return JSON.stringify({
    ARN: value.arn,
    Name: value.name ?? nameFromArn(value.arn) ?? ref.id,
    VersionId: value.versionId,
    ...(value.string === undefined ? {} : { SecretString: value.string }),
    ...(value.binary === undefined
      ? {}
      : { SecretBinary: Buffer.from(value.binary).toString('base64') }),
    VersionStages: stages,
    ...(value.createdDate === undefined ? {} : { CreatedDate: value.createdDate }),
  });
}

/** A secret's ARN ends in `secret:<name>-<6 characters>`. */
function nameFromArn(arn: string): string | undefined {
  return /:secret:(.+)-[A-Za-z0-9]{6}$/.exec(arn)?.[1];
}

/**
 * An AWS error as the AWS agent answers it: AWS's own status and `{"__type", "message"}`;
 * a timeout 504, a connection failure 502, anything else 500 InternalFailure.
 */
function awsError(err: AgentError): Answer {
  const cause = err.cause as { name?: unknown; code?: unknown } | undefined;
  const name = typeof cause?.name === 'string' ? cause.name : 'InternalFailure';
  if (name === 'TimeoutError' || name === 'RequestTimeout')
    return error(504, 'TimeoutError', 'Timeout');
  if (typeof cause?.code === 'string' && /^E[A-Z]+$|^UND_ERR/.test(cause.code))
    return error(502, 'ConnectionError', 'Read Error');
  if (err.code === 'AWS_UNAVAILABLE' || err.code === 'CREDENTIALS') {
    return err.code === 'CREDENTIALS'
      ? error(500, 'InternalFailure')
      : error(500, name === 'SyntaxError' ? 'InternalFailure' : name);
  }
  // `context: Name: AWS's message`: AWS's words only.
  const prefix = `: ${name}: `;
  const at = err.message.indexOf(prefix);
  const message = at < 0 ? err.message : err.message.slice(at + prefix.length);
  return error(400, name, message);
}
