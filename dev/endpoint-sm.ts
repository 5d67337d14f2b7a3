/** The Secrets Manager endpoint: `POST /` with `X-Amz-Target: secretsmanager.<Operation>`. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AccessPolicy, type Caller } from './access.ts';
import { AwsError } from './aws-error.ts';
import { type Fault, enactFaults, faultError } from './faults.ts';
import { type JsonObject, parseJsonBody } from './input.ts';
import type { RequestRecord } from './request-log.ts';
import { SM_OPERATIONS, SM_TARGET_PREFIX, secretIdsOf } from './secretsmanager.ts';
import type { SmContext } from './sm-common.ts';
import { authenticateRequest, type DevState, finish } from './state.ts';
import { jsonAuthError, sendAwsJson, sendAwsJsonError } from './wire.ts';

type Draft = { -readonly [K in keyof RequestRecord]: RequestRecord[K] };

export async function handleSecretsManager(
  state: DevState,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const startedAt = Date.now();
  const requestId = randomUUID();
  const target = String(req.headers['x-amz-target'] ?? '');
  const operation = target.startsWith(SM_TARGET_PREFIX)
    ? target.slice(SM_TARGET_PREFIX.length)
    : target;
  const draft: Draft = {
    requestId,
    time: new Date(startedAt).toISOString(),
    service: 'secretsmanager',
    operation,
    secretIds: [],
    region: undefined,
    accessKeyId: undefined,
    roleArn: undefined,
    outcome: 'ok',
    status: 200,
    faults: [],
  };
  const answerError = (err: AwsError): void => {
    draft.outcome = err.code;
    draft.status = err.status;
    sendAwsJsonError(res, requestId, err);
  };
  try {
    await serve(state, req, res, body, draft, answerError);
  } catch (err) {
    if (!(err instanceof AwsError)) {
      state.logger.error('internal error', {
        requestId,
        operation,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    answerError(
      err instanceof AwsError
        ? err
        : new AwsError('InternalServiceError', 'An error occurred on the server side.', 500),
    );
  }
  finish(state, draft, startedAt);
}

async function serve(
  state: DevState,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  draft: Draft,
  answerError: (err: AwsError) => void,
): Promise<void> {
  const handler = SM_OPERATIONS[draft.operation];
  if (
    !draft.operation.length ||
    handler === undefined ||
    !String(req.headers['x-amz-target']).startsWith(SM_TARGET_PREFIX)
  ) {
    return answerError(
      new AwsError('UnknownOperationException', `Unknown operation ${draft.operation}`),
    );
  }
  const input = parseJsonBody(body.toString('utf8'));
  draft.secretIds = secretIdsOf(input);
  const caller = authenticateRequest(state, req, body, draft, jsonAuthError);
  const region = draft.region ?? state.defaultRegion;
  const names = [
    ...draft.secretIds,
    ...draft.secretIds.flatMap((id) => state.store.resolveName(id) ?? []),
  ];
  const faults = state.faults.take(
    { operation: draft.operation, region, secretNames: names },
    draft.operation === 'BatchGetSecretValue',
  );
  draft.faults = faults.map((f) => f.kind);
  if (await applyFaults(state, req, faults, draft, answerError)) return;
  const ctx = smContext(state, caller, region, draft);
  const result = handler(input, ctx);
  recordBatchErrors(result, draft);
  sendAwsJson(res, draft.requestId, 200, result);
}

/** Plays the request's faults; true when it has been answered (dropped or failed). */
async function applyFaults(
  state: DevState,
  req: IncomingMessage,
  faults: readonly Fault[],
  draft: Draft,
  answerError: (err: AwsError) => void,
): Promise<boolean> {
  const result = await enactFaults(faults, req, draft, 'json', state.closing);
  if (result instanceof AwsError) answerError(result);
  return result !== undefined;
}

function smContext(state: DevState, caller: Caller, region: string, draft: Draft): SmContext {
  return {
    store: state.store,
    region,
    access: new AccessPolicy(caller, state.roles),
    secretFault: (name) => {
      const fault = state.faults.takeForSecret(draft.operation, region, name);
      if (fault === undefined) return undefined;
      draft.faults = [...draft.faults, fault.kind];
      return faultError(fault, 'json');
    },
    noteSecrets: (names) => {
      draft.secretIds = [...draft.secretIds, ...names];
    },
  };
}

function recordBatchErrors(result: JsonObject, draft: Draft): void {
  const errors = result['Errors'];
  if (!Array.isArray(errors) || errors.length === 0) return;
  const byId: Record<string, string> = {};
  for (const e of errors as JsonObject[]) byId[String(e['SecretId'])] = String(e['ErrorCode']);
  draft.secretErrors = byId;
}
