/**
 * The webhook command as a real process, run as the shipped Deployment runs it (its
 * NODE_OPTIONS heap limits and allocator setting, from manifests/deployment.yaml), and what
 * tests send it over HTTPS on loopback.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import { CLI, freePort, ROOT } from './agent-process.ts';
import { podReview } from './admission.ts';
import { makeCa, makePair, tempDir, writeSecretVolume } from './certs.ts';
import { OPTED_IN } from './pathological.ts';
import { counter } from './wait.ts';

export const ca = makeCa();
const pair = makePair(ca);

/** The webhook container's runtime settings in the shipped Deployment. */
export function shippedRuntimeEnv(): Record<string, string> {
  const text = readFileSync(join(ROOT, 'manifests/deployment.yaml'), 'utf8');
  const deployment = parseAllDocuments(text)
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
  const text = readFileSync(join(ROOT, 'manifests/deployment.yaml'), 'utf8');
  const match = /limits:\s*\n\s*memory:\s*(\d+)Mi/.exec(text);
  if (match?.[1] === undefined) throw new Error('no memory limit in manifests/deployment.yaml');
  return Number(match[1]) * 1024 * 1024;
}

export interface Webhook {
  readonly port: number;
  readonly pid: number;
  alive(): boolean;
  output(): string;
  /** Resolves once the output so far satisfies `done` (checked as output arrives). */
  outputUntil(done: (output: string) => boolean, ms?: number): Promise<void>;
}

export async function startWebhook(t: Test, extra: readonly string[] = []): Promise<Webhook> {
  const dir = tempDir();
  await writeSecretVolume(dir, { 'tls.crt': pair.cert, 'tls.key': pair.key });
  const runtime = shippedRuntimeEnv();
  const port = await freePort();
  t.ok(
    runtime['NODE_OPTIONS']?.includes('--max-old-space-size='),
    'run with the shipped heap limit',
  );
  const child = spawn(
    process.execPath,
    [
      CLI,
      'webhook',
      '--address',
      '127.0.0.1',
      '--port',
      String(port),
      '--metrics-port',
      '0',
      '--tls-cert-file',
      join(dir, 'tls.crt'),
      '--tls-key-file',
      join(dir, 'tls.key'),
      '--log-level',
      'error',
      ...extra,
    ],
    {
      env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent', ...runtime },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const changed = counter<'output'>();
  const take = (d: Buffer): void => {
    output += d.toString();
    changed.add('output');
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const outputUntil = async (done: (text: string) => boolean, ms = 10_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!done(output)) {
      if (Date.now() > end) throw new Error(`not in the webhook's output within ${ms} ms`);
      // The next chunk of output, whenever it comes.
      await changed.reached('output', changed.count('output') + 1, Math.max(1, end - Date.now()));
    }
  };
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const webhook = {
    port,
    pid: child.pid ?? 0,
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
    outputUntil,
  };
  const end = Date.now() + 20_000;
  for (;;) {
    const up = await post(webhook, ordinary('up')).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    if (Date.now() > end || !webhook.alive())
      throw new Error(`the webhook did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Warm-up: the code paths of an ordinary admission, so what follows measures the rest.
  for (let i = 0; i < 40; i++) await post(webhook, ordinary(`warm-${i}`));
  return webhook;
}

export const ordinary = (uid: string): string => podReview({ uid, annotations: OPTED_IN });

export interface Reply {
  readonly status: number;
  readonly ms: number;
  readonly body: string;
}

/** POSTs a review; `sent` is called once the whole body has been handed to the kernel. */
export function post(
  webhook: Pick<Webhook, 'port'>,
  body: string,
  sent?: () => void,
): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: webhook.port,
        servername: 'localhost',
        ca: ca.cert,
        method: 'POST',
        path: '/mutate',
        agent: false,
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
    req.end(body, () => sent?.());
  });
}

export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export function patchOf(body: string): { op: string; path: string }[] {
  const patch = (JSON.parse(body) as { response: { patch?: string } }).response.patch ?? '';
  return JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as {
    op: string;
    path: string;
  }[];
}
