/**
 * What every AWS read shares, whichever service it goes to (aws.ts: Secrets Manager, find.ts:
 * finds, ssm.ts: SSM): the per-fetch call context, its time budget and errors, the call
 * counter, and the value a read resolves to. It imports none of the readers, so they import it
 * and not each other: no cycle among them.
 */
import type { SecretValue } from '../types.ts';
import type { Logger } from '../../common/log.ts';
import type { Pluggable } from '@smithy/types';
import { AgentError } from '../../common/errors.ts';
import { callOutcome, translateAwsError, type CallOutcome } from './errors.ts';
import { describeRef, type Deadline, type FetchOutcome, type SecretRef } from './source.ts';
import { checkSecretAnswer, isValueInvalid } from './upstream.ts';

/** One attempt per SDK call, STS's included: the agent's loop is the one retry layer. */
export const SDK_MAX_ATTEMPTS = 1;

/** Called once per call sent (the agent's retries are new calls): what the user pays for. */
export type OnApiCall = (operation: string, outcome: CallOutcome) => void;

/**
 * Counts every call sent: the deserialize step runs once per attempt (the SDK makes one), and
 * high priority wraps the deserializer, so modelled AWS errors are seen.
 */
export function countingPlugin<I extends object, O extends object>(
  onApiCall: OnApiCall,
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

/** What a client of another AWS service needs to share this source's credentials and rules. */
export interface ClientSettings {
  readonly config: Record<string, unknown>;
  readonly onApiCall: OnApiCall;
}

/** The reader of SSM parameters and paths in one region (ssm.ts). */
export interface ParameterReader {
  read(refs: readonly SecretRef[], call: CallContext): Promise<Map<string, Outcome>>;
  destroy(): void;
}

/** What every call of one fetch shares. */
export interface CallContext {
  readonly signal: AbortSignal;
  readonly deadline: Deadline | undefined;
  readonly now: () => number;
  readonly random: () => number;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
}

export type Outcome = FetchOutcome & { readonly outOfTime?: boolean };

/** The time a call may take: requestTimeout, or what is left before the deadline. */
export function callBudget(call: CallContext): number {
  if (call.deadline === undefined) return call.requestTimeoutMs;
  return Math.min(call.requestTimeoutMs, call.deadline.at - call.now());
}

/** A ref not read because the deadline passed first. */
export function outOfTime(ref: SecretRef, call: CallContext): Outcome {
  return {
    ref,
    ok: false,
    outOfTime: true,
    error: new AgentError(
      'AWS_UNAVAILABLE',
      `${describeRef(ref)}: not read: ${call.deadline?.name ?? 'the deadline'} ran out first`,
      { retryable: true },
    ),
  };
}

/** A call's error, naming the deadline when it is what cut the call short. */
export function callError(
  err: unknown,
  context: string,
  budgetMs: number,
  call: CallContext,
): AgentError {
  const error = translateAwsError(err, context);
  if (
    call.deadline !== undefined &&
    budgetMs < call.requestTimeoutMs &&
    call.now() >= call.deadline.at &&
    (err as { name?: unknown }).name === 'TimeoutError'
  ) {
    return new AgentError(
      error.code,
      `${context}: TimeoutError: no answer within the ${budgetMs} ms left before ${call.deadline.name}`,
      { retryable: true, cause: error },
    );
  }
  return error;
}

/** A Secrets Manager answer's fields that make a value. */
export type SecretAnswer = {
  readonly ARN?: string | undefined;
  readonly Name?: string | undefined;
  readonly VersionId?: string | undefined;
  readonly SecretString?: string | undefined;
  readonly SecretBinary?: Uint8Array | undefined;
  readonly VersionStages?: string[] | undefined;
  readonly CreatedDate?: Date | undefined;
};

/** A secret's value as kept, once checked against what AWS can answer; throws VALUE_INVALID. */
export function toValue(out: SecretAnswer): SecretValue {
  checkSecretAnswer(out.Name ?? out.ARN ?? 'a secret', out);
  return {
    arn: out.ARN ?? '',
    versionId: out.VersionId ?? '',
    ...(out.Name === undefined ? {} : { name: out.Name }),
    ...(out.VersionStages === undefined ? {} : { versionStages: [...out.VersionStages] }),
    ...(out.CreatedDate === undefined ? {} : { createdDate: out.CreatedDate.getTime() / 1000 }),
    ...(out.SecretString === undefined ? {} : { string: out.SecretString }),
    ...(out.SecretBinary === undefined ? {} : { binary: out.SecretBinary }),
  };
}

/** An answer's value, or the VALUE_INVALID error that refuses it. */
export function valueOrError(out: SecretAnswer): SecretValue | AgentError {
  try {
    return toValue(out);
  } catch (err) {
    if (isValueInvalid(err)) return err;
    throw err;
  }
}
