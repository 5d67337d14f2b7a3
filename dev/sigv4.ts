/**
 * AWS Signature Version 4: parsing the `Authorization` header and recomputing the signature
 * (canonical request → string to sign → signing key) to check a request signed with keys the
 * emulator knows.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import {
  canonicalPath,
  canonicalQuery,
  sha256Hex,
  signatureOf,
} from '../agent/source/lean/sigv4.ts';

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
  return signatureOf(secretAccessKey, auth, auth.date, amzDate, canonicalRequest(request, auth));
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

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  const joined = Array.isArray(v) ? v.join(',') : v;
  return joined.trim().replace(/\s+/g, ' ');
}
