/**
 * What an idle sidecar costs between refreshes, against a bare Node, side by side in one run:
 * the CPU time the kernel accounts to it (every thread's, /proc/PID/task/∗/schedstat) and how
 * often its threads wake (their voluntary context switches, /proc/PID/task/∗/status), over
 * a window in which nothing happens: the sidecar as injected (20 secrets, IRSA through the dev
 * endpoint's STS, its env's NODE_OPTIONS) once ready, with a refresh interval longer than the
 * window and nobody scraping it; the bare Node is `node -e` waiting on a timer. A fleet pays this
 * for every pod, all the time: millicores per pod times the pods. Beside them, the same sidecar
 * refreshing every 30 s (values unchanged, as most refreshes find them): the CPU of one refresh
 * and of what V8 collects after it, from which any interval's average follows (the injected
 * default, 5m, included).
 *
 *   node bench/idle.ts [--quick]
 *   BENCH_IDLE_BEFORE=/tmp/old-dist   an earlier build (node build.ts --outdir) beside this one
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import { freePort, webIdentityToken } from '../test/helpers/agent-process.ts';
import { startDevProcess } from './dev-process.ts';
import { CLI, NODE, printResult, QUICK, round, sleep, table, tempDir } from './lib.ts';
import { injectPod } from '../injector/inject.ts';
import { benchPod, injectedAgent, seed } from './memory-pod.ts';

const SECRETS = 20;
/**
 * The window measured, once every process has settled: for half a minute after its first write
 * V8 still collects now and then (its memory reducer, after the start's allocations), which a
 * sidecar then does after each refresh and is counted there (below).
 */
const WINDOW_MS = QUICK ? 2_000 : 60_000;
const SETTLE_MS = QUICK ? 3_000 : 30_000;
const BEFORE = process.env['BENCH_IDLE_BEFORE'];

const work = tempDir('sa-bench-idle-');
const dev = await startDevProcess(seed(SECRETS), work);
const tokenFile = join(work, 'token');
writeFileSync(tokenFile, webIdentityToken());

interface Running {
  readonly name: string;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  /** The sidecar's health and metrics port. */
  readonly port?: number;
}

/**
 * The refresh interval of the refreshing sidecar (two refreshes in the window, each with what V8
 * does after it), and the injected default's, in ms.
 */
const REFRESHING_MS = QUICK ? 5_000 : 30_000;
const DEFAULT_REFRESH_MS = 300_000;

let sidecars = 0;

/** The sidecar as injected, from `cli` (this build's, or an earlier one's). */
async function sidecar(name: string, cli: string, refresh = '1h'): Promise<Running> {
  const dir = join(work, `out-${(sidecars += 1)}`);
  const port = await freePort();
  const l = injectedAgent({
    n: SECRETS,
    mode: 'sidecar',
    refresh,
    options: DEFAULT_INJECTOR_OPTIONS,
    image: { node: NODE, cli },
    endpoint: dev.url,
    tokenFile,
    outputDir: dir,
    terminationLog: `${dir}-termination-log`,
    port,
  });
  const [file, ...args] = l.argv;
  const child = spawn(file ?? NODE, args, { env: l.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('"all secrets written"')) resolve();
    });
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}:\n${output}`)));
  });
  return { name, child, ready, port };
}

/** The sidecar's Secrets Manager calls so far (one BatchGetSecretValue per refresh here). */
async function awsCalls(port: number | undefined): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) =>
      l.startsWith(
        'secrets_agent_aws_api_calls_total{operation="BatchGetSecretValue",outcome="success"}',
      ),
    );
  return Number(line?.split(' ').at(-1) ?? 0);
}

function bare(): Running {
  const child = spawn(NODE, ['-e', 'setTimeout(() => {}, 1e9)'], { stdio: 'ignore' });
  return { name: 'bare node -e (waiting on a timer)', child, ready: Promise.resolve() };
}

interface Reading {
  /** CPU time of all threads, ns (the first field of each thread's schedstat). */
  readonly cpuNs: number;
  readonly wakeups: number;
}

function reading(pid: number): Reading {
  let cpuNs = 0;
  let wakeups = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      cpuNs += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      wakeups += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return { cpuNs, wakeups };
}

/** The liveness probe the injector gives the sidecar: the kubelet's request, and how often. */
function livenessProbe(): { path: string; periodMs: number } {
  const result = injectPod(benchPod(SECRETS, 'sidecar', '1h'), DEFAULT_INJECTOR_OPTIONS);
  if (result.outcome !== 'injected') throw new Error(`bench pod not injected: ${result.outcome}`);
  const agent = [...(result.pod.spec.initContainers ?? []), ...result.pod.spec.containers].find(
    (c) => c.livenessProbe?.httpGet !== undefined,
  );
  const probe = agent?.livenessProbe;
  if (probe?.httpGet?.path === undefined) throw new Error('no liveness probe on the sidecar');
  // The quick run has no time for the kubelet's period: it probes every half second.
  return { path: probe.httpGet.path, periodMs: QUICK ? 500 : (probe.periodSeconds ?? 10) * 1000 };
}
const LIVENESS = livenessProbe();

const runs: Running[] = [
  bare(),
  await sidecar('sidecar as injected', CLI),
  await sidecar(
    `the same, refreshing every ${REFRESHING_MS / 1000} s`,
    CLI,
    `${REFRESHING_MS / 1000}s`,
  ),
  await sidecar(
    `the same, idle, probed as the kubelet does (${LIVENESS.path} every ${LIVENESS.periodMs / 1000} s)`,
    CLI,
  ),
  ...(BEFORE === undefined
    ? []
    : [await sidecar(`before (${BEFORE}/cli.js)`, join(BEFORE, 'cli.js'))]),
];
try {
  await Promise.all(runs.map((r) => r.ready));
  await sleep(SETTLE_MS);
  const refreshing = runs[2];
  // Scraped outside the window: a scrape's own CPU is not counted.
  const callsBefore = await awsCalls(refreshing?.port);
  // The idle sidecar's first refresh falls anywhere in its hour: a window it refreshed in says so.
  const idleCallsBefore = await awsCalls(runs[1]?.port);
  const probed = runs[3];
  const start = runs.map((r) => reading(r.child.pid ?? 0));
  let probes = 0;
  const prober = setInterval(() => {
    probes += 1;
    void fetch(`http://127.0.0.1:${probed?.port}${LIVENESS.path}`).then((r) => r.arrayBuffer());
  }, LIVENESS.periodMs);
  await sleep(WINDOW_MS);
  clearInterval(prober);
  const end = runs.map((r) => reading(r.child.pid ?? 0));
  const refreshes = (await awsCalls(refreshing?.port)) - callsBefore;
  const idleRefreshes = (await awsCalls(runs[1]?.port)) - idleCallsBefore;
  const results = runs.map((r, i) => {
    const a = start[i] ?? { cpuNs: 0, wakeups: 0 };
    const b = end[i] ?? { cpuNs: 0, wakeups: 0 };
    const cpuMs = round((b.cpuNs - a.cpuNs) / 1e6, 1);
    return {
      variant: r.name,
      cpuMs,
      millicores: round((cpuMs / WINDOW_MS) * 1000, 2),
      wakeupsPerSecond: round((b.wakeups - a.wakeups) / (WINDOW_MS / 1000), 1),
    };
  });
  const bareResult = results[0];
  const agent = results[1];
  const perRefreshMs =
    refreshes > 0 ? round(((results[2]?.cpuMs ?? 0) - (agent?.cpuMs ?? 0)) / refreshes, 1) : null;
  const perProbeMs =
    probes > 0 ? round(((results[3]?.cpuMs ?? 0) - (agent?.cpuMs ?? 0)) / probes, 2) : null;
  // In a pod: idle, plus a refresh every 5 minutes, plus the kubelet's liveness probes.
  const atDefault =
    perRefreshMs === null || perProbeMs === null
      ? null
      : round(
          (agent?.millicores ?? 0) +
            (perRefreshMs / DEFAULT_REFRESH_MS) * 1000 +
            (perProbeMs / LIVENESS.periodMs) * 1000,
          2,
        );
  process.stdout.write(
    `\nIdle for ${WINDOW_MS / 1000} s, ${SETTLE_MS / 1000} s after ready: CPU time of all ` +
      `threads (schedstat) and their voluntary wake-ups\n\n`,
  );
  process.stdout.write(
    table(
      ['variant', 'CPU ms', 'millicores', 'wake-ups/s'],
      results.map((r) => [r.variant, r.cpuMs, r.millicores, r.wakeupsPerSecond]),
    ),
  );
  if (idleRefreshes > 0)
    process.stdout.write(
      `\nthe idle sidecar refreshed ${idleRefreshes} time(s) in the window: run again\n`,
    );
  process.stdout.write(
    `\nthe sidecar, idle: ${agent?.millicores} millicores and ${agent?.wakeupsPerSecond} ` +
      `wake-ups/s (a bare Node: ${bareResult?.millicores} and ${bareResult?.wakeupsPerSecond}); ` +
      `per 1,000 idle pods: ${round(agent?.millicores ?? 0, 1)} cores\n` +
      `a refresh of ${SECRETS} unchanged secrets: ${perRefreshMs ?? '-'} ms of CPU ` +
      `(${refreshes} in the window); a liveness probe: ${perProbeMs ?? '-'} ms (${probes}); ` +
      `refreshed every 5m and probed as injected, a sidecar averages ${atDefault ?? '-'} ` +
      `millicores\n`,
  );
  printResult('idle', {
    quick: QUICK,
    windowMs: WINDOW_MS,
    secrets: SECRETS,
    bare: bareResult,
    sidecar: { ...agent, refreshes: idleRefreshes },
    refreshing: { ...results[2], refreshes, perRefreshCpuMs: perRefreshMs },
    atDefaultIntervalMillicores: atDefault,
    probed: { ...results[3], probes, perProbeCpuMs: perProbeMs },
    ...(BEFORE === undefined ? {} : { before: results[4] }),
  });
} finally {
  for (const r of runs) r.child.kill('SIGKILL');
  await dev.stop();
}
