/**
 * The AWS adapter. It builds the clients and the credential chain, and reads Secrets Manager
 * secrets; parameters and paths go to ssm.ts (loaded only when a configuration names one),
 * finds to find.ts. Secrets by name or ARN are read by the lean client (lean/: SigV4 over
 * node's https, no SDK) with the lean credential chain, wherever these serve the environment
 * (see `leanServes`); the SDK (sdk.ts, sdk-credentials.ts, ssm.ts, find.ts, near-names.ts: the
 * only modules that import `@aws-sdk/*`) is loaded for the rest, when first needed.
 *
 * It batches reads (BatchGetSecretValue, 20 ids a call), falls back to GetSecretValue where the
 * batch call is denied or a version is pinned, and tries the failover region on errors that
 * another region may not have (throttling, 5xx, network).
 *
 * It never retries: one fetch makes each call once (the SDK included: one attempt per call),
 * and the agent's loop, which knows initTimeout and the refresh interval, decides when to try
 * again. `fetchWorstCase` (worst-case.ts) states what one fetch can cost.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AgentError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import {
  callBudget,
  callError,
  outOfTime,
  SDK_MAX_ATTEMPTS,
  valueOrError,
  type CallContext,
  type ClientSettings,
  type OnApiCall,
  type Outcome,
  type ParameterReader,
  type SecretAnswer,
} from './call.ts';
import { translateAwsError, translateBatchEntry } from './errors.ts';
import { leanCredentials, type CredentialProvider } from './lean/credentials.ts';
import { serviceEndpoint, type Env } from './lean/endpoint.ts';
import { createHttpClient, type HttpClient } from './lean/http.ts';
import { leanSecretReads } from './lean/secrets-manager.ts';
import type { BatchPage, SecretReads } from './reads.ts';
import { newBatchState, readSecrets, type BatchResult, type BatchState } from './strategy.ts';
import { describeRef, refKey, type SecretRef, type SecretSource } from './source.ts';
import { transportConfig } from './transport.ts';

export { BATCH_LIMIT, GET_CONCURRENCY, mapLimit } from './strategy.ts';
export { SDK_MAX_ATTEMPTS };
/**
 * The container credentials endpoint (EKS Pod Identity, ECS): one request per resolution
 * (the SDK's own default is four, a second apart), answered within a second.
 */
export const CONTAINER_CREDENTIALS = { maxRetries: 0, timeout: 1_000 } as const;
/** At most one credentials exchange per fetch, shared by both regions. */
export const CREDENTIAL_CALLS_PER_FETCH = 1;

export interface AwsSourceOptions {
  readonly region?: string;
  readonly failoverRegion?: string;
  readonly logger: Logger;
  /** Called once per call sent (the agent's retries are new calls): what the user pays for. */
  readonly onApiCall: OnApiCall;
  readonly requestTimeoutMs?: number;
  /**
   * Credentials come from a container credentials endpoint (EKS Pod Identity, ECS): its
   * failures (an agent not yet up on a fresh node) are retried like network errors.
   */
  readonly containerCredentials?: boolean;
  /** An HTTP(S) proxy for every AWS call (transport.ts). */
  readonly proxyAddress?: string;
  /** AWS's FIPS endpoints. */
  readonly useFipsEndpoint?: boolean;
  /** The environment the SDK would read (credentials, endpoints); process.env by default. */
  readonly env?: Env;
  readonly now?: () => number;
  /** For the batch call's cool-down after throttling (strategy.ts). */
  readonly random?: () => number;
}

interface RegionClient {
  readonly region: string | undefined;
  /** GetSecretValue and BatchGetSecretValue: the lean client's, or the SDK's when loaded. */
  readonly reads: () => Promise<SecretReads>;
  /** The SDK's client, for finds and the not-found hint: created at the first use. */
  readonly sdk: (reason: string) => Promise<SecretsManagerClient>;
  /** Says (once per reason, at debug level) that the SDK is loaded, and why. */
  readonly noteSdk: (reason: string) => void;
  readonly settings: ClientSettings;
  readonly batch: BatchState;
  /** Created at the first parameter or path read. */
  parameters?: Promise<ParameterReader>;
  destroy(): void;
}

/**
 * Whether the lean client and chain serve this environment: a region known, and nothing the
 * SDK would read that they do not (a profile, a shared configuration or credentials file,
 * dual-stack endpoints). Anywhere else the SDK serves every call, as before.
 */
export function leanServes(env: Env, region: string | undefined): region is string {
  if (region === undefined) return false;
  if (env['AWS_PROFILE'] !== undefined && env['AWS_PROFILE'] !== '') return false;
  if (env['AWS_USE_DUALSTACK_ENDPOINT']?.toLowerCase() === 'true') return false;
  const home = env['HOME'] ?? homedir();
  const files = [
    env['AWS_CONFIG_FILE'] || join(home, '.aws', 'config'),
    env['AWS_SHARED_CREDENTIALS_FILE'] || join(home, '.aws', 'credentials'),
  ];
  return !files.some((file) => existsSync(file));
}

export function createAwsSource(options: AwsSourceOptions): SecretSource {
  const now = options.now ?? Date.now;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const env = options.env ?? process.env;
  const fips = options.useFipsEndpoint === true || env['AWS_USE_FIPS_ENDPOINT'] === 'true';
  // Without a region set, the SDK's own: AWS_REGION (a profile's would disable the lean path).
  const leanRegion = options.region ?? (env['AWS_REGION'] || undefined);
  const lean: LeanParts | undefined = leanServes(env, leanRegion)
    ? {
        http: createHttpClient(options),
        direct: createHttpClient({ ...options, direct: true }),
        region: leanRegion,
      }
    : undefined;
  const noteSdk = sdkNotes(options.logger);
  // One credential provider for both regions and every client: one STS exchange, one cache.
  const credentials = sharedCredentials(options, env, fips, lean, noteSdk);
  const shared: SharedClientParts = {
    options,
    env,
    fips,
    credentials,
    lean,
    now,
    requestTimeoutMs,
    noteSdk,
  };
  const makeClient = (region: string | undefined): RegionClient => regionClient(region, shared);
  const primary = makeClient(options.region);
  const failover =
    options.failoverRegion === undefined ? undefined : makeClient(options.failoverRegion);

  return {
    async fetch(refs, signal, deadline) {
      const unique = [...new Map(refs.map((ref) => [refKey(ref), ref])).values()];
      const call: CallContext = {
        signal,
        deadline,
        now,
        random: options.random ?? Math.random,
        requestTimeoutMs,
        logger: options.logger,
      };
      // Credentials once, before any read: a failing exchange fails the fetch in one call,
      // not once per batch and region.
      const denied = await resolveCredentials(
        credentials,
        unique,
        call,
        options.containerCredentials,
      );
      if (denied !== undefined) return denied;
      const results = await fetchFrom(primary, unique, call);
      if (failover !== undefined) {
        const retry = [...results.values()]
          .filter((r) => !r.ok && r.error.retryable && !r.outOfTime)
          .map((r) => r.ref);
        if (retry.length > 0) {
          options.logger.warn('trying the failover region', {
            region: failover.region,
            secrets: retry.map((r) => r.id),
          });
          const second = await fetchFrom(failover, retry, call);
          for (const [key, outcome] of second) if (outcome.ok) results.set(key, outcome);
        }
      }
      return results;
    },
    async nearNames(ids, signal) {
      const { nearSecretNames } = await import('./near-names.ts');
      return nearSecretNames(await primary.sdk('the not-found hint'), ids, signal);
    },
    close() {
      primary.destroy();
      failover?.destroy();
      lean?.http.destroy();
      lean?.direct.destroy();
    },
  };
}

/** What the clients of both regions share. */
interface SharedClientParts {
  readonly options: AwsSourceOptions;
  readonly env: Env;
  readonly fips: boolean;
  readonly credentials: CredentialProvider;
  /** The lean client's parts; undefined where the SDK serves every call. */
  readonly lean: LeanParts | undefined;
  readonly now: () => number;
  readonly requestTimeoutMs: number;
  readonly noteSdk: (reason: string) => void;
}

/**
 * One region's clients: the lean reads where an endpoint is known for the region (else the
 * SDK's), and the SDK's client for finds and hints, created at its first use.
 */
function regionClient(region: string | undefined, shared: SharedClientParts): RegionClient {
  const { options, credentials } = shared;
  const http = shared.lean?.http;
  // Where no region is set, the lean client's: AWS_REGION, as the SDK reads it.
  const signingRegion = region ?? shared.lean?.region;
  const config = {
    credentials,
    maxAttempts: SDK_MAX_ATTEMPTS,
    ...transportConfig({ ...options, requestTimeoutMs: shared.requestTimeoutMs }),
    ...(region === undefined ? {} : { region }),
  };
  const endpoint =
    http !== undefined && signingRegion !== undefined
      ? serviceEndpoint('secretsmanager', signingRegion, shared.fips, shared.env)
      : undefined;
  let sdk: Promise<SecretsManagerClient> | undefined;
  const sdkClient = (reason: string): Promise<SecretsManagerClient> => {
    shared.noteSdk(reason);
    return (sdk ??= import('./sdk.ts').then((m) =>
      m.secretsManagerClient(config, options.onApiCall),
    ));
  };
  const leanReads = (): SecretReads | undefined =>
    http === undefined || endpoint === undefined || signingRegion === undefined
      ? undefined
      : leanSecretReads({
          endpoint,
          region: signingRegion,
          credentials,
          http,
          onApiCall: options.onApiCall,
          now: shared.now,
        });
  let reads: Promise<SecretReads> | undefined;
  const target: RegionClient = {
    region,
    settings: { config, onApiCall: options.onApiCall },
    batch: newBatchState(),
    sdk: sdkClient,
    noteSdk: shared.noteSdk,
    reads: () =>
      (reads ??= Promise.resolve(leanReads()).then(
        async (lean) =>
          lean ??
          (await import('./sdk.ts')).sdkSecretReads(await sdkClient('Secrets Manager reads')),
      )),
    destroy() {
      void sdk?.then((client) => client.destroy()).catch(() => undefined);
      void target.parameters?.then((reader) => reader.destroy()).catch(() => undefined);
    },
  };
  return target;
}

/**
 * Resolves the shared credentials (cached until they near expiry; an exchange is bounded by
 * requestTimeout, the container endpoint by its own second). On failure every ref fails with
 * that error and no Secrets Manager call is made.
 */
async function resolveCredentials(
  credentials: CredentialProvider,
  refs: readonly SecretRef[],
  call: CallContext,
  containerCredentials: boolean | undefined,
): Promise<Map<string, Outcome> | undefined> {
  const all = (outcome: (ref: SecretRef) => Outcome): Map<string, Outcome> =>
    new Map(refs.map((ref) => [refKey(ref), outcome(ref)]));
  const left = call.deadline === undefined ? Infinity : call.deadline.at - call.now();
  if (left <= 0) return all((ref) => outOfTime(ref, call));
  let timer: NodeJS.Timeout | undefined;
  try {
    const resolving = credentials();
    if (left === Infinity) {
      await resolving;
      return undefined;
    }
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), left);
    });
    if ((await Promise.race([resolving, late])) !== 'late') return undefined;
    resolving.catch(() => undefined); // settles later; its result is cached or dropped
    return all((ref) => outOfTime(ref, call));
  } catch (err) {
    if (call.signal.aborted) throw err;
    return all((ref) => {
      const error = translateAwsError(err, `${describeRef(ref)}: credentials`);
      // A container credentials endpoint that fails is down or not up yet: worth waiting for.
      if (!error.retryable && containerCredentials === true && error.code === 'CREDENTIALS')
        return {
          ref,
          ok: false,
          error: new AgentError(error.code, error.message, { retryable: true, cause: error }),
        };
      return { ref, ok: false, error };
    });
  } finally {
    clearTimeout(timer);
  }
}

async function fetchFrom(
  target: RegionClient,
  refs: readonly SecretRef[],
  call: CallContext,
): Promise<Map<string, Outcome>> {
  const results = new Map<string, Outcome>();
  const parameters = refs.filter((r) => r.kind === 'parameter' || r.kind === 'path');
  if (parameters.length > 0) {
    target.noteSdk('parameters and paths');
    target.parameters ??= import('./ssm.ts').then((m) => m.createParameterReader(target.settings));
    for (const [key, outcome] of await (await target.parameters).read(parameters, call))
      results.set(key, outcome);
  }
  const finds = refs.filter((r) => r.kind === 'find');
  if (finds.length > 0) {
    const { readFinds } = await import('./find.ts');
    for (const [key, outcome] of await readFinds(await target.sdk('finds'), finds, call))
      results.set(key, outcome);
  }
  await readSecrets(
    refs.filter((r) => r.kind === undefined),
    {
      batch: (chunk, into) => batchGet(target, chunk, call, into),
      get: (ref) => getOne(target, ref, call),
    },
    target.batch,
    { now: call.now, random: call.random, logger: call.logger, region: target.region },
    results,
  );
  return results;
}

async function getOne(target: RegionClient, ref: SecretRef, call: CallContext): Promise<Outcome> {
  const budget = callBudget(call);
  if (budget <= 0) return outOfTime(ref, call);
  try {
    const reads = await target.reads();
    const out = await reads.getSecretValue(
      {
        SecretId: ref.id,
        ...(ref.versionStage === undefined ? {} : { VersionStage: ref.versionStage }),
        ...(ref.versionId === undefined ? {} : { VersionId: ref.versionId }),
      },
      { abortSignal: call.signal, requestTimeout: budget },
    );
    return valueOutcome(ref, out);
  } catch (err) {
    if (call.signal.aborted) throw err;
    return { ref, ok: false, error: callError(err, describeRef(ref), budget, call) };
  }
}

/**
 * Reads one chunk with BatchGetSecretValue; says when the call itself was denied or throttled
 * (the strategy then reads the chunk one by one).
 */
async function batchGet(
  target: RegionClient,
  chunk: readonly SecretRef[],
  call: CallContext,
  results: Map<string, Outcome>,
): Promise<BatchResult> {
  const answer = await readPages(target, chunk, call);
  if ('failed' in answer) {
    const { err, budget } = answer.failed;
    if (err === OUT_OF_TIME) {
      for (const ref of chunk) results.set(refKey(ref), outOfTime(ref, call));
      return 'answered';
    }
    const code = translateAwsError(err, 'BatchGetSecretValue').code;
    if (code === 'ACCESS_DENIED') return 'denied';
    if (code === 'THROTTLED') return 'throttled';
    for (const ref of chunk) {
      const error = callError(err, describeRef(ref), budget, call);
      results.set(refKey(ref), { ref, ok: false, error });
    }
    return 'answered';
  }
  for (const ref of chunk) {
    const entry = answer.values.find((v) => matchesId(v, ref.id));
    const error = answer.errors.get(ref.id);
    if (entry !== undefined) results.set(refKey(ref), valueOutcome(ref, entry));
    else if (error !== undefined) results.set(refKey(ref), { ref, ok: false, error });
    else {
      results.set(refKey(ref), {
        ref,
        ok: false,
        error: translateBatchEntry(
          'ResourceNotFoundException',
          'missing from the BatchGetSecretValue answer',
          describeRef(ref),
        ),
      });
    }
  }
  return 'answered';
}

const OUT_OF_TIME = Symbol('out of time');

type BatchAnswer =
  | { readonly values: SecretAnswer[]; readonly errors: Map<string, AgentError> }
  | { readonly failed: { readonly err: unknown; readonly budget: number } };

/**
 * One chunk's answer. Secrets Manager answers a list of ids in one page; should it split one,
 * each further page is one more call, and a page must answer at least one id (so never more
 * calls than ids).
 */
async function readPages(
  target: RegionClient,
  chunk: readonly SecretRef[],
  call: CallContext,
): Promise<BatchAnswer> {
  const values: SecretAnswer[] = [];
  const errors = new Map<string, AgentError>();
  let nextToken: string | undefined;
  for (let page = 0; page < chunk.length; page++) {
    const budget = callBudget(call);
    if (budget <= 0) return { failed: { err: OUT_OF_TIME, budget } };
    let out: BatchPage;
    try {
      const reads = await target.reads();
      out = await reads.batchGetSecretValue(
        {
          SecretIdList: chunk.map((r) => r.id),
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        },
        { abortSignal: call.signal, requestTimeout: budget },
      );
    } catch (err) {
      if (call.signal.aborted) throw err;
      return { failed: { err, budget } };
    }
    const answered = collectPage(out, values, errors);
    nextToken = out.NextToken;
    if (nextToken === undefined || nextToken === '' || answered === 0) break;
  }
  return { values, errors };
}

/** Adds a page's values and per-secret errors; returns how many ids it answered. */
function collectPage(
  out: BatchPage,
  values: SecretAnswer[],
  errors: Map<string, AgentError>,
): number {
  const pageValues = out.SecretValues ?? [];
  const pageErrors = out.Errors ?? [];
  values.push(...pageValues);
  for (const e of pageErrors) {
    if (e.SecretId === undefined) continue;
    errors.set(e.SecretId, translateBatchEntry(e.ErrorCode, e.Message, `secret ${e.SecretId}`));
  }
  return pageValues.length + pageErrors.length;
}

/** A requested id is a name, a full ARN, or a partial ARN (the ARN without its 6-character suffix). */
export function matchesId(
  entry: { readonly Name?: string | undefined; readonly ARN?: string | undefined },
  id: string,
): boolean {
  if (entry.Name === id || entry.ARN === id) return true;
  const arn = entry.ARN;
  return (
    arn !== undefined &&
    id.startsWith('arn:') &&
    arn.length === id.length + 7 &&
    arn.startsWith(`${id}-`)
  );
}

/** A ref's outcome from an answer: its value, or VALUE_INVALID for this ref alone. */
function valueOutcome(ref: SecretRef, out: SecretAnswer): Outcome {
  const value = valueOrError(out);
  return value instanceof AgentError ? { ref, ok: false, error: value } : { ref, ok: true, value };
}

/**
 * A debug line the first time the SDK is loaded for each reason: what explains a pod's larger
 * start-up and memory (a find, a parameter, a profile).
 */
function sdkNotes(logger: Logger): (reason: string) => void {
  const said = new Set<string>();
  return (reason) => {
    if (said.has(reason)) return;
    said.add(reason);
    logger.debug('loading the AWS SDK', { for: reason });
  };
}

/** The lean chain's connections and region. */
interface LeanParts {
  readonly http: HttpClient;
  /** Without the proxy: the container credentials endpoint is on the node. */
  readonly direct: HttpClient;
  readonly region: string;
}

/**
 * The one credential provider: the lean chain where it serves (falling back to the SDK's for
 * the links it lacks), else the SDK's default chain; the SDK loaded only when asked.
 */
function sharedCredentials(
  options: AwsSourceOptions,
  env: Env,
  fips: boolean,
  lean: LeanParts | undefined,
  noteSdk: (reason: string) => void,
): CredentialProvider {
  let sdk: Promise<CredentialProvider> | undefined;
  const fallback = (): Promise<CredentialProvider> => {
    noteSdk('credentials');
    return (sdk ??= import('./sdk-credentials.ts').then((m) =>
      m.sdkCredentials({ ...options, container: CONTAINER_CREDENTIALS }),
    ));
  };
  if (lean === undefined) return async () => (await fallback())();
  return leanCredentials({
    env,
    region: lean.region,
    useFipsEndpoint: fips,
    http: lean.http,
    direct: lean.direct,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    container: CONTAINER_CREDENTIALS,
    onApiCall: options.onApiCall,
    fallback,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}
