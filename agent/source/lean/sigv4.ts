/**
 * AWS Signature Version 4 with node:crypto, for the lean client's requests: the canonical
 * request, the string to sign, the derived key and the `Authorization` header, as AWS's own
 * signers compute them for services other than S3 (the path normalised and encoded once more).
 */
import { createHash, createHmac } from 'node:crypto';

const ALGORITHM = 'AWS4-HMAC-SHA256';

/** The SDK's credential identity: what a signer needs, and until when it holds. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  readonly expiration?: Date | undefined;
}

export interface RequestToSign {
  readonly method: string;
  /** The Host header: the host, and the port when it is not the scheme's default. */
  readonly host: string;
  /** The path as sent (already percent-encoded where it must be). */
  readonly path: string;
  /** The query string as sent, without `?`; '' for none. */
  readonly query?: string;
  /** Headers to sign besides host and the x-amz-* the signer adds; names in any case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

export interface Scope {
  readonly region: string;
  readonly service: string;
  readonly credentials: Credentials;
  readonly date: Date;
}

/**
 * The headers to send: the request's own, host, x-amz-date, x-amz-security-token (with a
 * session token) and authorization.
 */
export function signRequest(request: RequestToSign, scope: Scope): Record<string, string> {
  const amzDate = scope.date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { host: request.host, 'x-amz-date': amzDate };
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  const token = scope.credentials.sessionToken;
  if (token !== undefined && token !== '') headers['x-amz-security-token'] = token;
  const names = Object.keys(headers).sort();
  const canonical = [
    request.method.toUpperCase(),
    canonicalPath(request.path),
    canonicalQuery(request.query ?? ''),
    names.map((n) => `${n}:${trimValue(headers[n] ?? '')}\n`).join(''),
    names.join(';'),
    sha256Hex(request.body),
  ].join('\n');
  const signature = signatureOf(scope.credentials.secretAccessKey, scope, day, amzDate, canonical);
  headers['authorization'] =
    `${ALGORITHM} Credential=${scope.credentials.accessKeyId}/${credentialScope(scope, day)}, ` +
    `SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

/** `yyyymmdd/region/service/aws4_request`. */
function credentialScope(scope: Pick<Scope, 'region' | 'service'>, day: string): string {
  return `${day}/${scope.region}/${scope.service}/aws4_request`;
}

/**
 * The signature of a canonical request: the string to sign, HMAC'd with the key derived from the
 * secret for the day, region and service. The signer here and the dev endpoint's check
 * (dev/sigv4.ts) both use it.
 */
export function signatureOf(
  secretAccessKey: string,
  scope: Pick<Scope, 'region' | 'service'>,
  day: string,
  amzDate: string,
  canonicalRequest: string,
): string {
  const stringToSign = [
    ALGORITHM,
    amzDate,
    credentialScope(scope, day),
    sha256Hex(canonicalRequest),
  ].join('\n');
  let key = hmac(`AWS4${secretAccessKey}`, day);
  for (const part of [scope.region, scope.service, 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

/** Values trimmed, inner runs of spaces made one, as the canonical form asks. */
function trimValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

/** The path's segments normalised (`.` and `..` resolved, empty ones dropped), encoded again. */
export function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${segments.map(escapeUri).join('/')}${trailing}`;
}

/** Pairs decoded, then encoded the one way AWS does, sorted by name then value. */
export function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const name = eq < 0 ? p : p.slice(0, eq);
      const value = eq < 0 ? '' : p.slice(eq + 1);
      return [escapeUri(decode(name)), escapeUri(decode(value))] as const;
    });
  pairs.sort(([an, av], [bn, bv]) => compare(an, bn) || compare(av, bv));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** RFC 3986 unreserved characters kept, everything else percent-encoded in upper case. */
function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
