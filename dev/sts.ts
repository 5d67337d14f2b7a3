/**
 * STS over the query protocol: form-encoded `Action=...&Version=2011-06-15` in, XML out.
 * AssumeRoleWithWebIdentity decodes the JWT's payload without checking its signature (no
 * identity provider here) but does check its shape, expiry and, if the seed names any, audience.
 */
import { AwsError } from './aws-error.ts';
import type { AuthFailureKind, CredentialRegistry } from './credentials.ts';

export const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

export interface StsConfig {
  /** Accepted `aud` values; any audience when absent. */
  readonly audiences?: readonly string[];
}

export interface StsContext {
  readonly credentials: CredentialRegistry;
  readonly accountId: string;
  readonly config: StsConfig;
  readonly now: () => number;
}

export interface StsAnswer {
  readonly xml: string;
  /** The role whose credentials were issued (for the request log). */
  readonly roleArn?: string;
  readonly accessKeyId?: string;
}

interface JwtClaims {
  readonly sub: string;
  readonly aud: string;
  readonly iss: string;
}

export function assumeRoleWithWebIdentity(
  params: URLSearchParams,
  ctx: StsContext,
  requestId: string,
): StsAnswer {
  const roleArn = params.get('RoleArn') ?? '';
  const sessionName = params.get('RoleSessionName') ?? '';
  const token = params.get('WebIdentityToken') ?? '';
  if (!/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn))
    throw validation('Request ARN is invalid');
  if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
    throw validation(
      `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
    );
  }
  const duration = parseDuration(params.get('DurationSeconds'));
  const claims = checkToken(token, ctx);
  const creds = ctx.credentials.issue(roleArn, sessionName, duration);
  const xml = `<AssumeRoleWithWebIdentityResponse xmlns="${STS_NS}">
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
      <Expiration>${isoSeconds(creds.expiration)}</Expiration>
      <AccessKeyId>${creds.accessKeyId}</AccessKeyId>
    </Credentials>
    <Provider>${escapeXml(claims.iss)}</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`;
  return { xml, roleArn, accessKeyId: creds.accessKeyId };
}

export function getCallerIdentity(
  principal: { arn: string; userId: string },
  accountId: string,
  requestId: string,
): string {
  return `<GetCallerIdentityResponse xmlns="${STS_NS}">
  <GetCallerIdentityResult>
    <Arn>${escapeXml(principal.arn)}</Arn>
    <UserId>${escapeXml(principal.userId)}</UserId>
    <Account>${accountId}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
`;
}

export function stsErrorXml(err: AwsError, requestId: string): string {
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

/** STS's names (and 403s) for signature problems, as the query-protocol services answer. */
export function stsAuthError(kind: AuthFailureKind): AwsError {
  switch (kind) {
    case 'missing':
      return new AwsError(
        'MissingAuthenticationToken',
        'Request is missing Authentication Token',
        403,
      );
    case 'incomplete':
      return new AwsError(
        'IncompleteSignature',
        'The request signature does not conform to AWS standards.',
        400,
      );
    case 'unrecognized':
      return new AwsError(
        'InvalidClientTokenId',
        'The security token included in the request is invalid.',
        403,
      );
    case 'signature':
      return new AwsError('SignatureDoesNotMatch', SIGNATURE_MISMATCH, 403);
    case 'expired':
      return new AwsError(
        'ExpiredToken',
        'The security token included in the request is expired',
        403,
      );
  }
}

export const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

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

function checkToken(token: string, ctx: StsContext): JwtClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => p === ''))
    throw invalidToken(
      'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)',
    );
  const payload = decodePayload(parts[1] ?? '');
  const exp = payload['exp'];
  const nowSeconds = Math.floor(ctx.now() / 1000);
  if (typeof exp === 'number' && exp <= nowSeconds) {
    throw new AwsError(
      'ExpiredTokenException',
      `Token expired: current date/time ${nowSeconds} must be before the expiration date/time${exp}`,
    );
  }
  const audList = Array.isArray(payload['aud'])
    ? payload['aud'].filter((a) => typeof a === 'string')
    : [payload['aud']].filter((a) => typeof a === 'string');
  const allowed = ctx.config.audiences;
  if (allowed !== undefined && !audList.some((a) => allowed.includes(a)))
    throw invalidToken('Incorrect token audience');
  const sub = payload['sub'];
  const iss = payload['iss'];
  return {
    sub: typeof sub === 'string' ? sub : '',
    aud: audList[0] ?? '',
    iss: typeof iss === 'string' ? iss : '',
  };
}

function decodePayload(segment: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // not JSON: answered below
  }
  throw invalidToken(
    'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)',
  );
}

function invalidToken(message: string): AwsError {
  return new AwsError('InvalidIdentityToken', message);
}

function validation(message: string): AwsError {
  return new AwsError('ValidationError', message);
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
