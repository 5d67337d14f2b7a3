/** The provider boundary: what the agent asks of a secret store, with typed errors. */
import type { AgentError } from '../../common/errors.ts';
import type { SecretValue } from '../types.ts';

/** One secret to read: the same ref named twice is fetched once. */
export interface SecretRef {
  readonly id: string;
  readonly versionStage?: string;
  readonly versionId?: string;
}

export type FetchOutcome =
  | { readonly ref: SecretRef; readonly ok: true; readonly value: SecretValue }
  | { readonly ref: SecretRef; readonly ok: false; readonly error: AgentError };

/** When the caller gives up: no call starts after `at` (ms since the epoch), none runs past it. */
export interface Deadline {
  readonly at: number;
  /** What the deadline is, for messages (`initTimeout`). */
  readonly name: string;
}

export interface SecretSource {
  /**
   * Reads every ref, each call once (retrying is the caller's business); one outcome per
   * distinct ref (see refKey), never a rejected promise for a per-secret failure.
   */
  fetch(
    refs: readonly SecretRef[],
    signal: AbortSignal,
    deadline?: Deadline,
  ): Promise<ReadonlyMap<string, FetchOutcome>>;
  close(): void;
}

/** The identity of a ref: what makes two refs the same read. */
export function refKey(ref: SecretRef): string {
  return JSON.stringify([ref.id, ref.versionStage ?? 'AWSCURRENT', ref.versionId ?? null]);
}

/** BatchGetSecretValue returns the current version only: pinned stages and ids need GetSecretValue. */
export function isBatchable(ref: SecretRef): boolean {
  return ref.versionId === undefined && (ref.versionStage ?? 'AWSCURRENT') === 'AWSCURRENT';
}
