/**
 * Test certificates from the `openssl` CLI (a test CA and leaf pairs for localhost/127.0.0.1),
 * a writer that updates a directory the way the kubelet updates a Secret volume, and a small
 * HTTPS client that trusts the test CA (a fresh connection per request).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { request } from 'node:https';
import { join } from 'node:path';
import type { PeerCertificate, TLSSocket } from 'node:tls';

export interface TestCa {
  readonly cert: string;
  readonly key: string;
  readonly dir: string;
}

export interface TestPair {
  readonly cert: string;
  readonly key: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeCa(name = 'secrets-agent test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'sa-ca-'));
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return {
    dir,
    cert: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    key: readFileSync(join(dir, 'ca.key'), 'utf8'),
  };
}

let serial = 0x1000;

/** A serving pair for localhost and 127.0.0.1, signed by `ca`, with a fresh serial number. */
export function makePair(ca: TestCa): TestPair {
  serial += 1;
  const dir = mkdtempSync(join(tmpdir(), 'sa-leaf-'));
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    ['req', '-new', ...EC, '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=localhost'],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'tls.csr',
      '-CA',
      join(ca.dir, 'ca.crt'),
      '-CAkey',
      join(ca.dir, 'ca.key'),
      '-set_serial',
      String(serial),
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
      '-out',
      'tls.crt',
    ],
    dir,
  );
  const cert = readFileSync(join(dir, 'tls.crt'), 'utf8');
  const x509 = new X509Certificate(cert);
  return {
    cert,
    key: readFileSync(join(dir, 'tls.key'), 'utf8'),
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
  };
}

let generation = 0;

/**
 * Writes `files` as the kubelet's atomic writer does for a Secret volume: a new hidden
 * timestamped directory, a `..data_tmp` symlink to it renamed over `..data` (the one atomic
 * step), `name -> ..data/name` links, then the old directory removed.
 */
export async function writeSecretVolume(
  dir: string,
  files: Readonly<Record<string, string>>,
): Promise<void> {
  generation += 1;
  const stamp = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${process.pid}${generation}`;
  await mkdir(join(dir, stamp), { recursive: true });
  for (const [name, content] of Object.entries(files))
    await writeFile(join(dir, stamp, name), content);
  const old = await readlink(join(dir, '..data')).catch(() => undefined);
  await symlink(stamp, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) {
    await symlink(join('..data', name), join(dir, name)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    });
  }
  if (old !== undefined) await rm(join(dir, old), { recursive: true, force: true });
}

export function tempDir(prefix = 'sa-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

// --- HTTPS client ---
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
