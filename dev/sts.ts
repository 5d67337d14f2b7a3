/**
 * STS over the query protocol (form-encoded `Action=...&Version=2011-06-15` in, XML out),
 * answering the call the agent's web identity (IRSA) path makes: AssumeRoleWithWebIdentity.
 * It decodes the JWT's payload without checking its signature (no identity provider here) but
 * does check its shape, expiry and, if the seed names any, audience.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError } from './aws-error.ts';
import { enactFaults } from './faults.ts';
import { enforceQuota } from './quota.ts';
import { type DevState, answerRequest, requestDraft, type RequestDraft } from './state.ts';
import { sendXml } from './wire.ts';

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

type Draft = RequestDraft;

/** Form body and query string together, as the query protocol allows either. */
function stsParams(req: IncomingMessage, body: Buffer): URLSearchParams {
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
  const draft = requestDraft(requestId, startedAt, 'sts', params.get('Action') ?? '');
  await answerRequest(state, draft, startedAt, {
    work: () => serve(state, req, params, draft),
    ok: (xml) => sendXml(res, requestId, 200, xml),
    fail: (error) => sendXml(res, requestId, error.status, errorXml(error, requestId)),
    internal: () => new AwsError('InternalFailure', 'An internal error occurred.', 500),
  });
}

/** The answer, or undefined when a fault dropped the connection. Throws AwsError. */
async function serve(
  state: DevState,
  req: IncomingMessage,
  params: URLSearchParams,
  draft: Draft,
): Promise<string | undefined> {
  const action = draft.operation;
  if (action === '') throw new AwsError('MissingAction', 'Missing Action');
  if (action !== 'AssumeRoleWithWebIdentity') {
    throw new AwsError(
      'InvalidAction',
      `Could not find operation ${action} for version ${params.get('Version') ?? 'NO_VERSION_SPECIFIED'}`,
    );
  }
  enforceQuota(state.quotas, action, state.now(), 'sts');
  const faults = state.faults.take({ operation: action, region: undefined, secretNames: [] });
  draft.faults = faults.map((f) => f.kind);
  const enacted = await enactFaults(faults, req, draft, 'sts', state.closing, state.sleep);
  if (enacted instanceof AwsError) throw enacted;
  if (enacted === 'dropped') return undefined;
  return assumeRoleWithWebIdentity(state, params, draft);
}

function assumeRoleWithWebIdentity(state: DevState, params: URLSearchParams, draft: Draft): string {
  const roleArn = params.get('RoleArn') ?? '';
  const sessionName = params.get('RoleSessionName') ?? '';
  if (!/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn))
    throw validation('Request ARN is invalid');
  if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
    throw validation(
      `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
    );
  }
  const duration = parseDuration(params.get('DurationSeconds'));
  const claims = checkToken(params.get('WebIdentityToken') ?? '', state);
  const creds = state.credentials.issue(roleArn, sessionName, duration);
  draft.roleArn = roleArn;
  draft.accessKeyId = creds.accessKeyId;
  return `<AssumeRoleWithWebIdentityResponse xmlns="${STS_NS}">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>${escapeXml(claims.sub)}</SubjectFromWebIdentityToken>
    <Audience>${escapeXml(claims.aud)}</Audience>
    <AssumedRoleUser>
      <Arn>${escapeXml(creds.assumedRoleArn)}</Arn>
      <AssumedRoleId>${escapeXml(creds.assumedRoleId)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>${creds.sessionToken}</SessionToken>
      <SecretAccessKey>${creds.secretAccessKey}</SecretAccessKey>
      <Expiration>${new Date(creds.expiration).toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration>
      <AccessKeyId>${creds.accessKeyId}</AccessKeyId>
    </Credentials>
    <Provider>${escapeXml(claims.iss)}</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>${draft.requestId}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`;
}

function errorXml(err: AwsError, requestId: string): string {
  return `<ErrorResponse xmlns="${STS_NS}">
  <Error>
    <Type>${err.fault}</Type>
    <Code>${escapeXml(err.code)}</Code>
    <Message>${escapeXml(err.message)}</Message>
  </Error>
  <RequestId>${requestId}</RequestId>
</ErrorResponse>
`;
}

function parseDuration(raw: string | null): number {
  if (raw === null || raw === '') return 3600;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 900 || n > 43200) {
    throw validation(
      `1 validation error detected: Value '${raw}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`,
    );
  }
  return n;
}

const NOT_A_JWT =
  'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)';

function checkToken(token: string, state: DevState): { sub: string; aud: string; iss: string } {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => p === '')) throw invalidToken(NOT_A_JWT);
  const payload = decodePayload(parts[1] ?? '');
  const exp = payload['exp'];
  const nowSeconds = Math.floor(state.store.now() / 1000);
  if (typeof exp === 'number' && exp <= nowSeconds) {
    throw new AwsError(
      'ExpiredTokenException',
      `Token expired: current date/time ${nowSeconds} must be before the expiration date/time${exp}`,
    );
  }
  const audList = (Array.isArray(payload['aud']) ? payload['aud'] : [payload['aud']]).filter(
    (a) => typeof a === 'string',
  );
  const allowed = state.sts.audiences;
  if (allowed !== undefined && !audList.some((a) => allowed.includes(a)))
    throw invalidToken('Incorrect token audience');
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  return { sub: text(payload['sub']), aud: audList[0] ?? '', iss: text(payload['iss']) };
}

function decodePayload(segment: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // not JSON: answered below
  }
  throw invalidToken(NOT_A_JWT);
}

function invalidToken(message: string): AwsError {
  return new AwsError('InvalidIdentityToken', message);
}

function validation(message: string): AwsError {
  return new AwsError('ValidationError', message);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
