/**
 * Memory as the platform charges it. The agent container exactly as the injector writes it (its
 * entrypoint and args, its env, its memory limit: bench/memory-pod.ts), run from a copy of the
 * image's files (the Node binary and dist/) in a memory cgroup at the injected limit, with a
 * tmpfs at its output directory charged to the same group (bench/memory-cgroup.ts). "Cold": the
 * page cache dropped first and no other process mapping that copy, as on the first pod of the
 * image on a fresh node. The endpoint (`secrets-agent dev`: 100 secrets of ~2 KB, and STS for
 * the IRSA exchange the pod makes) is a process of its own, outside the group.
 *
 * (a) init agent, 20 and 100 secrets: time to done, cold, under the limit vs unlimited;
 * (b) sidecar, 100 secrets: time to ready, likewise;
 * (c) sidecar: peak working set (usage − inactive file pages) and peak charge over N refresh
 *     cycles (every secret rotated before each), against its limit and against a bare Node
 *     (`node -e`, alive a few seconds) measured the same way;
 * (d) failcnt and OOM kills of every group;
 * (e) headroom: the smallest limit at which the sidecar still becomes ready cold within 2x of
 *     unlimited, with the volume filled to its size limit (the files count against the same
 *     limit), stepping down from the default;
 * (f) contributors: the sidecar's peak working set with each V8 flag set (the injected ones,
 *     none, others), and what loading each dependency adds to a bare Node's;
 * (g) the n-th pod: K sidecars (1, 10, 50) side by side in one group share the pages of the
 *     Node binary and the bundle: the working set per agent once all are ready.
 *
 *   node bench/memory.ts [--quick]
 *   BENCH_MEMORY_LIMIT=96Mi          measure another limit than the injector's default
 *   BENCH_MEMORY_CYCLES=30           refresh cycles of the sidecar (5 s each)
 *   BENCH_MEMORY_FLAG_SETS='--a;--b --c'  NODE_OPTIONS the contributors table compares
 *   BENCH_MEMORY_IMAGE_DIR=/mnt/x    where the image copy goes (its block device's readahead
 *                                    sets how much of the binary a cold start reads); by
 *                                    default a disk of its own with the kernel's default
 *                                    readahead, 128 KB, as a node's (bench/image-disk.ts)
 *
 * Root only (cgroups, tmpfs mounts, drop_caches); otherwise it says so and measures what it can
 * (unconfined warm times, peak RSS). --quick keeps the cache warm (it runs in the test suite,
 * on a shared machine), runs each case once and skips (e).
 */
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { quantityValue } from '../injector/annotations.ts';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import { AGENT_NODE_OPTIONS } from '../injector/types.ts';
import { freePort, webIdentityToken } from '../test/helpers/agent-process.ts';
import { startDevProcess } from './dev-process.ts';
import { imageDisk } from './image-disk.ts';
import { CLI, median, printResult, QUICK, ROOT, round, sleep, table, tempDir } from './lib.ts';
import {
  cgroupSupport,
  confine,
  dropCaches,
  MemoryCgroup,
  readAheadKb,
  removeStaleGroups,
  spawnConfined,
  type CgroupSummary,
  type Volume,
} from './memory-cgroup.ts';
import { injectedAgent, rotateAll, seed, VALUE_BYTES, type Image } from './memory-pod.ts';

const MiB = 1024 * 1024;
const SECRETS = 100;
const INIT_SIZES = QUICK ? [20] : [20, 100];
const RUNS = QUICK ? 1 : 3;
const CYCLES = QUICK ? 1 : Number(process.env['BENCH_MEMORY_CYCLES'] ?? 30);
if (!Number.isInteger(CYCLES) || CYCLES < 1)
  throw new Error(
    `BENCH_MEMORY_CYCLES: a whole number of refresh cycles, at least 1; got ${process.env['BENCH_MEMORY_CYCLES']}`,
  );
const REFRESH = '5s';
const RUN_TIMEOUT_MS = QUICK ? 60_000 : 240_000;
const BARE_ALIVE_MS = QUICK ? 1000 : 3000;
/** The headroom search steps down by this much, to this floor. */
const STEP = 8 * MiB;
const FLOOR = 32 * MiB;

const GOAL_COLD_RATIO = 2;
const GOAL_LIMIT_FRACTION = 0.75;
const GOAL_BARE_RATIO = 2;
const STRETCH_BARE_RATIO = 1.5;

const support = cgroupSupport();
const confined = support.ok;
if (confined) removeStaleGroups();
/** Cold runs drop the page cache: in the full run, with root. */
const cold = confined && !QUICK;
const options = DEFAULT_INJECTOR_OPTIONS;
const limitText = process.env['BENCH_MEMORY_LIMIT'] ?? options.resources.limits['memory'] ?? '';
const limitBytes = quantityValue(limitText);
if (!Number.isFinite(limitBytes))
  throw new Error(`BENCH_MEMORY_LIMIT: not a quantity: ${limitText}`);
const measured = {
  ...options,
  resources: { ...options.resources, limits: { ...options.resources.limits, memory: limitText } },
};
const volumeBytes = quantityValue(options.volumeSizeLimit);

const work = tempDir('sa-bench-memory-');

// ---- the image: a copy of the Node binary and dist/ that nobody else maps --------------------

/**
 * The image's Node 24 (the project's dev dependency) and the bundle under test, beside a
 * package.json as in the image. A copy has its own page cache: the bench's own Node (the same
 * file otherwise) keeps nothing of it warm.
 */
function copyImage(): Image & { dir: string } {
  const dir = join(
    process.env['BENCH_MEMORY_IMAGE_DIR'] ?? disk?.dir ?? work,
    `image-${process.pid}`,
  );
  mkdirSync(dir, { recursive: true });
  copyFileSync(realpathSync(join(ROOT, 'node_modules', '.bin', 'node')), join(dir, 'node'));
  cpSync(dirname(CLI), join(dir, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), readFileSync(join(ROOT, 'package.json')));
  return { node: join(dir, 'node'), cli: join(dir, 'dist', 'cli.js'), dir };
}
// The quick run keeps the cache warm: where the image is read from does not matter to it.
const disk =
  confined && !QUICK && process.env['BENCH_MEMORY_IMAGE_DIR'] === undefined
    ? imageDisk(work)
    : undefined;
// Without a group nothing is cold anyway: the project's Node and bundle in place.
const image = confined
  ? copyImage()
  : { node: join(ROOT, 'node_modules', '.bin', 'node'), cli: CLI, dir: ROOT };
const readAhead = confined ? readAheadKb(image.node) : null;

// ---- the endpoint ----------------------------------------------------------------------------

const tokenFile = join(work, 'token');
writeFileSync(tokenFile, webIdentityToken());
const dev = await startDevProcess(seed(SECRETS), work);
// However the run ends: no endpoint left running, no 120 MB image copy left behind.
process.once('exit', () => {
  dev.child.kill();
  disk?.close();
  rmSync(work, { recursive: true, force: true });
  if (image.dir !== ROOT) rmSync(image.dir, { recursive: true, force: true });
});

// ---- runs ------------------------------------------------------------------------------------

type Condition = 'limit' | 'unlimited';

interface RunResult {
  /** Time to done (init) or to ready (sidecar); null when it did not get there. */
  readonly ms: number | null;
  /** Why not: `timeout`, `exit N` (an init agent that gave up), `SIGKILL` (the OOM killer)… */
  readonly failure?: string;
  /** The group's figures, to done or to ready (null without cgroups). */
  readonly cgroup: CgroupSummary | null;
  /** Peak RSS (VmHWM) at the end, for runs without a group. */
  readonly vmHwmBytes: number | null;
}

interface SidecarResult extends RunResult {
  /** Over the refresh cycles, after ready. */
  readonly cycles: CgroupSummary | null;
  readonly cyclesDone: number;
  readonly updates: number;
  /** Working set after each cycle's last file update. */
  readonly wsAfterCycle: readonly number[];
}

let runIndex = 0;

async function group(condition: Condition, label: string, limit = limitBytes) {
  if (!confined) return undefined;
  if (cold) await dropCaches();
  return new MemoryCgroup(label, condition === 'limit' ? limit : null);
}

function volume(fill = 0): Volume {
  const dir = join(work, `run-${runIndex++}`, 'secrets');
  mkdirSync(dir, { recursive: true });
  return { dir, sizeBytes: volumeBytes, fillBytes: fill };
}

function launch(
  n: number,
  mode: 'init' | 'sidecar',
  vol: Volume,
  port = 0,
  opts = measured,
  nodeOptions?: string,
) {
  return injectedAgent({
    ...(nodeOptions === undefined ? {} : { nodeOptions }),
    n,
    mode,
    refresh: REFRESH,
    options: opts,
    image,
    endpoint: dev.url,
    tokenFile,
    outputDir: vol.dir,
    terminationLog: join(dirname(vol.dir), 'termination-log'),
    port,
  });
}

function vmHwm(pid: number | undefined): number | null {
  try {
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

/** Starts argv; calls onLine for each stdout line; keeps the tail of stderr. */
function start(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  onLine: (line: string) => void = () => {},
) {
  const child = spawnConfined(argv, env, image.dir);
  let buffered = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return { child, exited, stderr: () => stderr };
}

async function runInit(n: number, condition: Condition): Promise<RunResult> {
  const g = await group(condition, `init${n}-${condition}`);
  const vol = volume();
  const agent = launch(n, 'init', vol);
  try {
    const started = performance.now();
    g?.startSampling();
    const p = start(confine(g, agent.argv, vol), agent.env);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    const code = await p.exited;
    const ms = performance.now() - started;
    clearTimeout(timer);
    g?.stopSampling();
    const summary = g?.summary() ?? null;
    if (code === 0) return { ms, cgroup: summary, vmHwmBytes: null };
    const failure = timedOut ? 'timeout' : failureOf(code, p.child.signalCode);
    // Only under the limit may an agent fail for want of memory; anything else is the bench's.
    if (condition !== 'limit' || code === 78 || (code !== null && code >= 97))
      throw new Error(`init agent (${n} secrets, ${condition}) ${failure}:\n${p.stderr()}`);
    return { ms: null, failure, cgroup: summary, vmHwmBytes: null };
  } finally {
    await g?.close();
  }
}

function failureOf(code: number | null, signal: NodeJS.Signals | null): string {
  return code === null ? (signal ?? 'killed') : `exit ${code}`;
}

interface SidecarOptions {
  readonly cycles: number;
  /** Instead of the injected NODE_OPTIONS (`''`: none). */
  readonly nodeOptions?: string;
  readonly limit?: number;
  readonly fill?: number;
  /** Give up on ready after this long (the headroom search stops a thrashing start early). */
  readonly readyTimeoutMs?: number;
}

async function runSidecar(condition: Condition, o: SidecarOptions): Promise<SidecarResult> {
  const g = await group(condition, `sidecar-${condition}`, o.limit);
  const vol = volume(o.fill);
  const agent = launch(SECRETS, 'sidecar', vol, await freePort(), measured, o.nodeOptions);
  let updates = 0;
  let readyAt: number | undefined;
  let wake = (): void => {};
  const started = performance.now();
  g?.startSampling();
  const p = start(confine(g, agent.argv, vol), agent.env, (line) => {
    if (line.includes('"secret file updated"')) updates += 1;
    else if (line.includes('"all secrets written"')) readyAt = performance.now();
    else return;
    wake();
  });
  const until = (check: () => boolean, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(check()), ms);
      const done = (): void => {
        if (!check() && p.child.exitCode === null) return;
        clearTimeout(timer);
        resolve(check());
      };
      wake = done;
      void p.exited.then(done);
      done();
    });
  try {
    await until(() => readyAt !== undefined, o.readyTimeoutMs ?? RUN_TIMEOUT_MS);
    const atReady = g?.summary() ?? null;
    const hwm = vmHwm(p.child.pid);
    let cyclesDone = 0;
    const wsAfterCycle: number[] = [];
    let cycles: CgroupSummary | null = null;
    if (readyAt !== undefined && o.cycles > 0) {
      g?.resetPeaks();
      // After each refresh that rewrote every file, every secret changes again.
      for (let c = 1; c <= o.cycles; c++) {
        await rotateAll(dev.url, SECRETS);
        if (!(await until(() => updates >= SECRETS * (c + 1), 30_000 + RUN_TIMEOUT_MS / 4))) break;
        cyclesDone = c;
        if (g !== undefined) wsAfterCycle.push(g.sample().workingSet);
      }
      cycles = g?.summary() ?? null;
    }
    const gone = p.child.exitCode !== null || p.child.signalCode !== null;
    if (readyAt === undefined && gone && condition !== 'limit')
      throw new Error(`sidecar (${condition}) exited ${p.child.exitCode}:\n${p.stderr()}`);
    return {
      ms: readyAt === undefined ? null : readyAt - started,
      ...(readyAt !== undefined
        ? {}
        : { failure: gone ? failureOf(p.child.exitCode, p.child.signalCode) : 'timeout' }),
      cgroup: atReady,
      vmHwmBytes: vmHwm(p.child.pid) ?? hwm,
      cycles,
      cyclesDone,
      updates,
      wsAfterCycle,
    };
  } finally {
    g?.stopSampling();
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await p.exited;
    await g?.close();
  }
}

/** A bare Node, alive a few seconds, in the same kind of group with the same volume. */
async function runBare(condition: Condition): Promise<RunResult> {
  const g = await group(condition, `bare-${condition}`);
  const vol = volume();
  try {
    const started = performance.now();
    g?.startSampling();
    const script = `setTimeout(() => {}, ${BARE_ALIVE_MS})`;
    const p = start(confine(g, [image.node, '-e', script], vol), {
      PATH: process.env['PATH'] ?? '',
    });
    await sleep(BARE_ALIVE_MS - 500);
    const hwm = vmHwm(p.child.pid);
    const code = await p.exited;
    g?.stopSampling();
    if (code !== 0) throw new Error(`bare node exited ${code}:\n${p.stderr()}`);
    return { ms: performance.now() - started, cgroup: g?.summary() ?? null, vmHwmBytes: hwm };
  } finally {
    await g?.close();
  }
}

/** Each dependency as the agent loads it: the bundle's own file where it vendors one. */
const requireFrom = createRequire(join(ROOT, 'package.json'));
const DEPENDENCIES: readonly (readonly [string, string | null])[] = [
  ['bare node', null],
  [
    'dist/commands/agent.js (the agent, Secrets Manager client, credentials)',
    join(dirname(image.cli), 'commands', 'agent.js'),
  ],
  [
    '@aws-sdk/client-secrets-manager (loaded only where the agent needs the SDK)',
    join(dirname(image.cli), 'node_modules', '@aws-sdk', 'client-secrets-manager', 'index.js'),
  ],
  [
    '@aws-sdk/credential-provider-node (loaded only where the agent needs the SDK)',
    join(dirname(image.cli), 'node_modules', '@aws-sdk', 'credential-provider-node', 'index.js'),
  ],
  ['prom-client', requireFrom.resolve('prom-client')],
  ['@jmespath-community/jmespath', requireFrom.resolve('@jmespath-community/jmespath')],
  ['handlebars', join(dirname(image.cli), 'node_modules', 'handlebars', 'index.js')],
  ['yaml', join(dirname(image.cli), 'node_modules', 'yaml', 'index.js')],
  [
    '@aws-sdk/client-ssm',
    join(dirname(image.cli), 'node_modules', '@aws-sdk', 'client-ssm', 'index.js'),
  ],
];

/** A Node that loads one module (or nothing) and stays a few seconds: its peak working set. */
async function runModule(path: string | null): Promise<number | null> {
  const g = await group('unlimited', 'module');
  const vol = volume();
  try {
    g?.startSampling();
    // A command's file only defines the command: loading it runs nothing.
    const load = path === null ? '' : `require(${JSON.stringify(path)});`;
    const p = start(
      confine(g, [image.node, '-e', `${load} setTimeout(() => {}, ${BARE_ALIVE_MS})`], vol),
      {
        PATH: process.env['PATH'] ?? '',
      },
    );
    const code = await p.exited;
    g?.stopSampling();
    if (code !== 0) throw new Error(`node -e require(${path}) exited ${code}:\n${p.stderr()}`);
    return g?.summary().peakWorkingSetBytes ?? null;
  } finally {
    await g?.close();
  }
}

/** K sidecars as injected, started together in one group (cold, in the full run). */
async function runFleet(k: number) {
  const g = await group('unlimited', `fleet${k}`);
  const agents: ReturnType<typeof start>[] = [];
  let ready = 0;
  let wake = (): void => {};
  const started = performance.now();
  try {
    g?.startSampling(100);
    for (let i = 0; i < k; i++) {
      const vol = volume();
      const agent = launch(SECRETS, 'sidecar', vol, await freePort());
      agents.push(
        start(confine(g, agent.argv, vol), agent.env, (line) => {
          if (!line.includes('"all secrets written"')) return;
          ready += 1;
          wake();
        }),
      );
    }
    const allReady = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), RUN_TIMEOUT_MS);
      wake = () => {
        if (ready < k) return;
        clearTimeout(timer);
        resolve(true);
      };
      wake();
    });
    const readyMs = allReady ? performance.now() - started : null;
    // Why not: how many were not ready, and the first that had exited, with its last words.
    const gone = agents.find((a) => a.child.exitCode !== null || a.child.signalCode !== null);
    const notReady = allReady
      ? undefined
      : `${k - ready} of ${k} not ready` +
        (gone === undefined
          ? ''
          : `; ${failureOf(gone.child.exitCode, gone.child.signalCode)}: ${gone.stderr().trim().slice(-300)}`);
    // Settled: a second after the last one became ready.
    await sleep(1000);
    const now = g?.sample().workingSet;
    const peak = g?.summary().peakWorkingSetBytes;
    return {
      k,
      perAgentBytes: now === undefined || !allReady ? null : now / k,
      peakPerAgentBytes: peak === undefined || !allReady ? null : peak / k,
      readyMs,
      ...(notReady === undefined ? {} : { notReady }),
    };
  } finally {
    g?.stopSampling();
    for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGKILL');
    await Promise.all(agents.map((a) => a.exited));
    await g?.close();
  }
}

// ---- the run ---------------------------------------------------------------------------------

const mib = (bytes: number | null | undefined): string =>
  bytes === null || bytes === undefined ? '-' : (bytes / MiB).toFixed(1);
const secs = (ms: number | null, failure = 'timeout'): string =>
  ms === null ? failure : (ms / 1000).toFixed(2);
const runSecs = (r: RunResult): string => secs(r.ms, r.failure);
const medianOf = (xs: readonly (number | null | undefined)[]): number | null =>
  xs.length === 0 || xs.some((x) => x === null || x === undefined) ? null : median(xs as number[]);
const maxOf = (xs: readonly (number | null | undefined)[]): number | null => {
  const ok = xs.filter((x): x is number => typeof x === 'number');
  return ok.length === 0 ? null : Math.max(...ok);
};

const probe = launch(SECRETS, 'sidecar', { dir: '/secrets', sizeBytes: volumeBytes });
const nodeOptions = probe.env['NODE_OPTIONS'] ?? null;
process.stdout.write(
  `Memory as the platform charges it: the agent container as injected (sidecar: node cli.js agent, limit ${probe.limit ?? 'none'}, ` +
    `request ${probe.request ?? 'none'}, NODE_OPTIONS ${nodeOptions ?? 'unset'}), ` +
    `its volume a tmpfs of ${options.volumeSizeLimit}, ${SECRETS} secrets of ~${VALUE_BYTES / 1024} KB, IRSA through the dev endpoint's STS\n`,
);
if (!confined) {
  process.stdout.write(
    `memory cgroups unavailable: ${support.ok ? '' : support.reason}. Times are unconfined and warm, ` +
      'memory is peak RSS (VmHWM); no working set, no limit. Run as root on Linux with the cgroup v1 memory controller for the real figures.\n',
  );
} else {
  process.stdout.write(
    `${cold ? 'cold: page cache dropped before each run' : 'warm (quick mode: the page cache is not dropped)'}; ` +
      `readahead of the image's block device: ${readAhead === null ? 'unknown' : `${readAhead} KB`}\n`,
  );
}

const CONDITIONS: readonly Condition[] = confined ? ['limit', 'unlimited'] : ['unlimited'];
const repeat = async <T>(n: number, f: (i: number) => Promise<T>): Promise<T[]> => {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await f(i));
  return out;
};

// (a) init; (b) and (c): the first sidecar run of each condition goes on for the cycles.
const init = new Map<number, Map<Condition, RunResult[]>>();
for (const n of INIT_SIZES) {
  const byCondition = new Map<Condition, RunResult[]>();
  for (const c of CONDITIONS) byCondition.set(c, await repeat(RUNS, () => runInit(n, c)));
  init.set(n, byCondition);
}
const sidecar = new Map<Condition, SidecarResult[]>();
for (const c of CONDITIONS)
  sidecar.set(c, await repeat(RUNS, (i) => runSidecar(c, { cycles: i === 0 ? CYCLES : 0 })));
const bare = new Map<Condition, RunResult[]>();
for (const c of CONDITIONS) bare.set(c, await repeat(RUNS, () => runBare(c)));

// (e) headroom: step the limit down from the measured one, volume full, until a cold start
// takes more than twice the unlimited one (or the floor).
interface Step {
  readonly limitBytes: number;
  readonly ms: number | null;
  readonly ratio: number | null;
}
const steps: Step[] = [];
const unlimitedReady = medianOf((sidecar.get('unlimited') ?? []).map((r) => r.ms));
const fill = Math.max(0, volumeBytes - MiB);
if (cold && unlimitedReady !== null) {
  for (let limit = limitBytes; limit >= FLOOR; limit -= STEP) {
    const give = GOAL_COLD_RATIO * unlimitedReady * 1.5 + 1000;
    const runs = await repeat(2, () =>
      runSidecar('limit', { cycles: 0, limit, fill, readyTimeoutMs: give }),
    );
    const ms = medianOf(runs.map((r) => r.ms));
    const ratio = ms === null ? null : ms / unlimitedReady;
    steps.push({ limitBytes: limit, ms, ratio });
    if (ratio === null || ratio > GOAL_COLD_RATIO) break;
  }
}

// (f) contributors: the sidecar's peak working set with each NODE_OPTIONS, and what loading each
// dependency adds to a bare Node's working set.
/** BENCH_MEMORY_FLAG_SETS="--a --b;--c": other NODE_OPTIONS to compare (`;` between them). */
const FLAG_SETS: readonly string[] = process.env['BENCH_MEMORY_FLAG_SETS']?.split(';') ?? [
  '',
  // The quick run (in the test suite) measures only the sidecar without flags beside the rest.
  ...(QUICK ? [] : ['--jitless', '--max-semi-space-size=1', AGENT_NODE_OPTIONS.sidecar]),
];
const flagRuns = new Map<string, number | null>();
const moduleRuns = new Map<string, number | null>();
if (confined) {
  for (const flags of FLAG_SETS) {
    const runs = await repeat(RUNS, () =>
      runSidecar('unlimited', { cycles: QUICK ? 0 : 3, nodeOptions: flags }),
    );
    flagRuns.set(
      flags.trim() || '(none)',
      medianOf(
        runs.map((r) => maxOf([r.cgroup?.peakWorkingSetBytes, r.cycles?.peakWorkingSetBytes])),
      ),
    );
  }
  for (const [name, path] of QUICK ? DEPENDENCIES.slice(1, 2) : DEPENDENCIES)
    moduleRuns.set(name, medianOf(await repeat(RUNS, () => runModule(path))));
}

// (g) the marginal cost of the n-th pod: K sidecars side by side in one group share the pages of
// the Node binary and the bundle; the working set per agent once all are ready.
const K_VALUES = QUICK ? [2] : [1, 10, 50];
const fleet: {
  k: number;
  perAgentBytes: number | null;
  peakPerAgentBytes: number | null;
  readyMs: number | null;
  notReady?: string;
}[] = [];
if (confined) for (const k of K_VALUES) fleet.push(await runFleet(k));
await dev.stop();

// ---- report ----------------------------------------------------------------------------------

const temperature = cold ? 'cold' : 'warm';
const timeRows: string[][] = [];
const timeJson: Record<string, unknown> = {};
function timeCase(
  label: string,
  key: string,
  runs: ReadonlyMap<Condition, readonly RunResult[]>,
): void {
  const lim = runs.get('limit') ?? [];
  const unl = runs.get('unlimited') ?? [];
  const lm = medianOf(lim.map((r) => r.ms));
  const um = medianOf(unl.map((r) => r.ms));
  const ratio = lm === null || um === null ? null : lm / um;
  const all = [...lim, ...unl];
  timeRows.push([
    label,
    lim.map(runSecs).join(' ') || '-',
    unl.map(runSecs).join(' '),
    ratio === null ? '-' : `${ratio.toFixed(2)}x`,
    String(maxOf(lim.map((r) => r.cgroup?.failcnt)) ?? '-'),
    String(maxOf(all.map((r) => r.cgroup?.oomKills)) ?? '-'),
    mib(maxOf(lim.map((r) => r.cgroup?.peakChargeBytes))),
    mib(maxOf(unl.map((r) => r.cgroup?.peakChargeBytes))),
  ]);
  timeJson[key] = {
    limitMs: lim.map((r) => r.ms),
    limitFailures: lim.flatMap((r) => (r.failure === undefined ? [] : [r.failure])),
    unlimitedMs: unl.map((r) => r.ms),
    ratio: ratio === null ? null : round(ratio),
    failcnt: lim.map((r) => r.cgroup?.failcnt ?? null),
    oomKills: maxOf(all.map((r) => r.cgroup?.oomKills)),
    peakChargeLimitBytes: lim.map((r) => r.cgroup?.peakChargeBytes ?? null),
    peakChargeUnlimitedBytes: unl.map((r) => r.cgroup?.peakChargeBytes ?? null),
  };
}
for (const n of INIT_SIZES)
  timeCase(`init, ${n} secrets: to done`, `init${n}`, init.get(n) ?? new Map());
timeCase(`sidecar, ${SECRETS} secrets: to ready`, 'sidecarReady', sidecar);
process.stdout.write(
  `\n(a, b) time, ${temperature}, ${RUNS} run(s) each, seconds; ratio of the medians; failcnt under the limit; OOM kills of any run\n` +
    `${table(['', `under ${limitText}`, 'unlimited', 'ratio', 'failcnt', 'OOM', `peak charge MiB (${limitText})`, 'peak charge MiB (unl.)'], timeRows)}\n`,
);

const first = (c: Condition): SidecarResult | undefined => sidecar.get(c)?.[0];
const bareOf = (c: Condition, pick: (r: RunResult) => number | null | undefined): number | null =>
  medianOf((bare.get(c) ?? []).map(pick));
/** The sidecar's peak working set, from its start through the cycles. */
const sidecarWs = (c: Condition): number | null =>
  maxOf([first(c)?.cgroup?.peakWorkingSetBytes, first(c)?.cycles?.peakWorkingSetBytes]);
const memRows: string[][] = [];
const memJson: Record<string, unknown> = {};
for (const c of CONDITIONS) {
  const run = first(c);
  const ws = sidecarWs(c);
  const bareWs = bareOf(c, (r) => r.cgroup?.peakWorkingSetBytes);
  const where = c === 'limit' ? `under ${limitText}` : 'unlimited';
  const after = run?.wsAfterCycle ?? [];
  memRows.push(
    [
      `sidecar, ${where}`,
      mib(run?.cgroup?.peakWorkingSetBytes),
      mib(run?.cycles?.peakWorkingSetBytes),
      after.length === 0 ? '-' : `${mib(after[0])} -> ${mib(after.at(-1))}`,
      mib(maxOf([run?.cgroup?.peakChargeBytes, run?.cycles?.peakChargeBytes])),
      ws === null ? '-' : `${((ws / limitBytes) * 100).toFixed(0)}%`,
      ws === null || bareWs === null ? '-' : `${(ws / bareWs).toFixed(2)}x`,
      String(maxOf([run?.cgroup?.failcnt, run?.cycles?.failcnt]) ?? '-'),
      mib(run?.vmHwmBytes),
    ],
    [
      `bare node, ${where}`,
      mib(bareWs),
      '',
      '',
      mib(bareOf(c, (r) => r.cgroup?.peakChargeBytes)),
      bareWs === null ? '-' : `${((bareWs / limitBytes) * 100).toFixed(0)}%`,
      '1.00x',
      String(maxOf((bare.get(c) ?? []).map((r) => r.cgroup?.failcnt)) ?? '-'),
      mib(bareOf(c, (r) => r.vmHwmBytes)),
    ],
  );
  memJson[c] = {
    cyclesDone: run?.cyclesDone ?? 0,
    updates: run?.updates ?? 0,
    peakWorkingSetToReadyBytes: run?.cgroup?.peakWorkingSetBytes ?? null,
    peakWorkingSetCyclesBytes: run?.cycles?.peakWorkingSetBytes ?? null,
    workingSetAfterEachCycleBytes: after,
    peakChargeBytes: maxOf([run?.cgroup?.peakChargeBytes, run?.cycles?.peakChargeBytes]),
    failcnt: maxOf([run?.cgroup?.failcnt, run?.cycles?.failcnt]),
    oomKills: maxOf([run?.cgroup?.oomKills, run?.cycles?.oomKills]),
    vmHwmBytes: run?.vmHwmBytes ?? null,
    bare: {
      peakWorkingSetBytes: bareWs,
      peakChargeBytes: bareOf(c, (r) => r.cgroup?.peakChargeBytes),
      vmHwmBytes: bareOf(c, (r) => r.vmHwmBytes),
    },
  };
}
process.stdout.write(
  `\n(c, d) sidecar over ${CYCLES} refresh cycles of ${REFRESH}, all ${SECRETS} secrets rotated before each; ` +
    `working set (WS) = usage - inactive file, sampled every 50 ms; bare node alive ${BARE_ALIVE_MS / 1000} s\n` +
    `${table(['', 'peak WS MiB to ready', 'peak WS MiB cycles', 'WS after cycle 1 -> last', 'peak charge MiB', `WS of ${limitText}`, 'x bare WS', 'failcnt', 'VmHWM MiB'], memRows)}\n`,
);

const lastPass = [...steps].reverse().find((s) => s.ratio !== null && s.ratio <= GOAL_COLD_RATIO);
const firstFail = steps.find((s) => s.ratio === null || s.ratio > GOAL_COLD_RATIO);
if (steps.length > 0) {
  process.stdout.write(
    `\n(e) sidecar to ready, cold, volume filled with ${mib(fill)} MiB, by limit (2 runs each; unlimited: ${secs(unlimitedReady)} s)\n` +
      `${table(
        ['limit MiB', 'to ready s', 'x unlimited'],
        steps.map((s) => [
          mib(s.limitBytes),
          secs(s.ms),
          s.ratio === null ? '-' : `${s.ratio.toFixed(2)}x`,
        ]),
      )}\n`,
  );
}

if (confined) {
  const bareModule =
    moduleRuns.get('bare node') ?? bareOf('unlimited', (r) => r.cgroup?.peakWorkingSetBytes);
  const noFlags = flagRuns.get('(none)') ?? null;
  process.stdout.write(
    `\n(f) contributors, ${temperature}, unlimited, median of ${RUNS}: the sidecar's peak working set with each V8 flag set; a Node that loads one module\n` +
      `${table(
        ['', 'peak WS MiB', 'vs none / vs bare MiB'],
        [
          ...[...flagRuns].map(([flags, ws]) => [
            `sidecar, flags ${flags}`,
            mib(ws),
            ws === null || noFlags === null ? '-' : ((ws - noFlags) / MiB).toFixed(1),
          ]),
          ...[...moduleRuns].map(([name, ws]) => [
            `require ${name}`,
            mib(ws),
            ws === null || bareModule === null ? '-' : `+${((ws - bareModule) / MiB).toFixed(1)}`,
          ]),
        ],
      )}\n`,
  );
  process.stdout.write(
    `\n(g) K sidecars (${SECRETS} secrets each, as injected) side by side in one group, ${temperature}: working set per agent\n` +
      `${table(
        ['K', 'WS per agent MiB (settled)', 'peak WS per agent MiB', 'all ready s', 'x bare WS'],
        fleet.map((f) => [
          f.k,
          mib(f.perAgentBytes),
          mib(f.peakPerAgentBytes),
          secs(f.readyMs),
          f.perAgentBytes === null || bareModule === null
            ? '-'
            : `${(f.perAgentBytes / bareModule).toFixed(2)}x`,
        ]),
      )}\n` +
      fleet
        .flatMap((f) => (f.notReady === undefined ? [] : [`K=${f.k}: ${f.notReady}\n`]))
        .join(''),
  );
}

// Goals, on the worst case: the larger ratio, the larger working set of the two conditions.
const ratios = Object.values(timeJson).map((v) => (v as { ratio: number | null }).ratio);
const worstRatio =
  !confined || ratios.some((r) => r === null) ? null : Math.max(...(ratios as number[]));
const ws = maxOf(CONDITIONS.map(sidecarWs));
const wsFraction = ws === null || !confined ? null : ws / limitBytes;
const bareWsUnlimited = bareOf('unlimited', (r) => r.cgroup?.peakWorkingSetBytes);
const bareRatio = ws === null || bareWsUnlimited === null ? null : ws / bareWsUnlimited;
const oomKills = maxOf(
  [
    ...[...init.values()].flatMap((m) => [...m.values()].flat()),
    ...[...sidecar.values()].flat(),
  ].map((r) => r.cgroup?.oomKills),
);
const verdict = (value: number | null, goal: number): string =>
  value === null ? 'not measured' : value <= goal ? 'met' : 'MISSED';
const headroom = lastPass === undefined ? null : limitBytes / lastPass.limitBytes;
process.stdout.write(
  `\ngoals (${temperature}):\n` +
    `  under ${limitText} within ${GOAL_COLD_RATIO}x of unlimited: worst ${worstRatio === null ? '-' : `${worstRatio.toFixed(2)}x`} ${verdict(worstRatio, GOAL_COLD_RATIO)}\n` +
    `  peak working set <= ${GOAL_LIMIT_FRACTION * 100}% of ${limitText}: ${wsFraction === null ? '-' : `${(wsFraction * 100).toFixed(0)}% (${mib(ws)} MiB)`} ${verdict(wsFraction, GOAL_LIMIT_FRACTION)}\n` +
    `  peak working set <= ${GOAL_BARE_RATIO}x a bare node's: ${bareRatio === null ? '-' : `${bareRatio.toFixed(2)}x (bare ${mib(bareWsUnlimited)} MiB)`} ${verdict(bareRatio, GOAL_BARE_RATIO)}; stretch ${STRETCH_BARE_RATIO}x: ${verdict(bareRatio, STRETCH_BARE_RATIO)}\n` +
    `  OOM kills: ${oomKills ?? '-'}\n` +
    headroomLine(),
);

function headroomLine(): string {
  if (steps.length === 0) return '';
  const pass = lastPass === undefined ? '-' : `${mib(lastPass.limitBytes)} MiB`;
  const fail =
    firstFail === undefined
      ? ''
      : ` (at ${mib(firstFail.limitBytes)} MiB: ${firstFail.ratio === null ? 'not ready in time' : `${firstFail.ratio.toFixed(2)}x`})`;
  const of = headroom === null ? '' : `; ${limitText} is ${headroom.toFixed(2)}x that`;
  return `  headroom: ready cold within ${GOAL_COLD_RATIO}x down to ${pass} with a full volume${fail}${of}\n`;
}
if (!confined) {
  const hwm = first('unlimited')?.vmHwmBytes ?? null;
  const bareHwm = bareOf('unlimited', (r) => r.vmHwmBytes);
  process.stdout.write(
    `  (unconfined) sidecar peak RSS ${mib(hwm)} MiB, ${hwm === null || bareHwm === null ? '-' : (hwm / bareHwm).toFixed(2)}x a bare node's ${mib(bareHwm)} MiB\n`,
  );
}

printResult('memory', {
  cgroup: confined
    ? { available: true }
    : { available: false, reason: support.ok ? '' : support.reason },
  cold,
  readAheadKb: readAhead,
  limit: limitText,
  limitBytes,
  request: probe.request ?? null,
  nodeOptions,
  volumeSizeLimit: options.volumeSizeLimit,
  secrets: SECRETS,
  valueBytes: VALUE_BYTES,
  cycles: CYCLES,
  runs: RUNS,
  time: timeJson,
  sidecar: memJson,
  contributors: {
    sidecarPeakWorkingSetByFlags: Object.fromEntries(flagRuns),
    peakWorkingSetByModule: Object.fromEntries(moduleRuns),
  },
  fleet,
  headroom: {
    volumeFillBytes: fill,
    steps,
    smallestLimitBytes: lastPass?.limitBytes ?? null,
    ratio: headroom === null ? null : round(headroom),
  },
  goal: {
    coldRatio: {
      max: GOAL_COLD_RATIO,
      worst: worstRatio,
      met: worstRatio !== null && worstRatio <= GOAL_COLD_RATIO,
    },
    workingSetOfLimit: {
      max: GOAL_LIMIT_FRACTION,
      peakBytes: ws,
      fraction: wsFraction === null ? null : round(wsFraction, 3),
      met: wsFraction !== null && wsFraction <= GOAL_LIMIT_FRACTION,
    },
    bareRatio: {
      max: GOAL_BARE_RATIO,
      stretch: STRETCH_BARE_RATIO,
      ratio: bareRatio === null ? null : round(bareRatio),
      met: bareRatio !== null && bareRatio <= GOAL_BARE_RATIO,
    },
    oomKills,
  },
});
