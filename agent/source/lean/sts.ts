/**
 * STS AssumeRoleWithWebIdentity (IRSA) over the query protocol, as the SDK's web identity
 * provider makes it: a form-encoded POST, unsigned (the token is the proof), an XML answer.
 * Errors take the SDK's shape (`name` the error code), so errors.ts reads them alike.
 */
import type { OnApiCall } from '../call.ts';
import { callOutcome } from '../errors.ts';
import { HttpError, type HttpClient } from './http.ts';
import type { Credentials } from './sigv4.ts';

/** An STS answer is a few KiB: credentials, the assumed role, the token's audience. */
const MAX_ANSWER_BYTES = 256 * 1024;
const OPERATION = 'AssumeRoleWithWebIdentity';

export interface WebIdentityCall {
  readonly endpoint: URL;
  readonly roleArn: string;
  readonly sessionName: string;
  readonly token: string;
  readonly http: HttpClient;
  readonly timeoutMs: number;
  readonly onApiCall: OnApiCall;
}

export async function assumeRoleWithWebIdentity(call: WebIdentityCall): Promise<Credentials> {
  const body = new URLSearchParams({
    Action: OPERATION,
    Version: '2011-06-15',
    RoleArn: call.roleArn,
    RoleSessionName: call.sessionName,
    WebIdentityToken: call.token,
  }).toString();
  let xml: string;
  try {
    const answer = await call.http.send(call.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
      timeoutMs: call.timeoutMs,
      maxBytes: MAX_ANSWER_BYTES,
    });
    xml = answer.body.toString('utf8');
    if (answer.status < 200 || answer.status >= 300) throw stsError(xml, answer.status);
    call.onApiCall(OPERATION, 'success');
  } catch (err) {
    call.onApiCall(OPERATION, callOutcome(err));
    throw err;
  }
  return credentialsOf(xml, call.roleArn);
}

function credentialsOf(xml: string, roleArn: string): Credentials {
  const accessKeyId = element(xml, 'AccessKeyId');
  const secretAccessKey = element(xml, 'SecretAccessKey');
  const expiration = element(xml, 'Expiration');
  if (accessKeyId === undefined || secretAccessKey === undefined)
    throw new Error(
      `Invalid response from STS.assumeRoleWithWebIdentity call with role ${roleArn}`,
    );
  const sessionToken = element(xml, 'SessionToken');
  const expires = expiration === undefined ? undefined : new Date(expiration);
  return {
    accessKeyId,
    secretAccessKey,
    ...(sessionToken === undefined ? {} : { sessionToken }),
    ...(expires === undefined || Number.isNaN(expires.getTime()) ? {} : { expiration: expires }),
  };
}

/** The SDK's names for the errors STS models (their query-protocol codes differ). */
const MODELED: Readonly<Record<string, string>> = {
  IDPCommunicationError: 'IDPCommunicationErrorException',
  IDPRejectedClaim: 'IDPRejectedClaimException',
  InvalidContextAssertion: 'InvalidContextAssertionException',
  InvalidIdentityToken: 'InvalidIdentityTokenException',
  MalformedPolicyDocument: 'MalformedPolicyDocumentException',
  PackedPolicyTooLarge: 'PackedPolicyTooLargeException',
};

/** STS's `<Error><Code>…</Code><Message>…</Message></Error>`, in the SDK's shape. */
function stsError(xml: string, status: number): HttpError {
  const code = element(xml, 'Code') ?? 'UnknownError';
  return new HttpError(MODELED[code] ?? code, element(xml, 'Message') ?? code, status);
}

/** The text of the first element of that name (no attributes in STS's answers), unescaped. */
function element(xml: string, name: string): string | undefined {
  const open = xml.indexOf(`<${name}>`);
  if (open < 0) return undefined;
  const start = open + name.length + 2;
  const end = xml.indexOf(`</${name}>`, start);
  return end < 0 ? undefined : unescapeXml(xml.slice(start, end).trim());
}

const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, entity: string) => {
    if (!entity.startsWith('#')) return ENTITIES[entity] ?? whole;
    const hex = entity[1] === 'x' || entity[1] === 'X';
    const code = Number.parseInt(entity.slice(hex ? 2 : 1), hex ? 16 : 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}
