/**
 * The Secrets Manager adapter: the only module that imports `@aws-sdk/*`. It batches reads
 * (BatchGetSecretValue, 20 ids a call), falls back to GetSecretValue where the batch call is
 * denied or a version is pinned, and tries the failover region on errors that another region
 * may not have (throttling, 5xx, network).
 */
import {
  BatchGetSecretValueCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
  type SecretValueEntry,
} from '@aws-sdk/client-secrets-manager';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { Pluggable } from '@smithy/types';
import type { AgentError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { SecretValue } from '../types.ts';
import { callOutcome, translateAwsError, translateBatchEntry, type CallOutcome } from './errors.ts';
import {
  isBatchable,
  refKey,
  type FetchOutcome,
  type SecretRef,
  type SecretSource,
} from './source.ts';

export const BATCH_LIMIT = 20;
const GET_CONCURRENCY = 8;
/** After the batch call is denied, try it again this much later (the policy may have changed). */
const BATCH_DENIED_RETRY_MS = 60 * 60_000;

export interface AwsSourceOptions {
  readonly region?: string;
  readonly failoverRegion?: string;
  readonly logger: Logger;
  /** Called once per HTTP attempt, retries included: what the user pays for. */
  readonly onApiCall: (operation: string, outcome: CallOutcome) => void;
  readonly requestTimeoutMs?: number;
  readonly maxAttempts?: number;
  readonly now?: () => number;
}

/**
 * Counts every attempt the SDK makes: the deserialize step runs once per attempt (inside the
 * retry loop), and high priority wraps the deserializer, so modelled AWS errors are seen.
 */
function countingPlugin<I extends object, O extends object>(
  onApiCall: AwsSourceOptions['onApiCall'],
): Pluggable<I, O> {
  return {
    applyToStack(stack) {
      stack.add(
        (next, context) => async (args) => {
          const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
          try {
            const result = await next(args);
            onApiCall(operation, 'success');
            return result;
          } catch (err) {
            onApiCall(operation, callOutcome(err));
            throw err;
          }
        },
        { step: 'deserialize', name: 'secretsAgentCallCounter', priority: 'high' },
      );
    },
  };
}

interface RegionClient {
  readonly region: string | undefined;
  readonly client: SecretsManagerClient;
  batchDeniedUntil: number;
}

export function createAwsSource(options: AwsSourceOptions): SecretSource {
  const now = options.now ?? Date.now;
  // One credential provider for both regions: one STS exchange, one cache.
  const credentials = fromNodeProviderChain({
    clientConfig: options.region === undefined ? {} : { region: options.region },
    clientPlugins: [countingPlugin(options.onApiCall)],
  });
  const makeClient = (region: string | undefined): RegionClient => {
    const client = new SecretsManagerClient({
      credentials,
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: {
        requestTimeout: options.requestTimeoutMs ?? 10_000,
        // Without this the SDK only warns when the timeout passes, and keeps waiting.
        throwOnRequestTimeout: true,
        connectionTimeout: 5_000,
      },
      ...(region === undefined ? {} : { region }),
    });
    client.middlewareStack.use(countingPlugin(options.onApiCall));
    return { region, client, batchDeniedUntil: 0 };
  };
  const primary = makeClient(options.region);
  const failover =
    options.failoverRegion === undefined ? undefined : makeClient(options.failoverRegion);

  return {
    async fetch(refs, signal) {
      const unique = new Map<string, SecretRef>();
      for (const ref of refs) unique.set(refKey(ref), ref);
      const results = await fetchFrom(primary, [...unique.values()], signal, options.logger, now);
      if (failover !== undefined) {
        const retry = [...results.values()]
          .filter((r) => !r.ok && r.error.retryable)
          .map((r) => r.ref);
        if (retry.length > 0) {
          options.logger.warn('trying the failover region', {
            region: failover.region,
            secrets: retry.map((r) => r.id),
          });
          const second = await fetchFrom(failover, retry, signal, options.logger, now);
          for (const [key, outcome] of second) if (outcome.ok) results.set(key, outcome);
        }
      }
      return results;
    },
    close() {
      primary.client.destroy();
      failover?.client.destroy();
    },
  };
}

async function fetchFrom(
  target: RegionClient,
  refs: readonly SecretRef[],
  signal: AbortSignal,
  logger: Logger,
  now: () => number,
): Promise<Map<string, FetchOutcome>> {
  const results = new Map<string, FetchOutcome>();
  const batchable = target.batchDeniedUntil > now() ? [] : refs.filter(isBatchable);
  const single = refs.filter((r) => !batchable.includes(r));
  for (let i = 0; i < batchable.length; i += BATCH_LIMIT) {
    const chunk = batchable.slice(i, i + BATCH_LIMIT);
    const denied = await batchGet(target, chunk, signal, results);
    if (denied) {
      target.batchDeniedUntil = now() + BATCH_DENIED_RETRY_MS;
      logger.warn('BatchGetSecretValue is denied; reading secrets one by one with GetSecretValue', {
        region: target.region,
      });
      single.push(...batchable.slice(i));
      break;
    }
  }
  await mapLimit(single, GET_CONCURRENCY, async (ref) => {
    results.set(refKey(ref), await getOne(target, ref, signal));
  });
  return results;
}

function describeRef(ref: SecretRef): string {
  if (ref.versionId !== undefined) return `secret ${ref.id} (version ${ref.versionId})`;
  if (ref.versionStage !== undefined) return `secret ${ref.id} (stage ${ref.versionStage})`;
  return `secret ${ref.id}`;
}

async function getOne(
  target: RegionClient,
  ref: SecretRef,
  signal: AbortSignal,
): Promise<FetchOutcome> {
  try {
    const out = await target.client.send(
      new GetSecretValueCommand({
        SecretId: ref.id,
        ...(ref.versionStage === undefined ? {} : { VersionStage: ref.versionStage }),
        ...(ref.versionId === undefined ? {} : { VersionId: ref.versionId }),
      }),
      { abortSignal: signal },
    );
    return { ref, ok: true, value: toValue(out) };
  } catch (err) {
    if (signal.aborted) throw err;
    return { ref, ok: false, error: translateAwsError(err, describeRef(ref)) };
  }
}

/** Reads one chunk with BatchGetSecretValue; returns true when the call itself was denied. */
async function batchGet(
  target: RegionClient,
  chunk: readonly SecretRef[],
  signal: AbortSignal,
  results: Map<string, FetchOutcome>,
): Promise<boolean> {
  const values: SecretValueEntry[] = [];
  const errors = new Map<string, AgentError>();
  let nextToken: string | undefined;
  try {
    do {
      const out = await target.client.send(
        new BatchGetSecretValueCommand({
          SecretIdList: chunk.map((r) => r.id),
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        }),
        { abortSignal: signal },
      );
      values.push(...(out.SecretValues ?? []));
      for (const e of out.Errors ?? []) {
        if (e.SecretId !== undefined) {
          errors.set(
            e.SecretId,
            translateBatchEntry(e.ErrorCode, e.Message, `secret ${e.SecretId}`),
          );
        }
      }
      nextToken = out.NextToken;
    } while (nextToken !== undefined && nextToken !== '');
  } catch (err) {
    if (signal.aborted) throw err;
    const error = translateAwsError(err, 'BatchGetSecretValue');
    if (error.code === 'ACCESS_DENIED') return true;
    for (const ref of chunk) {
      results.set(refKey(ref), { ref, ok: false, error: translateAwsError(err, describeRef(ref)) });
    }
    return false;
  }
  for (const ref of chunk) {
    const entry = values.find((v) => matchesId(v, ref.id));
    const error = errors.get(ref.id);
    if (entry !== undefined) results.set(refKey(ref), { ref, ok: true, value: toValue(entry) });
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
  return false;
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

function toValue(out: {
  readonly ARN?: string | undefined;
  readonly VersionId?: string | undefined;
  readonly SecretString?: string | undefined;
  readonly SecretBinary?: Uint8Array | undefined;
}): SecretValue {
  return {
    arn: out.ARN ?? '',
    versionId: out.VersionId ?? '',
    ...(out.SecretString === undefined ? {} : { string: out.SecretString }),
    ...(out.SecretBinary === undefined ? {} : { binary: out.SecretBinary }),
  };
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
