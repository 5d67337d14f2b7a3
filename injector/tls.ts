/**
 * The webhook's TLS key pair, read from disk and kept current as cert-manager rotates it.
 *
 * Modelled on vault-k8s `helper/cert/source_disk.go`: the watch starts *before* the first read,
 * so a rotation between the read and the watch is never missed, and a change is decided by
 * comparing file contents, never by trusting events. Kubernetes updates a Secret volume by
 * writing a new timestamped directory and atomically renaming the `..data` symlink, so the
 * events name `..data` or `..2024_…` entries rather than `tls.crt`; any event in the watched
 * directories therefore only triggers a content check. A periodic check backs up the watch
 * (events can be lost: inotify limits, remounts).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext } from 'node:tls';
import { watch, type FSWatcher } from 'chokidar';
import { silentLogger, type Logger } from '../common/log.ts';
import type { CertificateReloadOutcome } from './metrics.ts';

/** A validated key pair: the certificate (chain) matches the key and both parse. */
export interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly notAfter: Date;
}

export const CertificateErrorCodes = {
  TLS_UNREADABLE: 'the certificate or key file could not be read',
  TLS_INVALID: 'the certificate or key does not parse, or they do not belong together',
} as const;
export type CertificateErrorCode = keyof typeof CertificateErrorCodes;

export class CertificateError extends Error {
  readonly code: CertificateErrorCode;
  constructor(code: CertificateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertificateError';
    this.code = code;
  }
}

/** The narrow interface the server needs (as vault-k8s `cert.Source`): the pair now, and changes. */
export interface CertificateSource {
  /** The pair in use; undefined until a valid pair was read once. */
  current(): KeyPair | undefined;
  /** Called after each successful reload with the new pair. Returns an unsubscribe function. */
  onChange(listener: (pair: KeyPair) => void): () => void;
  close(): Promise<void>;
}

/** Parses and cross-checks a pair. Throws TLS_INVALID; the message never holds key material. */
export function parseKeyPair(cert: Buffer, key: Buffer): KeyPair {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
    const privateKey = createPrivateKey(key);
    if (!x509.checkPrivateKey(privateKey)) {
      throw new Error('the private key does not match the certificate');
    }
    // What the TLS stack itself will do with the pair: catches what the checks above miss.
    createSecureContext({ cert, key });
  } catch (err) {
    throw new CertificateError('TLS_INVALID', `invalid TLS key pair: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    cert,
    key,
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    notAfter: new Date(x509.validTo),
  };
}

async function readBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CertificateError('TLS_UNREADABLE', `cannot read ${file}: ${code}`, { cause: err });
  }
}

export interface DiskSourceOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly logger?: Logger;
  /** Called once per content change that was checked: for the reload counter and expiry gauge. */
  readonly onReload?: (outcome: CertificateReloadOutcome, pair?: KeyPair) => void;
  /** Events come in bursts during a swap: check once they settle. */
  readonly debounceMs?: number;
  /** A content check this often whatever the events say. */
  readonly pollIntervalMs?: number;
  /** A pair that fails validation is read again after this pause before it is rejected. */
  readonly settleMs?: number;
  /** After a rejected pair (perhaps read half-way through a write), look again this soon. */
  readonly retryMs?: number;
}

interface Bytes {
  readonly cert: Buffer;
  readonly key: Buffer;
}

function sameBytes(a: Bytes | undefined, b: Bytes): boolean {
  return a !== undefined && a.cert.equals(b.cert) && a.key.equals(b.key);
}

/** A key pair on disk, watched. Create with `startDiskCertificateSource`. */
class DiskCertificateSource implements CertificateSource {
  readonly #options: DiskSourceOptions;
  readonly #logger: Logger;
  readonly #listeners = new Set<(pair: KeyPair) => void>();
  #watcher: FSWatcher | undefined;
  #pair: KeyPair | undefined;
  #rejected: Bytes | undefined;
  #lastFailure: string | undefined;
  #checking: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #debounce: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;

  constructor(options: DiskSourceOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  current(): KeyPair | undefined {
    return this.#pair;
  }

  onChange(listener: (pair: KeyPair) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Watch first, then read: a change between the two is seen by the watch. */
  async start(): Promise<void> {
    const dirs = [
      ...new Set([this.#options.certFile, this.#options.keyFile].map((f) => dirname(resolve(f)))),
    ];
    // depth 0 and no symlink following: the `..data` swap shows up as events on the directory's
    // own entries, and we only need "something changed" from the watch.
    const watcher = watch(dirs, {
      depth: 0,
      ignoreInitial: true,
      followSymlinks: false,
      ignorePermissionErrors: true,
    });
    this.#watcher = watcher;
    watcher.on('all', () => this.#schedule(this.#options.debounceMs ?? 100));
    watcher.on('error', (err) => this.#logger.warn('certificate watch error', { error: err }));
    await new Promise<void>((ready) => watcher.once('ready', ready));
    await this.check();
    const every = this.#options.pollIntervalMs ?? 60_000;
    this.#poll = setInterval(() => void this.check(), every).unref();
  }

  /** Reads both files and swaps the pair in if the contents changed and are valid. */
  check(): Promise<void> {
    if (this.#checking !== undefined) {
      this.#again = true;
      return this.#checking;
    }
    this.#checking = this.#checkLoop().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #checkLoop(): Promise<void> {
    do {
      this.#again = false;
      await this.#checkOnce();
    } while (this.#again && !this.#closed);
  }

  async #readBoth(): Promise<Bytes> {
    return {
      cert: await readBytes(this.#options.certFile),
      key: await readBytes(this.#options.keyFile),
    };
  }

  async #checkOnce(): Promise<void> {
    let bytes: Bytes;
    try {
      bytes = await this.#readBoth();
    } catch (err) {
      this.#reject(undefined, err);
      return;
    }
    if (sameBytes(this.#pair, bytes)) {
      this.#rejected = undefined;
      this.#lastFailure = undefined;
      return;
    }
    if (sameBytes(this.#rejected, bytes)) return; // already logged; wait for the next change
    await this.#tryPair(bytes);
  }

  /**
   * A failed pair may be a torn read (the certificate read before a swap, the key after) or a
   * writer between its two files: read again after a moment and only reject bytes that stay.
   */
  async #tryPair(first: Bytes): Promise<void> {
    let bytes = first;
    for (let attempt = 0; ; attempt++) {
      try {
        this.#accept(parseKeyPair(bytes.cert, bytes.key));
        return;
      } catch (err) {
        const again = attempt < 3 ? await this.#settled(bytes) : undefined;
        if (again === undefined) {
          this.#reject(bytes, err);
          return;
        }
        bytes = again;
      }
    }
  }

  /** The files' contents after a short pause if they changed meanwhile; undefined if not. */
  async #settled(before: Bytes): Promise<Bytes | undefined> {
    await sleep(this.#options.settleMs ?? 100);
    const after = await this.#readBoth().catch(() => undefined);
    return after === undefined || sameBytes(before, after) ? undefined : after;
  }

  #accept(pair: KeyPair): void {
    const first = this.#pair === undefined;
    this.#pair = pair;
    this.#rejected = undefined;
    this.#lastFailure = undefined;
    this.#logger.info(first ? 'TLS key pair loaded' : 'TLS key pair reloaded', {
      serialNumber: pair.serialNumber,
      fingerprint256: pair.fingerprint256,
      notAfter: pair.notAfter.toISOString(),
    });
    this.#options.onReload?.('loaded', pair);
    for (const listener of this.#listeners) listener(pair);
  }

  #reject(bytes: Bytes | undefined, err: unknown): void {
    // The 60 s poll would repeat an unreadable file's error forever: say each one once. (Invalid
    // bytes already seen never get here: #checkOnce skips them.)
    const message = err instanceof Error ? err.message : String(err);
    if (bytes === undefined && message === this.#lastFailure) return;
    this.#lastFailure = message;
    if (bytes !== undefined) this.#rejected = bytes;
    const keeping =
      this.#pair === undefined ? 'no key pair loaded yet' : 'keeping the previous key pair';
    this.#logger.warn(`TLS key pair rejected, ${keeping}`, {
      certFile: this.#options.certFile,
      keyFile: this.#options.keyFile,
      error: err,
    });
    this.#options.onReload?.('rejected');
    // A writer may be half-way through (certificate written, key not yet) and its last event
    // may have come before our read: look again soon. Unchanged bytes are skipped silently.
    this.#retry ??= setTimeout(() => {
      this.#retry = undefined;
      void this.check();
    }, this.#options.retryMs ?? 1_000).unref();
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.check(), delayMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearTimeout(this.#retry);
    clearInterval(this.#poll);
    this.#listeners.clear();
    await this.#watcher?.close();
    await this.#checking;
  }
}

/**
 * Starts watching the two files, then reads them once. Resolves even when that first read
 * fails (the source keeps watching; `current()` stays undefined and the server is not ready),
 * so a Secret that is being issued right now does not crash-loop the pod.
 */
export async function startDiskCertificateSource(
  options: DiskSourceOptions,
): Promise<CertificateSource & { check(): Promise<void> }> {
  const source = new DiskCertificateSource(options);
  await source.start();
  return source;
}
