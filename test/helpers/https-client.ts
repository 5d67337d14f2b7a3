/** A tiny HTTPS client for the webhook tests: a fresh connection per request, the test CA trusted. */
import { request } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  readonly peer: PeerCertificate;
}

export interface Call {
  readonly port: number;
  readonly ca: string;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string | number>>;
  readonly body?: string | Buffer;
  /** Send the body with chunked transfer encoding (no content-length). */
  readonly chunked?: boolean;
  readonly maxVersion?: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
}

export function call(options: Call): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined && options.chunked !== true)
      headers['content-length'] = Buffer.byteLength(options.body);
    const req = request(
      {
        host: '127.0.0.1',
        port: options.port,
        servername: 'localhost',
        ca: options.ca,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers,
        agent: false,
        ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
      },
      (res) => {
        const peer = (res.socket as unknown as TLSSocket).getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            peer,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export function review(
  uid = 'uid-1',
  object: unknown = { metadata: { name: 'web', namespace: 'default' } },
): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, namespace: 'default', operation: 'CREATE', object },
  });
}

export const JSON_HEADERS = { 'content-type': 'application/json' } as const;
