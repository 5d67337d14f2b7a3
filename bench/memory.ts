/**
 * Sidecar memory: the RSS of an agent holding 100 secrets across 1,000 refresh cycles, sampled
 * every 100 cycles, as a ratio to a bare Node process (`node -e 'setInterval(()=>{},1000)'`),
 * both read from /proc/<pid>/status VmRSS. The cycles are the real agent code path
 * (bench/memory-agent.ts, bundled like dist/cli.js) called back to back; the endpoint is a
 * separate `secrets-agent dev` process, and one secret is rotated every 250 ms so files are
 * rewritten too. A Prometheus scrape every 10 cycles.
 *
 *   node bench/memory.ts [--quick]
 */
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startDevProcess } from './dev-process.ts';
import { freePort, startAgent } from '../test/helpers/agent-process.ts';
import {
  CLI,
  agentEnv,
  benchConfig,
  benchSeed,
  median,
  NODE,
  printResult,
  QUICK,
  ROOT,
  round,
  sleep,
  slope,
  table,
  tempDir,
  vmRss,
} from './lib.ts';

const SECRETS = QUICK ? 20 : 100;
const CYCLES = QUICK ? 30 : Number(process.env['BENCH_MEMORY_CYCLES'] ?? 1000);
const SAMPLE_EVERY = QUICK ? 10 : 100;
const GOAL_RATIO = 1.6;
/** Flat: the fitted growth over the run (after the first sample) under 5% of the final RSS. */
const FLAT_FRACTION = 0.05;
const MB = 1024 * 1024;

const work = tempDir('sa-bench-memory-');
const driver = join(work, 'memory-agent.mjs');
await build({
  entryPoints: [join(ROOT, 'bench/memory-agent.ts')],
  outfile: driver,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minifySyntax: true,
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});

/** RSS of an idle bare Node, read the same way, after it settled. */
async function bareRss(): Promise<number> {
  const child = spawn(NODE, ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' });
  await sleep(1500);
  const rss = vmRss(child.pid ?? 0);
  child.kill('SIGTERM');
  return rss;
}

interface Sample {
  readonly cycle: number;
  readonly rss: number;
  readonly rssAfterGc: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}

/** MALLOC_ARENA_MAX passed through, to compare glibc arena settings. */
function extraEnv(): Record<string, string> {
  const arenas = process.env['MALLOC_ARENA_MAX'];
  return arenas === undefined ? {} : { MALLOC_ARENA_MAX: arenas };
}

async function runAgent(
  url: string,
): Promise<{ samples: Sample[]; done: Record<string, unknown> }> {
  const child = spawn(
    NODE,
    [
      '--expose-gc',
      // As the real sidecar runs (agent/command.ts re-executes itself under lite mode);
      // BENCH_MEMORY_LITE=false measures without it.
      ...(process.env['BENCH_MEMORY_LITE'] === 'false' ? [] : ['--lite-mode']),
      driver,
      String(SECRETS),
      String(CYCLES),
      String(SAMPLE_EVERY),
      join(work, 'secrets'),
    ],
    {
      env: agentEnv(url, extraEnv()),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const samples: Sample[] = [];
  let done: Record<string, unknown> | undefined;
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record['done'] === true) done = record;
      else
        samples.push({
          cycle: Number(record['cycle']),
          rss: Number(record['rss']),
          rssAfterGc: Number(record['rssAfterGc']),
          heapUsed: Number(record['heapUsed']),
          heapTotal: Number(record['heapTotal']),
          external: Number(record['external']),
        });
    }
  });
  const rotate = setInterval(() => {
    void fetch(`${url}/_dev/secrets/${encodeURIComponent('bench/s0')}`, {
      method: 'PUT',
      body: JSON.stringify({
        value: { username: 'user0', password: `rotated-${Date.now()}`, port: 5432 },
      }),
    }).catch(() => undefined);
  }, 250);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15 * 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(rotate);
  clearTimeout(timer);
  if (code !== 0 || done === undefined) throw new Error(`memory agent exited ${code}:\n${stderr}`);
  return { samples, done };
}

/** The real sidecar (dist/cli.js agent), idle after its first cycle: VmRSS from /proc. */
async function realSidecarRss(url: string): Promise<number> {
  const port = await freePort();
  const config = benchConfig(SECRETS, {
    mode: 'sidecar',
    outputDir: join(work, 'real', 'secrets'),
    httpPort: port,
  });
  const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(url), CLI);
  try {
    await agent.waitForLog(/all secrets written/, 20_000);
    await sleep(2000);
    await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    return vmRss(agent.child.pid ?? 0);
  } finally {
    await agent.stop();
  }
}

const mb = (bytes: number): number => round(bytes / MB, 1);

const dev = await startDevProcess(benchSeed(SECRETS), work);
try {
  const bare = [await bareRss(), await bareRss(), await bareRss()];
  const bareBytes = median(bare);
  const real = await realSidecarRss(dev.url);
  const { samples, done } = await runAgent(dev.url);
  const last = samples.at(-1);
  const steady = samples.filter((s) => s.cycle >= SAMPLE_EVERY);
  const fit = (pick: (s: Sample) => number): { perSample: number; growth: number } => {
    const perSample = slope(
      steady.map((s) => s.cycle / SAMPLE_EVERY),
      steady.map(pick),
    );
    return { perSample, growth: perSample * Math.max(0, steady.length - 1) };
  };
  const rssFit = fit((s) => s.rss);
  const gcFit = fit((s) => s.rssAfterGc);
  const heapFit = fit((s) => s.heapUsed);
  const ratio = (last?.rssAfterGc ?? Number.NaN) / bareBytes;
  const ratioNoGc = (last?.rss ?? Number.NaN) / bareBytes;
  const realRatio = real / bareBytes;
  const flat = Math.abs(gcFit.growth) < FLAT_FRACTION * (last?.rssAfterGc ?? 0);

  process.stdout.write(
    `Sidecar memory: ${SECRETS} secrets, ${CYCLES} cycles back to back (the real Agent.cycle in a bundled driver;\n` +
      `a full GC before each "after GC" sample, as the idle minutes between real refreshes allow), VmRSS from /proc\n\n`,
  );
  const rows: (string | number)[][] = [
    ['bare node (idle)', mb(bareBytes), '', '', '', '1.00'],
    ['real sidecar, idle after cycle 1', mb(real), '', '', '', realRatio.toFixed(2)],
    ...samples.map((s) => [
      `cycle ${s.cycle}`,
      mb(s.rss),
      mb(s.rssAfterGc),
      mb(s.heapUsed),
      mb(s.heapTotal),
      (s.rssAfterGc / bareBytes).toFixed(2),
    ]),
  ];
  process.stdout.write(
    `${table(['', 'RSS MB', 'after GC MB', 'heap used MB', 'heap total MB', 'x bare'], rows)}\n`,
  );
  const kb = (x: number): number => round(x / 1024, 0);
  process.stdout.write(
    `\nslope per ${SAMPLE_EVERY} cycles: RSS ${kb(rssFit.perSample)} KB (no forced GC), after GC ${kb(gcFit.perSample)} KB, heap used ${kb(heapFit.perSample)} KB\n` +
      `${round(Number(done['ms']) / CYCLES, 1)} ms per cycle; ${String(done['failures'])} failures; ${String(done['changed'])} file updates\n`,
  );
  process.stdout.write(
    `goal: <= ${GOAL_RATIO}x bare after GC: ${ratio.toFixed(2)}x ${ratio <= GOAL_RATIO ? 'met' : 'MISSED'} ` +
      `(without forced GC ${ratioNoGc.toFixed(2)}x; real idle sidecar ${realRatio.toFixed(2)}x); ` +
      `flat (fitted growth < ${FLAT_FRACTION * 100}%): ${flat ? 'met' : 'MISSED'}\n`,
  );
  printResult('memory', {
    secrets: SECRETS,
    cycles: CYCLES,
    method:
      'Agent.cycle() back to back in a bundled driver with the real source, sinks and metrics; separate dev endpoint process',
    bareRssBytes: bareBytes,
    realSidecarIdleRssBytes: real,
    series: samples,
    slopeBytesPerSample: {
      rss: Math.round(rssFit.perSample),
      rssAfterGc: Math.round(gcFit.perSample),
      heapUsed: Math.round(heapFit.perSample),
    },
    ratio: round(ratio),
    ratioWithoutGc: round(ratioNoGc),
    realSidecarRatio: round(realRatio),
    goal: { maxRatio: GOAL_RATIO, ratioMet: ratio <= GOAL_RATIO, flat },
    failures: done['failures'],
  });
} finally {
  await dev.stop();
}
