/** HTTP plumbing shared by the endpoints: bodies in, AWS-shaped answers out. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError } from './aws-error.ts';
import type { AuthFailureKind } from './credentials.ts';

const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLarge extends Error {}

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new BodyTooLarge(`request body over ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

const AMZ_JSON = 'application/x-amz-json-1.1';

export function sendAwsJson(
  res: ServerResponse,
  requestId: string,
  status: number,
  body: unknown,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': AMZ_JSON,
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': requestId,
  });
  res.end(text);
}

/** `{"__type": code, "message": ...}` plus the `x-amzn-ErrorType` header, as awsJson1_1 errors. */
export function sendAwsJsonError(res: ServerResponse, requestId: string, err: AwsError): void {
  const text = JSON.stringify({ __type: err.code, message: err.message, Message: err.message });
  res.writeHead(err.status, {
    'Content-Type': AMZ_JSON,
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': requestId,
    'x-amzn-ErrorType': err.code,
  });
  res.end(text);
}

export function sendXml(res: ServerResponse, requestId: string, status: number, xml: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/xml',
    'Content-Length': Buffer.byteLength(xml),
    'x-amzn-RequestId': requestId,
  });
  res.end(xml);
}

export function sendPlainJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** How awsJson1_1 services name signature problems (all 400, as those services answer). */
export function jsonAuthError(kind: AuthFailureKind): AwsError {
  switch (kind) {
    case 'missing':
      return new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    case 'incomplete':
      return new AwsError(
        'IncompleteSignatureException',
        "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
      );
    case 'unrecognized':
      return new AwsError(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    case 'signature':
      return new AwsError('InvalidSignatureException', SIGNATURE_MISMATCH);
    case 'expired':
      return new AwsError(
        'ExpiredTokenException',
        'The security token included in the request is expired',
      );
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
