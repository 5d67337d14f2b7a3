/**
 * A small typed client for the few Secret calls the sink makes (get, create, update), over
 * node:https. Importing a full Kubernetes client costs the agent about 0.5 s and 80 MB at
 * start (measured); these three calls need neither. Errors become AgentErrors with the API
 * Status' reason; a 403 names the permission that is missing.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { AgentError } from '../../../common/errors.ts';
import type { KubeConnection } from './config.ts';

export interface SecretObject {
  readonly apiVersion: 'v1';
  readonly kind: 'Secret';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly OwnerReference[];
    readonly [other: string]: unknown;
  };
  readonly type?: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly immutable?: boolean;
}

/** An owner reference as the API has it; only the fields the sink reads are typed. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly [other: string]: unknown;
}

export interface SecretsClient {
  get(namespace: string, name: string, signal: AbortSignal): Promise<SecretObject | undefined>;
  create(secret: SecretObject, signal: AbortSignal): Promise<SecretObject>;
  update(secret: SecretObject, signal: AbortSignal): Promise<SecretObject>;
  close(): void;
}

/** An API answer that was not a success: the Status' reason is kept for callers to branch on. */
export class KubeApiError extends AgentError {
  readonly status: number;
  readonly reason: string;
  constructor(
    code: ConstructorParameters<typeof AgentError>[0],
    message: string,
    status: number,
    reason: string,
  ) {
    super(code, message, {
      retryable: status === 0 || status === 429 || status >= 500 || reason === 'Conflict',
    });
    this.status = status;
    this.reason = reason;
  }
}

type Verb = 'get' | 'create' | 'update';

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

const TIMEOUT_MS = 10_000;

function connectionAgent(connection: KubeConnection, secure: boolean): HttpAgent {
  return secure
    ? new HttpsAgent({
        keepAlive: true,
        rejectUnauthorized: !connection.insecureSkipTlsVerify,
        ...(connection.ca === undefined ? {} : { ca: connection.ca }),
        ...(connection.clientCert === undefined ? {} : { cert: connection.clientCert }),
        ...(connection.clientKey === undefined ? {} : { key: connection.clientKey }),
        ...(connection.tlsServerName === undefined ? {} : { servername: connection.tlsServerName }),
      })
    : new HttpAgent({ keepAlive: true });
}

/** One connection to the API: requests with the service account's token, JSON answers. */
export interface KubeTransport {
  call(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
    contentType?: string,
  ): Promise<Answer>;
  close(): void;
}

export function createKubeTransport(connection: KubeConnection): KubeTransport {
  const secure = new URL(connection.server).protocol === 'https:';
  const agent = connectionAgent(connection, secure);

  async function call(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
    contentType = 'application/json',
  ): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (connection.token !== undefined)
      headers['authorization'] = `Bearer ${await connection.token()}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = contentType;
    const send = secure ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      const req = send(
        new URL(path, `${connection.server}/`),
        { method, headers, agent, signal, timeout: TIMEOUT_MS },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: parseBody(text) });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
  return { call, close: () => agent.destroy() };
}

export function createSecretsClient(
  connection: KubeConnection,
  transport: KubeTransport = createKubeTransport(connection),
): SecretsClient {
  const call: KubeTransport['call'] = (...args) => transport.call(...args);

  async function secretCall(
    verb: Verb,
    method: string,
    namespace: string,
    name: string | undefined,
    body: unknown,
    signal: AbortSignal,
  ): Promise<Answer> {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
    try {
      return await call(method, path, body, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      const detail = err instanceof Error ? err.message : String(err);
      throw new KubeApiError(
        'KUBE_UNAVAILABLE',
        `Kubernetes API ${connection.server}: ${detail}`,
        0,
        'Unreachable',
      );
    }
  }

  return {
    async get(namespace, name, signal) {
      const answer = await secretCall('get', 'GET', namespace, name, undefined, signal);
      if (answer.status === 404) return undefined;
      return expectSecret(answer, 'get', namespace, name);
    },
    async create(secret, signal) {
      const { namespace, name } = secret.metadata;
      return expectSecret(
        await secretCall('create', 'POST', namespace, undefined, secret, signal),
        'create',
        namespace,
        name,
      );
    },
    async update(secret, signal) {
      const { namespace, name } = secret.metadata;
      return expectSecret(
        await secretCall('update', 'PUT', namespace, name, secret, signal),
        'update',
        namespace,
        name,
      );
    },
    close() {
      transport.close();
    },
  };
}

function parseBody(text: string): unknown {
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

function expectSecret(answer: Answer, verb: Verb, namespace: string, name: string): SecretObject {
  if (answer.status >= 200 && answer.status < 300 && isSecret(answer.body)) return answer.body;
  throw apiError(answer, verb, namespace, name);
}

function isSecret(body: unknown): body is SecretObject {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as { kind?: unknown; metadata?: unknown };
  return b.kind === 'Secret' && typeof b.metadata === 'object' && b.metadata !== null;
}

export interface Status {
  readonly reason?: string;
  readonly message?: string;
}

export function statusOf(body: unknown): Status {
  if (typeof body !== 'object' || body === null) return {};
  const b = body as { reason?: unknown; message?: unknown };
  return {
    ...(typeof b.reason === 'string' ? { reason: b.reason } : {}),
    ...(typeof b.message === 'string' ? { message: b.message.slice(0, 500) } : {}),
  };
}

function apiError(answer: Answer, verb: Verb, namespace: string, name: string): KubeApiError {
  const { reason = `HTTP ${answer.status}`, message = 'no message' } = statusOf(answer.body);
  const what = `Secret ${namespace}/${name}`;
  if (answer.status === 403) {
    return new KubeApiError(
      'KUBE_FORBIDDEN',
      `${what}: forbidden: missing permission "${verb}" on secrets in namespace ${namespace}; grant the pod's service account get and update on this Secret (pre-created with the label app.kubernetes.io/managed-by=secrets-agent), or also create on secrets in the namespace (API: ${message})`,
      403,
      reason,
    );
  }
  if (answer.status === 401) {
    return new KubeApiError(
      'KUBE_FORBIDDEN',
      `${what}: unauthorized: the service-account token was not accepted (API: ${message})`,
      401,
      reason,
    );
  }
  const code = answer.status >= 500 || answer.status === 429 ? 'KUBE_UNAVAILABLE' : 'KUBE_REQUEST';
  return new KubeApiError(
    code,
    `${what}: ${verb} failed: ${reason}: ${message}`,
    answer.status,
    reason,
  );
}
