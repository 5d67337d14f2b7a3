/**
 * AWS Signature Version 4: parsing the `Authorization` header and recomputing the signature
 * (canonical request → string to sign → signing key) to check a request signed with keys the
 * emulator knows.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const ALGORITHM = 'AWS4-HMAC-SHA256';

export interface ParsedAuthorization {
  readonly accessKeyId: string;
  /** yyyymmdd of the credential scope. */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export interface SignedRequest {
  readonly method: string;
  /** The raw request target: path and query as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The parsed header, or undefined when it is not a well-formed SigV4 Authorization. */
export function parseAuthorization(header: string): ParsedAuthorization | undefined {
  if (!header.startsWith(`${ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential?.length !== 5 || signedHeaders === undefined || signature === undefined)
    return undefined;
  const [accessKeyId = '', date = '', region = '', service = '', terminator] = credential;
  if (accessKeyId === '' || !/^\d{8}$/.test(date) || region === '' || terminator !== 'aws4_request')
    return undefined;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

export function signatureMatches(
  request: SignedRequest,
  auth: ParsedAuthorization,
  secretAccessKey: string,
): boolean {
  const expected = Buffer.from(computeSignature(request, auth, secretAccessKey), 'utf8');
  const given = Buffer.from(auth.signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function computeSignature(
  request: SignedRequest,
  auth: ParsedAuthorization,
  secretAccessKey: string,
): string {
  const amzDate = headerValue(request.headers, 'x-amz-date') ?? '';
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest(request, auth))].join(
    '\n',
  );
  let key: Buffer = hmac(`AWS4${secretAccessKey}`, auth.date);
  for (const part of [auth.region, auth.service, 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

function canonicalRequest(request: SignedRequest, auth: ParsedAuthorization): string {
  const q = request.url.indexOf('?');
  const path = q < 0 ? request.url : request.url.slice(0, q);
  const query = q < 0 ? '' : request.url.slice(q + 1);
  const headers = auth.signedHeaders
    .map((name) => `${name}:${headerValue(request.headers, name) ?? ''}\n`)
    .join('');
  const payloadHash =
    headerValue(request.headers, 'x-amz-content-sha256') ?? sha256Hex(request.body);
  return [
    request.method,
    canonicalPath(path),
    canonicalQuery(query),
    headers,
    auth.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

/** Non-S3 services normalise the path and encode it once more, as the signers do. */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const joined = `/${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(joined).replace(/%2F/g, '/');
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const key = decode(eq < 0 ? p : p.slice(0, eq));
      const value = eq < 0 ? '' : decode(p.slice(eq + 1));
      return [escapeUri(key), escapeUri(value)] as const;
    });
  pairs.sort(([ak, av], [bk, bv]) =>
    ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1,
  );
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return s;
  }
}

function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  const joined = Array.isArray(v) ? v.join(',') : v;
  return joined.trim().replace(/\s+/g, ' ');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
