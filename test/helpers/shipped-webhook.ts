/**
 * The webhook command as a real process, started as the shipped Deployment starts it: its
 * runtime settings (NODE_OPTIONS heap limits, glibc's MALLOC_*) from manifests/deployment.yaml,
 * a key pair from a directory laid out like the mounted Secret, loopback only. Tests and
 * benchmarks both start it here, so what they run is the same process.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request, type Agent } from 'node:https';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CLI, ROOT } from './agent-process.ts';
import { makeCa, makePair } from './certs.ts';

const DEPLOYMENT = join(ROOT, 'manifests/deployment.yaml');

/** The webhook container's runtime settings in the shipped Deployment. */
export function shippedRuntimeEnv(): Record<string, string> {
  const deployment = parseAllDocuments(readFileSync(DEPLOYMENT, 'utf8'))
    .map((d) => d.toJS() as { kind?: string; spec?: unknown })
    .find((d) => d.kind === 'Deployment') as {
    spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
  };
  const env = deployment.spec.template.spec.containers[0]?.env ?? [];
  return Object.fromEntries(
    env
      .filter((e) => e.name === 'NODE_OPTIONS' || e.name.startsWith('MALLOC_'))
      .map((e) => [e.name, e.value]),
  );
}

/** The webhook container's memory limit in the shipped Deployment, in bytes (`256Mi`). */
export function shippedMemoryLimit(): number {
  const match = /limits:\s*\n\s*memory:\s*(\d+)Mi/.exec(readFileSync(DEPLOYMENT, 'utf8'));
  if (match?.[1] === undefined) throw new Error('no memory limit in manifests/deployment.yaml');
  return Number(match[1]) * 1024 * 1024;
}

/**
 * A fresh serving pair (for localhost and 127.0.0.1) written to `dir` as `tls.crt` and
 * `tls.key`, for a webhook whose callers do not check its certificate (the benchmarks).
 */
export function writeServingPair(dir: string): void {
  const pair = makePair(makeCa());
  writeFileSync(join(dir, 'tls.crt'), pair.cert);
  writeFileSync(join(dir, 'tls.key'), pair.key);
}

export interface WebhookSpawn {
  /** Holds `tls.crt` and `tls.key`. */
  readonly tlsDir: string;
  /** 0: any free port (read it from the "listening" log line). */
  readonly port: number;
  readonly metricsPort?: number;
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** More flags, after the ones above. */
  readonly flags?: readonly string[];
  /** Another bundle (benchmarks compare builds); the fresh dist/cli.js by default. */
  readonly cli?: string;
  readonly stdio?: StdioOptions;
}

/**
 * `cli.js webhook` on 127.0.0.1 with the shipped runtime settings and nothing else inherited
 * (no HOME, only PATH), so the figures and failures are those of what ships.
 */
export function spawnWebhook(options: WebhookSpawn): ChildProcess {
  const flags = [
    '--address=127.0.0.1',
    `--port=${options.port}`,
    `--metrics-port=${options.metricsPort ?? 0}`,
    `--tls-cert-file=${join(options.tlsDir, 'tls.crt')}`,
    `--tls-key-file=${join(options.tlsDir, 'tls.key')}`,
    `--log-level=${options.logLevel ?? 'error'}`,
    ...(options.flags ?? []),
  ];
  return spawn(process.execPath, [options.cli ?? CLI, 'webhook', ...flags], {
    env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent', ...shippedRuntimeEnv() },
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Resolves once `probe` answers true (tried every 100 ms, for a server that logs nothing at its
 * log level); rejects as soon as the process exits, or after `ms`.
 */
export async function untilUp(
  child: ChildProcess,
  probe: () => Promise<boolean>,
  what: string,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode})`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what} did not answer within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface Reply {
  readonly status: number;
  readonly ms: number;
  readonly body: string;
}

export interface PostOptions {
  /** The CA to trust (the name checked is `localhost`); without one nothing is checked. */
  readonly ca?: string | undefined;
  /** A keep-alive agent; a fresh connection per request by default. */
  readonly agent?: Agent | undefined;
  /** Called once the whole body has been handed to the kernel. */
  readonly sent?: (() => void) | undefined;
}

/** POSTs a review to `https://127.0.0.1:<port>/mutate`; `ms` runs until the answer's end. */
export function postReview(port: number, body: string, options: PostOptions = {}): Promise<Reply> {
  const trust =
    options.ca === undefined
      ? { rejectUnauthorized: false }
      : { ca: options.ca, servername: 'localhost' };
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        ...trust,
        method: 'POST',
        path: '/mutate',
        agent: options.agent ?? false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body, () => options.sent?.());
  });
}
