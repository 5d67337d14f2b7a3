/**
 * One awsJson1_1 service of the dev endpoint (Secrets Manager, SSM): what every request goes
 * through the same way, target, body, signature, faults, the answer and the request log. Each
 * service gives its operations and the few things it does its own way.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError, serialization } from './aws-error.ts';
import { enactFaults } from './faults.ts';
import { enforceQuota } from './quota.ts';
import {
  answerRequest,
  authenticateRequest,
  type DevState,
  requestDraft,
  type RequestDraft,
} from './state.ts';
import { jsonAuthError, sendAwsJson, sendAwsJsonError } from './wire.ts';

export type JsonObject = Readonly<Record<string, unknown>>;

/** What an operation is given besides its input. */
export interface JsonCall {
  readonly state: DevState;
  readonly region: string;
  readonly draft: RequestDraft;
}

export interface JsonService {
  readonly service: 'secretsmanager' | 'ssm';
  /** `X-Amz-Target` is this prefix and the operation's name. */
  readonly targetPrefix: string;
  /** The code of the service's own 500 (`InternalServiceError`, `InternalServerError`). */
  readonly internalError: string;
  readonly operations: Readonly<Record<string, (input: JsonObject, call: JsonCall) => JsonObject>>;
  /** The ids a request names, for the request log. */
  idsOf(input: JsonObject): string[];
  /** The names a fault may be scoped by; by default the ids. */
  faultNames?(state: DevState, input: JsonObject, ids: readonly string[]): string[];
  /** An operation that answers secret-scoped faults entry by entry (faults.take). */
  readonly perEntryOperation?: string;
  /** An injected fault's error, in the service's own words; by default as it is. */
  inOwnWords?(error: AwsError): AwsError;
}

export async function handleJsonService(
  service: JsonService,
  state: DevState,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const startedAt = Date.now();
  const requestId = randomUUID();
  const target = String(req.headers['x-amz-target'] ?? '');
  const known = target.startsWith(service.targetPrefix);
  const operation = known ? target.slice(service.targetPrefix.length) : target;
  const draft = requestDraft(requestId, startedAt, service.service, operation);
  await answerRequest(state, draft, startedAt, {
    work: () => serve(service, state, req, body, draft, known),
    ok: (answer) => sendAwsJson(res, requestId, 200, answer),
    fail: (error) => sendAwsJsonError(res, requestId, error),
    internal: () =>
      new AwsError(service.internalError, 'An error occurred on the server side.', 500),
  });
}

/** The answer, or undefined when a fault dropped the connection. Throws AwsError. */
async function serve(
  service: JsonService,
  state: DevState,
  req: IncomingMessage,
  body: Buffer,
  draft: RequestDraft,
  known: boolean,
): Promise<JsonObject | undefined> {
  const handler = service.operations[draft.operation];
  if (handler === undefined || !known)
    throw new AwsError('UnknownOperationException', `Unknown operation ${draft.operation}`);
  const input = parseJsonBody(body.toString('utf8'));
  draft.secretIds = service.idsOf(input);
  authenticateRequest(state, req, body, draft, jsonAuthError, service.service);
  const region = draft.region ?? state.defaultRegion;
  enforceQuota(state.quotas, draft.operation, state.now(), 'json');
  const faults = state.faults.take(
    {
      operation: draft.operation,
      region,
      secretNames: service.faultNames?.(state, input, draft.secretIds) ?? draft.secretIds,
    },
    draft.operation === service.perEntryOperation,
  );
  draft.faults = faults.map((f) => f.kind);
  const enacted = await enactFaults(faults, req, draft, 'json', state.closing, state.sleep);
  if (enacted instanceof AwsError) throw service.inOwnWords?.(enacted) ?? enacted;
  if (enacted === 'dropped') return undefined;
  return handler(input, { state, region, draft });
}

/** The request body as a JSON object; anything else is AWS's SerializationException. */
function parseJsonBody(body: string): JsonObject {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw serialization('Start of structure or map found where not expected.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw serialization('Start of structure or map found where not expected.');
  return parsed as JsonObject;
}
