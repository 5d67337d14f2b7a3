/**
 * Which Secrets Manager call reads which secret, decided per region, the same for the AWS adapter
 * (aws.ts) and the fleet simulation (bench/fleet.ts), which gives it simulated calls.
 *
 * BatchGetSecretValue reads 20 secrets a call: the cheapest way (AWS bills per call). But its
 * quota is 100 calls a second per account and region, not adjustable, shared by every pod and
 * tool in the account; GetSecretValue's is 10,000. So: batch while the batch call is answered;
 * when it is throttled, read that chunk at once with GetSecretValue (no wait, no failed read),
 * and keep to GetSecretValue for a jittered cool-down before trying the batch call again. A
 * fleet over the batch quota thus sheds its overflow onto the quota that has room, instead of
 * retrying into the wall; a fleet under it pays for one call per 20 secrets. Secrets the batch
 * call cannot read (a pinned version or stage) always go one by one.
 */
import type { Logger } from '../../common/log.ts';
import { isBatchable, refKey, type SecretRef } from './source.ts';
import type { FetchOutcome } from './source.ts';

export const BATCH_LIMIT = 20;
export const GET_CONCURRENCY = 8;
/** After the batch call is denied, try it again this much later (the policy may have changed). */
export const BATCH_DENIED_RETRY_MS = 60 * 60_000;
/**
 * After the batch call is throttled, read one by one for 5 to 15 minutes (uniformly): long
 * enough for the pods that were throttled together to leave the batch quota to the others, and
 * spread so they do not come back together.
 */
export const BATCH_THROTTLED_COOL_DOWN = { minMs: 5 * 60_000, maxMs: 15 * 60_000 } as const;

export type ChunkOutcome = FetchOutcome & { readonly outOfTime?: boolean };

/** What one batch call did: answered (outcomes set), or denied or throttled as a whole. */
export type BatchResult = 'answered' | 'denied' | 'throttled';

/** The calls themselves: AWS's (aws.ts) or the simulation's. */
export interface SecretCalls {
  /** One BatchGetSecretValue of up to BATCH_LIMIT refs; sets their outcomes when answered. */
  batch(chunk: readonly SecretRef[], results: Map<string, ChunkOutcome>): Promise<BatchResult>;
  get(ref: SecretRef): Promise<ChunkOutcome>;
}

/** Per region: until when the batch call is not used. */
export interface BatchState {
  batchDeniedUntil: number;
  batchThrottledUntil: number;
}

export function newBatchState(): BatchState {
  return { batchDeniedUntil: 0, batchThrottledUntil: 0 };
}

export interface StrategyContext {
  readonly now: () => number;
  readonly random: () => number;
  readonly logger: Logger;
  readonly region: string | undefined;
}

/** Reads Secrets Manager refs (no `kind`) into `results`, each call once. */
export async function readSecrets(
  refs: readonly SecretRef[],
  calls: SecretCalls,
  state: BatchState,
  ctx: StrategyContext,
  results: Map<string, ChunkOutcome>,
): Promise<void> {
  const now = ctx.now();
  const batching = state.batchDeniedUntil <= now && state.batchThrottledUntil <= now;
  const batchable = batching ? refs.filter(isBatchable) : [];
  const single = refs.filter((r) => !batchable.includes(r));
  for (let i = 0; i < batchable.length; i += BATCH_LIMIT) {
    const chunk = batchable.slice(i, i + BATCH_LIMIT);
    const result = await calls.batch(chunk, results);
    if (result === 'answered') continue;
    if (result === 'denied') {
      state.batchDeniedUntil = ctx.now() + BATCH_DENIED_RETRY_MS;
      ctx.logger.warn(
        'BatchGetSecretValue is denied; reading secrets one by one with GetSecretValue',
        { region: ctx.region },
      );
    } else {
      const { minMs, maxMs } = BATCH_THROTTLED_COOL_DOWN;
      const coolDownMs = Math.round(minMs + ctx.random() * (maxMs - minMs));
      state.batchThrottledUntil = ctx.now() + coolDownMs;
      ctx.logger.info(
        'BatchGetSecretValue is throttled; reading secrets one by one with GetSecretValue',
        { region: ctx.region, forMs: coolDownMs },
      );
    }
    single.push(...batchable.slice(i));
    break;
  }
  await mapLimit(single, GET_CONCURRENCY, async (ref) => {
    results.set(refKey(ref), await calls.get(ref));
  });
}

export async function mapLimit<T>(
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
