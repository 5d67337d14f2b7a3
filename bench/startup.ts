/**
 * Agent start-up: `secrets-agent agent` in init mode, from process spawn to exit with every file
 * written, for 1, 20 and 100 secrets, as a ratio to a bare `node -e ''` start (same Node binary,
 * same run). Levers measured side by side: the bundle (dist/cli.js) vs the TypeScript source
 * (cli/main.ts), and the bundle with Node's compile cache (NODE_COMPILE_CACHE, warmed once).
 *
 *   node bench/startup.ts [--quick]
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDevServer } from '../dev/server.ts';
import {
  agentEnv,
  benchConfig,
  benchSeed,
  CLI,
  median,
  printResult,
  QUICK,
  ROOT,
  round,
  table,
  tempDir,
  timedRun,
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

let runIndex = 0;
/** One init run into a fresh directory; throws unless it exits 0 with all n files written. */
async function agentRun(variant: Variant, n: number): Promise<number> {
  const dir = join(work, `run-${runIndex++}`, 'secrets');
  const config = JSON.stringify(benchConfig(n, { mode: 'init', outputDir: dir }));
  const run = await timedRun([variant.entry, 'agent', '--config-json', config], variant.env);
  const written = run.code === 0 ? readdirSync(dir).filter((f) => !f.startsWith('.')).length : 0;
  if (written !== n) {
    throw new Error(
      `${variant.name} n=${n}: exit ${run.code}, ${written}/${n} files\n${run.stderr}${run.stdout}`,
    );
  }
  return run.ms;
}

try {
  // Warm-ups: the page cache, and the compile cache's first fill (not counted).
  await timedRun(['-e', ''], base);
  for (const v of variants) await agentRun(v, 1);

  const bare: number[] = [];
  const samples = new Map<string, number[]>();
  // Interleaved rounds: noise on this machine hits every variant alike.
  for (let round_ = 0; round_ < RUNS; round_++) {
    bare.push((await timedRun(['-e', ''], base)).ms);
    for (const v of variants) {
      for (const n of v.sizes) {
        const key = `${v.name}|${n}`;
        const ms = await agentRun(v, n);
        samples.set(key, [...(samples.get(key) ?? []), ms]);
      }
    }
  }

  const bareMs = median(bare);
  const rows: (string | number)[][] = [['bare node -e ""', '-', round(bareMs, 1), '1.00']];
  const results: Record<string, unknown>[] = [];
  for (const v of variants) {
    for (const n of v.sizes) {
      const ms = median(samples.get(`${v.name}|${n}`) ?? []);
      rows.push([v.name, n, round(ms, 1), (ms / bareMs).toFixed(2)]);
      results.push({
        variant: v.name,
        secrets: n,
        medianMs: round(ms, 1),
        ratio: round(ms / bareMs),
      });
    }
  }
  const bundle20 = median(samples.get('bundle|20') ?? []) / bareMs;
  process.stdout.write(
    `Agent start-up, init mode, spawn to exit with every file written (median of ${RUNS} runs)\n\n`,
  );
  process.stdout.write(`${table(['variant', 'secrets', 'median ms', 'x bare'], rows)}\n`);
  process.stdout.write(
    `\ngoal: bundle, 20 secrets <= ${GOAL_RATIO_20}x bare: ${bundle20.toFixed(2)}x ${bundle20 <= GOAL_RATIO_20 ? 'met' : 'MISSED'}\n`,
  );
  printResult('startup', {
    runs: RUNS,
    bareMs: round(bareMs, 1),
    results,
    goal: { ratio20: round(bundle20), max: GOAL_RATIO_20, met: bundle20 <= GOAL_RATIO_20 },
  });
} finally {
  await server.close();
}
