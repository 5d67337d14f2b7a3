/** The STS endpoint: form-encoded `Action=...` (query protocol), XML answers. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError } from './aws-error.ts';
import { enactFaults } from './faults.ts';
import type { RequestRecord } from './request-log.ts';
import { authenticateRequest, type DevState, finish } from './state.ts';
import {
  type StsAnswer,
  assumeRoleWithWebIdentity,
  getCallerIdentity,
  stsAuthError,
  stsErrorXml,
} from './sts.ts';
import { sendXml } from './wire.ts';

type Draft = { -readonly [K in keyof RequestRecord]: RequestRecord[K] };

/** Form body and query string together, as the query protocol allows either. */
export function stsParams(req: IncomingMessage, body: Buffer): URLSearchParams {
  const params = new URLSearchParams(new URL(req.url ?? '/', 'http://localhost').search);
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v);
  return params;
}

export async function handleSts(
  state: DevState,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const startedAt = Date.now();
  const requestId = randomUUID();
  const params = stsParams(req, body);
  const draft: Draft = {
    requestId,
    time: new Date(startedAt).toISOString(),
    service: 'sts',
    operation: params.get('Action') ?? '',
    secretIds: [],
    region: undefined,
    accessKeyId: undefined,
    roleArn: undefined,
    outcome: 'ok',
    status: 200,
    faults: [],
  };
  try {
    const answer = await serve(state, req, body, params, draft);
    if (answer !== undefined) sendXml(res, requestId, 200, answer.xml);
  } catch (err) {
    if (!(err instanceof AwsError)) {
      state.logger.error('internal error', {
        requestId,
        operation: draft.operation,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    const awsErr =
      err instanceof AwsError
        ? err
        : new AwsError('InternalFailure', 'An internal error occurred.', 500);
    draft.outcome = awsErr.code;
    draft.status = awsErr.status;
    sendXml(res, requestId, awsErr.status, stsErrorXml(awsErr, requestId));
  }
  finish(state, draft, startedAt);
}

/** The answer, or undefined when a fault dropped the connection. Throws AwsError. */
async function serve(
  state: DevState,
  req: IncomingMessage,
  body: Buffer,
  params: URLSearchParams,
  draft: Draft,
): Promise<StsAnswer | undefined> {
  const action = draft.operation;
  if (action === '') throw new AwsError('MissingAction', 'Missing Action');
  if (action !== 'AssumeRoleWithWebIdentity' && action !== 'GetCallerIdentity') {
    throw new AwsError(
      'InvalidAction',
      `Could not find operation ${action} for version ${params.get('Version') ?? 'NO_VERSION_SPECIFIED'}`,
    );
  }
  const principal =
    action === 'GetCallerIdentity' ? callerIdentity(state, req, body, draft) : undefined;
  if (await applyFaults(state, req, draft)) return undefined;
  const ctx = {
    credentials: state.credentials,
    accountId: state.store.accountId,
    config: state.sts,
    now: state.store.now,
  };
  if (principal !== undefined)
    return { xml: getCallerIdentity(principal, state.store.accountId, draft.requestId) };
  const answer = assumeRoleWithWebIdentity(params, ctx, draft.requestId);
  draft.roleArn = answer.roleArn;
  draft.accessKeyId = answer.accessKeyId;
  return answer;
}

/** Who signed a GetCallerIdentity request, as STS tells it. */
function callerIdentity(
  state: DevState,
  req: IncomingMessage,
  body: Buffer,
  draft: Draft,
): { arn: string; userId: string } {
  const caller = authenticateRequest(state, req, body, draft, stsAuthError);
  return { arn: caller.principalArn, userId: caller.accessKeyId ?? 'dev' };
}

async function applyFaults(state: DevState, req: IncomingMessage, draft: Draft): Promise<boolean> {
  const faults = state.faults.take({
    operation: draft.operation,
    region: draft.region,
    secretNames: [],
  });
  draft.faults = faults.map((f) => f.kind);
  const result = await enactFaults(faults, req, draft, 'sts', state.closing);
  if (result instanceof AwsError) throw result;
  return result === 'dropped';
}
