/**
 * What an idle sidecar costs between refreshes, against a bare Node, side by side in one run:
 * the CPU the kernel charges it (utime + stime of all its threads, /proc/PID/stat) and how often
 * its threads wake (voluntary context switches of every thread, /proc/PID/task/∗/status), over
 * a window in which nothing happens: the sidecar as injected (20 secrets, IRSA through the dev
 * endpoint's STS, its env's NODE_OPTIONS) once ready, with a refresh interval longer than the
 * window and nobody scraping it; the bare Node is `node -e` waiting on a timer. A fleet pays this
 * for every pod, all the time: millicores per pod times the pods.
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
import { injectedAgent, seed } from './memory-pod.ts';

const SECRETS = 20;
/** The window measured, once every process has settled (3 s after the sidecar is ready). */
const WINDOW_MS = QUICK ? 2_000 : 30_000;
const SETTLE_MS = 3_000;
/** Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;
const BEFORE = process.env['BENCH_IDLE_BEFORE'];

const work = tempDir('sa-bench-idle-');
const dev = await startDevProcess(seed(SECRETS), work);
const tokenFile = join(work, 'token');
writeFileSync(tokenFile, webIdentityToken());

interface Running {
  readonly name: string;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
}

/** The sidecar as injected, from `cli` (this build's, or an earlier one's). */
async function sidecar(name: string, cli: string): Promise<Running> {
  const dir = join(work, `out-${name.length}-${Math.random().toString(36).slice(2)}`);
  const l = injectedAgent({
    n: SECRETS,
    mode: 'sidecar',
    refresh: '1h',
    options: DEFAULT_INJECTOR_OPTIONS,
    image: { node: NODE, cli },
    endpoint: dev.url,
    tokenFile,
    outputDir: dir,
    terminationLog: join(dir, '..', `termination-${name.length}`),
    port: await freePort(),
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
  return { name, child, ready };
}

function bare(): Running {
  const child = spawn(NODE, ['-e', 'setTimeout(() => {}, 1e9)'], { stdio: 'ignore' });
  return { name: 'bare node -e (waiting on a timer)', child, ready: Promise.resolve() };
}

interface Reading {
  readonly cpuTicks: number;
  readonly wakeups: number;
}

function reading(pid: number): Reading {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  let wakeups = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      wakeups += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return { cpuTicks, wakeups };
}

const runs: Running[] = [
  bare(),
  await sidecar('sidecar as injected', CLI),
  ...(BEFORE === undefined
    ? []
    : [await sidecar(`before (${BEFORE}/cli.js)`, join(BEFORE, 'cli.js'))]),
];
try {
  await Promise.all(runs.map((r) => r.ready));
  await sleep(SETTLE_MS);
  const start = runs.map((r) => reading(r.child.pid ?? 0));
  await sleep(WINDOW_MS);
  const end = runs.map((r) => reading(r.child.pid ?? 0));
  const results = runs.map((r, i) => {
    const a = start[i] ?? { cpuTicks: 0, wakeups: 0 };
    const b = end[i] ?? { cpuTicks: 0, wakeups: 0 };
    const cpuMs = ((b.cpuTicks - a.cpuTicks) * 1000) / TICKS_PER_SECOND;
    return {
      variant: r.name,
      cpuMs,
      millicores: round((cpuMs / WINDOW_MS) * 1000, 2),
      wakeupsPerSecond: round((b.wakeups - a.wakeups) / (WINDOW_MS / 1000), 1),
    };
  });
  const bareResult = results[0];
  const agent = results[1];
  process.stdout.write(
    `\nIdle for ${WINDOW_MS / 1000} s, ${SETTLE_MS / 1000} s after ready: CPU charged (all ` +
      `threads, ${1000 / TICKS_PER_SECOND} ms ticks) and voluntary wake-ups of every thread\n\n`,
  );
  process.stdout.write(
    table(
      ['variant', 'CPU ms', 'millicores', 'wake-ups/s'],
      results.map((r) => [r.variant, r.cpuMs, r.millicores, r.wakeupsPerSecond]),
    ),
  );
  process.stdout.write(
    `\nthe sidecar, idle: ${agent?.millicores} millicores and ${agent?.wakeupsPerSecond} ` +
      `wake-ups/s (a bare Node: ${bareResult?.millicores} and ${bareResult?.wakeupsPerSecond}); ` +
      `per 1,000 idle pods: ${round(agent?.millicores ?? 0, 1)} cores\n`,
  );
  printResult('idle', {
    quick: QUICK,
    windowMs: WINDOW_MS,
    secrets: SECRETS,
    bare: bareResult,
    sidecar: agent,
    ...(BEFORE === undefined ? {} : { before: results[2] }),
  });
} finally {
  for (const r of runs) r.child.kill('SIGKILL');
  await dev.stop();
}
