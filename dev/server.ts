/**
 * `startDevServer`: the calls the agent makes to AWS, on one loopback port: Secrets Manager's
 * GetSecretValue, BatchGetSecretValue and ListSecrets, SSM's GetParameters,
 * GetParametersByPath and GetParameter (awsJson1_1), and STS AssumeRoleWithWebIdentity (query
 * protocol), with admin endpoints under `/_dev/` (faults, the request log, rotation), and
 * optionally AWS's request quotas (quota.ts). The
 * unmodified AWS SDK works against it through `endpoint` / `AWS_ENDPOINT_URL*`. Tests use it
 * in-process through the returned handle: the store, the fault registry and the request log.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, silentLogger } from '../common/log.ts';
import { ADMIN_PREFIX, handleAdmin } from './admin.ts';
import { CredentialRegistry } from './credentials.ts';
import { ParameterStore, type ParameterType } from './parameters.ts';
import { handleJsonService } from './json-service.ts';
import { SECRETS_MANAGER } from './secretsmanager.ts';
import { SSM, SSM_TARGET_PREFIX } from './ssm.ts';
import { FaultRegistry } from './faults.ts';
import { QuotaModel, type QuotaOptions } from './quota.ts';
import { RequestLog } from './request-log.ts';
import { type Seed, type SeedInput, applySeed, toSeed } from './seed.ts';
import type { DevState } from './state.ts';
import { AWSCURRENT, SecretStore } from './store.ts';
import { handleSts } from './sts.ts';
import { BodyTooLarge, readBody, sendPlainJson, sleep } from './wire.ts';

export interface DevServerOptions {
  /** 0 (the default here) picks a free port. */
  readonly port?: number;
  /** Defaults to 127.0.0.1. */
  readonly host?: string;
  /** A validated seed (`parseSeed`, `loadSeedFile`) or a seed document to validate now. */
  readonly seed?: Seed | SeedInput;
  readonly logger?: Logger;
  /** The clock (epoch ms), for expiry tests and the quotas' buckets. */
  readonly now?: () => number;
  /**
   * How injected latency is waited out; a real timer by default. A test with a virtual clock
   * (common/clock.ts) passes its `sleep`, so latency faults run in the same time as the code
   * they delay.
   */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<unknown>;
  /** Enforce AWS's request quotas (dev/quota.ts); off when absent. */
  readonly quotas?: QuotaOptions;
}

export interface DevServer {
  /** `http://127.0.0.1:PORT`: pass as the SDK's `endpoint` or `AWS_ENDPOINT_URL`. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly seed: Seed;
  readonly store: SecretStore;
  readonly parameters: ParameterStore;
  readonly faults: FaultRegistry;
  readonly requests: RequestLog;
  readonly credentials: CredentialRegistry;
  /** The quotas in force, when enforced. */
  readonly quotas: QuotaModel | undefined;
  /** Adds a new version (AWSCURRENT by default) to a secret, creating it if needed: a rotation. */
  putSecretValue(
    name: string,
    value: string | Buffer | Readonly<Record<string, unknown>>,
    stages?: readonly string[],
  ): string;
  /** Adds a version of a parameter, creating it if needed; returns the version number. */
  putParameter(
    name: string,
    value: string,
    type?: ParameterType,
    labels?: readonly string[],
  ): number;
  /** Stops listening and closes every connection, keep-alive ones included. */
  close(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const seed = toSeed(options.seed);
  const logger = options.logger ?? silentLogger;
  const closing = new AbortController();
  const store = new SecretStore({
    accountId: seed.accountId,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const parameters = new ParameterStore({
    accountId: seed.accountId,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  applySeed(store, seed, parameters);
  const state: DevState = {
    store,
    parameters,
    faults: new FaultRegistry(),
    requests: new RequestLog(),
    credentials: new CredentialRegistry({
      accountId: seed.accountId,
      staticCredentials: seed.credentials,
      ...(options.now === undefined ? {} : { now: options.now }),
    }),
    sts: seed.sts,
    defaultRegion: seed.region,
    logger,
    closing: closing.signal,
    sleep: options.sleep ?? sleep,
    now: options.now ?? Date.now,
    ...(options.quotas === undefined ? {} : { quotas: new QuotaModel(options.quotas) }),
  };
  const server = createServer((req, res) => void route(state, req, res));
  server.keepAliveTimeout = 5000;
  const host = options.host ?? '127.0.0.1';
  await listen(server, options.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    host,
    seed,
    store,
    parameters,
    faults: state.faults,
    requests: state.requests,
    credentials: state.credentials,
    quotas: state.quotas,
    putSecretValue: (name, value, stages = [AWSCURRENT]) => {
      const v =
        typeof value === 'string'
          ? { kind: 'string' as const, text: value }
          : Buffer.isBuffer(value)
            ? { kind: 'binary' as const, bytes: value }
            : { kind: 'string' as const, text: JSON.stringify(value) };
      return store.putVersion(store.secret(name), v, stages).id;
    },
    putParameter: (name, value, type, labels) => parameters.put(name, value, type, labels),
    close: () => closeServer(server, closing),
  };
}

/** Secrets Manager by `X-Amz-Target`, STS by a form body with `Action=`, admin by path. */
async function route(state: DevState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const body = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith(ADMIN_PREFIX)) return handleAdmin(state, req, res, body);
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith(SSM_TARGET_PREFIX))
      return await handleJsonService(SSM, state, req, res, body);
    if (target !== undefined)
      return await handleJsonService(SECRETS_MANAGER, state, req, res, body);
    if (isStsRequest(req, body)) return await handleSts(state, req, res, body);
    sendPlainJson(res, 404, {
      error:
        'not an AWS request: send X-Amz-Target (Secrets Manager) or Action= (STS), or use /_dev/',
    });
  } catch (err) {
    if (res.headersSent || req.socket.destroyed) return;
    const status = err instanceof BodyTooLarge ? 413 : 500;
    state.logger.error('request failed', {
      error: err instanceof Error ? err.message : String(err),
    });
    sendPlainJson(res, status, { error: err instanceof Error ? err.message : 'internal error' });
  }
}

function isStsRequest(req: IncomingMessage, body: Buffer): boolean {
  const query = (req.url ?? '').includes('?')
    ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1)
    : '';
  return /(^|&)Action=/.test(body.toString('utf8')) || /(^|&)Action=/.test(query);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server, closing: AbortController): Promise<void> {
  closing.abort();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
