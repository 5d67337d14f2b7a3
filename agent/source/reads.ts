/**
 * Secrets Manager's two reads as aws.ts makes them, whichever client answers: the lean one
 * (lean/secrets-manager.ts, no SDK) or the SDK's (sdk.ts, loaded only when needed). Answers
 * come in the SDK's output shapes.
 */
import type { SecretAnswer } from './call.ts';

export interface ReadOptions {
  readonly abortSignal: AbortSignal;
  /** This call's time budget, in ms. */
  readonly requestTimeout: number;
}

export interface GetInput {
  readonly SecretId: string;
  readonly VersionStage?: string;
  readonly VersionId?: string;
}

export interface BatchInput {
  readonly SecretIdList: readonly string[];
  readonly NextToken?: string;
}

export interface BatchEntryError {
  readonly SecretId?: string | undefined;
  readonly ErrorCode?: string | undefined;
  readonly Message?: string | undefined;
}

export interface BatchPage {
  readonly SecretValues?: readonly SecretAnswer[] | undefined;
  readonly Errors?: readonly BatchEntryError[] | undefined;
  readonly NextToken?: string | undefined;
}

export interface SecretReads {
  getSecretValue(input: GetInput, options: ReadOptions): Promise<SecretAnswer>;
  batchGetSecretValue(input: BatchInput, options: ReadOptions): Promise<BatchPage>;
}
