/** Everything the endpoints share, and the one place a finished request is logged and recorded. */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../common/log.ts';
import {
  AuthFailure,
  type AuthFailureKind,
  type Caller,
  type CredentialRegistry,
} from './credentials.ts';
import { AwsError } from './aws-error.ts';
import type { FaultRegistry } from './faults.ts';
import type { RequestLog, RequestRecord } from './request-log.ts';
import type { ParameterStore } from './parameters.ts';
import type { QuotaModel } from './quota.ts';
import type { SecretStore } from './store.ts';

/** The STS endpoint's settings. */
export interface StsConfig {
  /** Accepted `aud` values; any audience when absent. */
  readonly audiences?: readonly string[];
}

export interface DevState {
  readonly store: SecretStore;
  readonly parameters: ParameterStore;
  readonly faults: FaultRegistry;
  readonly requests: RequestLog;
  readonly credentials: CredentialRegistry;
  readonly sts: StsConfig;
  readonly defaultRegion: string;
  readonly logger: Logger;
  /** Aborted when the server closes: pending injected latency ends at once. */
  readonly closing: AbortSignal;
  /** How injected latency is waited out (DevServerOptions.sleep). */
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<unknown>;
  /** AWS's request quotas, when enforced (`--quotas`). */
  readonly quotas?: QuotaModel;
  /** The clock the quotas read (epoch ms). */
  readonly now: () => number;
}

/** A request's record while it is answered: the endpoint fills it in, `finish` records it. */
export type RequestDraft = { -readonly [K in keyof RequestRecord]: RequestRecord[K] };

/** The record of a request just received: no caller known yet, answered 200 unless it fails. */
export function requestDraft(
  requestId: string,
  startedAt: number,
  service: RequestRecord['service'],
  operation: string,
): RequestDraft {
  return {
    requestId,
    time: new Date(startedAt).toISOString(),
    service,
    operation,
    secretIds: [],
    region: undefined,
    accessKeyId: undefined,
    roleArn: undefined,
    outcome: 'ok',
    status: 200,
    faults: [],
  };
}

/**
 * Answers one request and records it, whatever the protocol: `work` gives the answer (undefined
 * when a fault dropped the connection) or throws an AwsError; anything else it throws is logged
 * and answered as the service's `internal` error.
 */
export async function answerRequest<T>(
  state: DevState,
  draft: RequestDraft,
  startedAt: number,
  protocol: {
    readonly work: () => Promise<T | undefined>;
    readonly ok: (answer: T) => void;
    readonly fail: (error: AwsError) => void;
    readonly internal: () => AwsError;
  },
): Promise<void> {
  try {
    const answer = await protocol.work();
    if (answer !== undefined) protocol.ok(answer);
  } catch (err) {
    if (!(err instanceof AwsError)) {
      state.logger.error('internal error', {
        requestId: draft.requestId,
        operation: draft.operation,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    const error = err instanceof AwsError ? err : protocol.internal();
    draft.outcome = error.code;
    draft.status = error.status;
    protocol.fail(error);
  }
  finish(state, draft, startedAt);
}

/** Logs names and outcomes only: a record never carries a secret value. */
export function finish(state: DevState, record: RequestRecord, startedAt: number): void {
  state.requests.add(record);
  const fields = {
    requestId: record.requestId,
    service: record.service,
    operation: record.operation,
    secretIds: record.secretIds,
    region: record.region,
    accessKeyId: record.accessKeyId,
    roleArn: record.roleArn,
    outcome: record.outcome,
    status: record.status,
    ...(record.faults.length === 0 ? {} : { faults: record.faults }),
    ...(record.secretErrors === undefined ? {} : { secretErrors: record.secretErrors }),
    ms: Date.now() - startedAt,
  };
  state.logger.info('request', fields);
}

/** The fields of a request's record that authentication fills in. */
interface AuthDraft {
  region: string | undefined;
  accessKeyId: string | undefined;
  roleArn: string | undefined;
}

/**
 * Authenticates a signed request (SigV4) and records who made it. A failure is thrown as the
 * protocol's own error (`toError`).
 */
export function authenticateRequest(
  state: DevState,
  req: IncomingMessage,
  body: Buffer,
  draft: AuthDraft,
  toError: (kind: AuthFailureKind) => Error,
  service: string,
): Caller {
  try {
    const { caller, region } = state.credentials.authenticate(
      { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body },
      service,
    );
    draft.region = region;
    draft.accessKeyId = caller.accessKeyId;
    draft.roleArn = caller.roleArn;
    return caller;
  } catch (err) {
    if (!(err instanceof AuthFailure)) throw err;
    draft.accessKeyId = err.accessKeyId;
    throw toError(err.kind);
  }
}
