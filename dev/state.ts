/** Everything the endpoints share, and the one place a finished request is logged and recorded. */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../common/log.ts';
import {
  AuthFailure,
  type AuthFailureKind,
  type Caller,
  type CredentialRegistry,
} from './credentials.ts';
import type { FaultRegistry } from './faults.ts';
import type { RequestLog, RequestRecord } from './request-log.ts';
import type { ParameterStore } from './parameters.ts';
import type { SecretStore } from './store.ts';
import type { StsConfig } from './sts.ts';

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
): Caller {
  try {
    const { caller, region } = state.credentials.authenticate({
      method: req.method ?? 'POST',
      url: req.url ?? '/',
      headers: req.headers,
      body,
    });
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
