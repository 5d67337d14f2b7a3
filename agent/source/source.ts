/** The provider boundary: what the agent asks of a secret store, with typed errors. */
import type { AgentError } from '../../common/errors.ts';
import type { SecretValue } from '../types.ts';

/**
 * One read: a Secrets Manager secret (no kind), an SSM parameter, every parameter under an SSM
 * path, or every secret whose name starts with a prefix (find). The same ref named twice is
 * fetched once.
 */
export interface SecretRef {
  readonly kind?: 'parameter' | 'path' | 'find';
  /** The secret id, parameter name, path or name prefix. */
  readonly id: string;
  readonly versionStage?: string;
  readonly versionId?: string;
  /** find: only secrets with this tag. */
  readonly tag?: { readonly key: string; readonly value: string };
}

/** One item of a directory source: its path below the directory, and its value. */
export interface DirectoryItem {
  readonly path: string;
  readonly value: SecretValue;
}

export type FetchOutcome =
  | { readonly ref: SecretRef; readonly ok: true; readonly value: SecretValue }
  | { readonly ref: SecretRef; readonly ok: true; readonly items: readonly DirectoryItem[] }
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
  /**
   * For Secrets Manager ids that were not found: names the identity can see that are near
   * each (near-names.ts: one bounded call). Rejects when listing is not allowed.
   */
  nearNames?(
    ids: readonly string[],
    signal: AbortSignal,
  ): Promise<ReadonlyMap<string, readonly string[]>>;
  close(): void;
}

/** The identity of a ref: what makes two refs the same read. */
export function refKey(ref: SecretRef): string {
  if (ref.kind !== undefined)
    return JSON.stringify([ref.kind, ref.id, ref.tag?.key ?? null, ref.tag?.value ?? null]);
  return JSON.stringify([ref.id, ref.versionStage ?? 'AWSCURRENT', ref.versionId ?? null]);
}

/** BatchGetSecretValue returns the current version only: pinned stages and ids need GetSecretValue. */
export function isBatchable(ref: SecretRef): boolean {
  return (
    ref.kind === undefined &&
    ref.versionId === undefined &&
    (ref.versionStage ?? 'AWSCURRENT') === 'AWSCURRENT'
  );
}

/**
 * Pages one directory source may read before it is an error: enough for its most items at full
 * pages, plus a few short ones (a page may answer fewer items than it could, and still go on).
 */
export function maxPages(items: number, pageSize: number): number {
  return Math.ceil(items / pageSize) + SHORT_PAGES;
}
const SHORT_PAGES = 10;

/** What a ref reads, for messages: `secret x`, `parameter /a/b`, `path /a/`, `find app/`. */
export function describeRef(ref: SecretRef): string {
  if (ref.kind === 'find')
    return ref.tag === undefined
      ? `find ${ref.id}`
      : `find ${ref.id} (tag ${ref.tag.key}=${ref.tag.value})`;
  if (ref.kind !== undefined) return `${ref.kind} ${ref.id}`;
  if (ref.versionId !== undefined) return `secret ${ref.id} (version ${ref.versionId})`;
  if (ref.versionStage !== undefined) return `secret ${ref.id} (stage ${ref.versionStage})`;
  return `secret ${ref.id}`;
}
