/**
 * Agent start-up: `secrets-agent agent` in init mode, from process start to exit with every file
 * written, for 1, 20 and 100 secrets, as a ratio to a bare `node -e ''` start (same Node binary,
 * same run). Levers measured side by side: the bundle (dist/cli.js) vs the TypeScript source
 * (cli/main.ts), and the bundle with Node's compile cache (NODE_COMPILE_CACHE, warmed once).
 *
 * Each run is timed by bash's `time` around the process alone: wall time, and the CPU time
 * (user + system) the process used, which other load on a shared machine disturbs far less.
 *
 *   node bench/startup.ts [--quick]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDevServer } from '../dev/server.ts';
import {
  agentEnv,
  benchConfig,
  benchSeed,
  CLI,
  median,
  NODE,
  printResult,
  QUICK,
  ROOT,
  round,
  table,
  tempDir,
} from './lib.ts';

const SIZES = [1, 20, 100] as const;
const RUNS = QUICK ? 2 : 9;
const GOAL_RATIO_20 = 3;

interface Variant {
  readonly name: string;
  readonly entry: string;
  readonly env: Readonly<Record<string, string>>;
  /** Only these sizes (the source run is slow and says the same thing at one size). */
  readonly sizes: readonly number[];
}

const server = await startDevServer({ seed: benchSeed(Math.max(...SIZES)) });
const work = tempDir('sa-bench-startup-');
const cacheDir = join(work, 'compile-cache');
const base = agentEnv(server.url);
const variants: Variant[] = [
  { name: 'bundle', entry: CLI, env: base, sizes: SIZES },
  {
    name: 'bundle + compile cache',
    entry: CLI,
    env: { ...base, NODE_COMPILE_CACHE: cacheDir },
    sizes: SIZES,
  },
  { name: 'source (cli/main.ts)', entry: join(ROOT, 'cli/main.ts'), env: base, sizes: [20] },
];

interface Timing {
  readonly ms: number;
  readonly cpuMs: number;
}

let runIndex = 0;

/**
 * Runs `NODE args` under bash's `time` (its report goes to a file; the process's own stderr is
 * kept apart) and resolves with the process's wall and CPU time; killed after 60 s.
 */
function timedRun(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<Timing & { code: number | null; output: string }> {
  const times = join(work, `time-${runIndex++}`);
  const script = `TIMEFORMAT='%3R %3U %3S'; out=$1; shift; { time "$@" 2>&3; } 3>&2 2>"$out"`;
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', ['-c', script, 'bash', times, NODE, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const [real, user, sys] = readFileSync(times, 'utf8').trim().split(/\s+/).map(Number);
      if (real === undefined || user === undefined || sys === undefined)
        return reject(new Error(`no timing for ${args.join(' ')}`));
      resolve({ ms: real * 1000, cpuMs: (user + sys) * 1000, code, output });
    });
  });
}

/** One init run into a fresh directory; throws unless it exits 0 with all n files written. */
async function agentRun(variant: Variant, n: number): Promise<Timing> {
  const dir = join(work, `run-${runIndex++}`, 'secrets');
  const config = JSON.stringify(benchConfig(n, { mode: 'init', outputDir: dir }));
  const run = await timedRun([variant.entry, 'agent', '--config-json', config], variant.env);
  const written = run.code === 0 ? readdirSync(dir).filter((f) => !f.startsWith('.')).length : 0;
  if (written !== n) {
    throw new Error(
      `${variant.name} n=${n}: exit ${run.code}, ${written}/${n} files\n${run.output}`,
    );
  }
  return run;
}

try {
  // Warm-ups: the page cache, and the compile cache's first fill (not counted).
  await timedRun(['-e', ''], base);
  for (const v of variants) await agentRun(v, 1);

  const bare: Timing[] = [];
  const samples = new Map<string, Timing[]>();
  // Interleaved rounds: noise on this machine hits every variant alike.
  for (let round_ = 0; round_ < RUNS; round_++) {
    bare.push(await timedRun(['-e', ''], base));
    for (const v of variants) {
      for (const n of v.sizes) {
        const key = `${v.name}|${n}`;
        samples.set(key, [...(samples.get(key) ?? []), await agentRun(v, n)]);
      }
    }
  }

  const wall = (ts: readonly Timing[]): number => median(ts.map((x) => x.ms));
  const cpu = (ts: readonly Timing[]): number => median(ts.map((x) => x.cpuMs));
  const bareMs = wall(bare);
  const bareCpuMs = cpu(bare);
  const rows: (string | number)[][] = [
    ['bare node -e ""', '-', round(bareMs, 1), '1.00', round(bareCpuMs, 1), '1.00'],
  ];
  const results: Record<string, unknown>[] = [];
  for (const v of variants) {
    for (const n of v.sizes) {
      const runs = samples.get(`${v.name}|${n}`) ?? [];
      const [ms, cpuMs] = [wall(runs), cpu(runs)];
      rows.push([
        v.name,
        n,
        round(ms, 1),
        (ms / bareMs).toFixed(2),
        round(cpuMs, 1),
        (cpuMs / bareCpuMs).toFixed(2),
      ]);
      results.push({
        variant: v.name,
        secrets: n,
        medianMs: round(ms, 1),
        ratio: round(ms / bareMs),
        medianCpuMs: round(cpuMs, 1),
        cpuRatio: round(cpuMs / bareCpuMs),
      });
    }
  }
  const bundle20 = samples.get('bundle|20') ?? [];
  const ratio20 = wall(bundle20) / bareMs;
  const cpuRatio20 = cpu(bundle20) / bareCpuMs;
  process.stdout.write(
    `Agent start-up, init mode, process start to exit with every file written (median of ${RUNS} runs)\n\n`,
  );
  process.stdout.write(
    `${table(['variant', 'secrets', 'wall ms', 'x bare', 'CPU ms', 'x bare CPU'], rows)}\n`,
  );
  process.stdout.write(
    `\ngoal: bundle, 20 secrets <= ${GOAL_RATIO_20}x bare: ${ratio20.toFixed(2)}x ${ratio20 <= GOAL_RATIO_20 ? 'met' : 'MISSED'} (CPU time: ${cpuRatio20.toFixed(2)}x)\n`,
  );
  printResult('startup', {
    runs: RUNS,
    bareMs: round(bareMs, 1),
    bareCpuMs: round(bareCpuMs, 1),
    results,
    goal: {
      ratio20: round(ratio20),
      cpuRatio20: round(cpuRatio20),
      max: GOAL_RATIO_20,
      met: ratio20 <= GOAL_RATIO_20,
    },
  });
} finally {
  await server.close();
}
