/**
 * What every benchmark shares: timed child processes (always spawned async, so an in-process
 * dev server keeps answering), statistics, the agent's environment and configuration, tables,
 * and the closing JSON line. Every loop is bounded in count and time; only 127.0.0.1 is used.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { SeedInput } from '../dev/seed.ts';
import type { ChildProcess } from 'node:child_process';
import { agentEnv } from '../test/helpers/agent-process.ts';
import { spawnWebhook } from '../test/helpers/shipped-webhook.ts';

export { agentEnv };

export const ROOT = join(import.meta.dirname, '..');
/** The Node running the bench: npm scripts put the project's Node 24 first on PATH. */
export const NODE = process.execPath;
/** The CLI under test: the bundle by default (what the image runs). */
export const CLI = join(ROOT, process.env['SECRETS_AGENT_BENCH_CLI'] ?? 'dist/cli.js');
/** `--quick`: a few runs each, to prove a script works (the test), not to measure. */
export const QUICK = process.argv.includes('--quick');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export interface Timed {
  readonly ms: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Spawns `NODE args` (in the project root) and resolves at its exit with the wall time; killed after timeoutMs. */
export function timedRun(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs = 60_000,
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(NODE, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, code, stdout, stderr });
    });
  });
}

/** VmRSS of a process in bytes, from /proc/<pid>/status. */
export function vmRss(pid: number | 'self'): number {
  return statusBytes(pid, 'VmRSS');
}

/** VmHWM: the process's peak RSS so far, in bytes. */
export function vmHwm(pid: number | 'self'): number {
  return statusBytes(pid, 'VmHWM');
}

function statusBytes(pid: number | 'self', field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1];
  if (kb === undefined) throw new Error(`no ${field} for ${pid}`);
  return Number(kb) * 1024;
}

/** A seed of `n` JSON secrets named bench/s0…, shaped like database credentials. */
export function benchSeed(n: number): SeedInput {
  return {
    secrets: Array.from({ length: n }, (_, i) => ({
      name: `bench/s${i}`,
      value: { username: `user${i}`, password: `bench-password-${i}-0123456789`, port: 5432 },
    })),
  };
}

/** An agent configuration for the first `n` bench secrets. */
export function benchConfig(
  n: number,
  options: { mode: 'init' | 'sidecar'; outputDir: string; httpPort?: number },
): Record<string, unknown> {
  return {
    mode: options.mode,
    outputDir: options.outputDir,
    httpPort: options.httpPort ?? 0,
    httpAddress: '127.0.0.1',
    refreshInterval: '5s',
    terminationLogPath: join(options.outputDir, '..', 'termination-log'),
    secrets: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, id: `bench/s${i}` })),
  };
}

/** A fixed-width table: the first column left-aligned, the others right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c)));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(cells[0] ?? []), rule, ...cells.slice(1).map(line)].join('\n');
}

/** The closing line every script prints: `{"bench":name,...}`, machine-readable. */
export function printResult(bench: string, result: Readonly<Record<string, unknown>>): void {
  process.stdout.write(`${JSON.stringify({ bench, quick: QUICK, ...result })}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let catalogPod: unknown;

/**
 * The AdmissionReview the API server sends for the catalog example's pod
 * (test/fixtures/pods/env-vars.yaml), created by the ReplicaSet controller: a realistic
 * opted-in admission.
 */
export function catalogReview(uid: string): string {
  catalogPod ??= parse(readFileSync(join(ROOT, 'test/fixtures/pods/env-vars.yaml'), 'utf8'));
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'catalog',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: catalogPod,
      dryRun: false,
    },
  });
}

/**
 * The bench's CLI as `webhook`, run as it ships, serving the pair in `tlsDir`
 * (writeServingPair); its errors go to the bench's stderr.
 */
export function benchWebhook(tlsDir: string, port: number, metricsPort = 0): ChildProcess {
  return spawnWebhook({
    tlsDir,
    port,
    metricsPort,
    cli: CLI,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
