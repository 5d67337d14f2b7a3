/**
 * Agent start-up against a bare Node, in one run (same binary, interleaved rounds):
 *
 * (a) the init agent as injected (the image's entrypoint `node cli.js` and the container's args,
 *     IRSA through the dev endpoint's STS), from process start to exit with every file written,
 *     for 1, 20 and 100 secrets; beside it the same with a sidecar's NODE_OPTIONS, and, with
 *     BENCH_STARTUP_BEFORE=DIR, an earlier build's dist/ (`node DIR/cli.js agent …`); and the
 *     floor (bench/startup-floor.cjs): a minimal Node client making the same STS and Secrets
 *     Manager calls and writing the same number of files, the least any Node agent could take,
 *     with a GetSecretValue per secret and, batched, with BatchGetSecretValue as the agent reads;
 * (b) the sidecar as injected, 20 secrets: from process start to its "all secrets written" line;
 * (c) what each dependency costs to load (`node -e "require(…)"`) above a bare Node.
 *
 * Wall time and CPU time (user + system, which other load on a shared machine disturbs far less)
 * of each run, medians of the rounds; ratios are against the bare Node of the same run.
 *
 *   node bench/startup.ts [--quick]
 *   BENCH_STARTUP_BEFORE=/tmp/old-dist   an earlier build (node build.ts --outdir) beside this one
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { startDevServer } from '../dev/server.ts';
import { parseAgentConfig, type AgentConfig } from '../common/config.ts';
import { AGENT_NODE_OPTIONS } from '../injector/types.ts';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import { freePort, webIdentityToken } from '../test/helpers/agent-process.ts';
import { CLI, median, NODE, printResult, QUICK, ROOT, round, table, tempDir } from './lib.ts';
import { injectedAgent, seed, type Launch } from './memory-pod.ts';

/** The quick run (in the test suite) keeps to 20 secrets and the agent's own load. */
const SIZES = QUICK ? [20] : [1, 20, 100];
const RUNS = QUICK ? 2 : 9;
const SIDECAR_SECRETS = 20;
/** The warm-up runs' size (not counted). */
const WARM_UP_SECRETS = 1;
/** The goal: the injected init agent with 20 secrets within this many times a bare Node. */
const GOAL_RATIO_20 = 2;
const BEFORE = process.env['BENCH_STARTUP_BEFORE'];

const server = await startDevServer({ seed: seed(100) });
const work = tempDir('sa-bench-startup-');
const tokenFile = join(work, 'token');
writeFileSync(tokenFile, webIdentityToken());
const image = { node: NODE, cli: CLI };
const bareEnv = { PATH: process.env['PATH'] ?? '' };

interface Timing {
  readonly ms: number;
  readonly cpuMs: number;
}

let runIndex = 0;

/**
 * Runs argv under bash's `time` (its report goes to a file; the process's own stderr is kept
 * apart) and resolves with the process's wall and CPU time; killed after 60 s.
 */
function timedRun(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<Timing & { code: number | null; output: string }> {
  const times = join(work, `time-${runIndex++}`);
  const script = `TIMEFORMAT='%3R %3U %3S'; out=$1; shift; { time "$@" 2>&3; } 3>&2 2>"$out"`;
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', ['-c', script, 'bash', times, ...argv], {
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
        return reject(new Error(`no timing for ${argv.join(' ')}`));
      resolve({ ms: real * 1000, cpuMs: (user + sys) * 1000, code, output });
    });
  });
}

function launch(n: number, mode: 'init' | 'sidecar', dir: string, port = 0, nodeOptions?: string) {
  return injectedAgent({
    n,
    mode,
    refresh: '5m',
    options: DEFAULT_INJECTOR_OPTIONS,
    image,
    endpoint: server.url,
    tokenFile,
    outputDir: dir,
    terminationLog: join(dir, '..', 'termination-log'),
    port,
    ...(nodeOptions === undefined ? {} : { nodeOptions }),
  });
}

interface Variant {
  readonly name: string;
  readonly sizes: readonly number[];
  /** The command line for n secrets into dir. */
  readonly argv: (n: number, dir: string) => Launch;
}

const FLOOR = join(ROOT, 'bench', 'startup-floor.cjs');

/** The configuration the injector gives the init agent for n secrets, as the agent parses it. */
async function injectedConfig(n: number): Promise<AgentConfig> {
  const { argv } = launch(n, 'init', work);
  return parseAgentConfig(JSON.parse(argv[argv.indexOf('--config-json') + 1] ?? 'null'));
}
const injectedConfigs = new Map(
  await Promise.all(
    [...new Set([WARM_UP_SECRETS, ...SIZES])].map(
      async (n) => [n, await injectedConfig(n)] as const,
    ),
  ),
);

/**
 * The floor's command line for n secrets: the injected container's env, and the region and
 * secret ids its configuration names (the region travels in the configuration, not the env).
 */
function floorLaunch(batch: boolean, n: number, dir: string): Launch {
  const l = launch(n, 'init', dir);
  const config = injectedConfigs.get(n);
  if (config?.region === undefined) throw new Error(`no injected region for ${n} secrets`);
  return {
    ...l,
    argv: [NODE, FLOOR, ...(batch ? ['--batch'] : []), dir, ...config.secrets.map((s) => s.id)],
    env: { ...l.env, AWS_REGION: config.region },
  };
}

/** The injected command line with the entrypoint swapped for another build's `cli.js`. */
function throughCli(cli: string): Variant['argv'] {
  return (n, dir) => {
    const l = launch(n, 'init', dir, 0);
    const [node, , ...args] = l.argv;
    return { ...l, argv: [node ?? NODE, cli, ...args] };
  };
}

const injected: Variant = {
  name: 'as injected (node cli.js agent)',
  sizes: SIZES,
  argv: (n, dir) => launch(n, 'init', dir),
};
const floor: Variant = {
  name: 'floor: a minimal Node client doing the same requests and writes',
  sizes: SIZES,
  argv: (n, dir) => floorLaunch(false, n, dir),
};
const batchedFloor: Variant = {
  name: 'floor, batched as the agent reads (BatchGetSecretValue, 20 ids a call)',
  sizes: SIZES,
  argv: (n, dir) => floorLaunch(true, n, dir),
};
const variants: Variant[] = [
  injected,
  floor,
  batchedFloor,
  {
    name: `a sidecar's NODE_OPTIONS (${AGENT_NODE_OPTIONS.sidecar})`,
    sizes: [20],
    argv: (n, dir) => launch(n, 'init', dir, 0, AGENT_NODE_OPTIONS.sidecar),
  },
  ...(BEFORE === undefined
    ? []
    : [
        {
          name: `before (${BEFORE}/cli.js agent)`,
          sizes: [20],
          argv: throughCli(join(BEFORE, 'cli.js')),
        },
      ]),
];

/** One init run into a fresh directory; throws unless it exits 0 with all n files written. */
async function agentRun(variant: Variant, n: number): Promise<Timing> {
  const dir = join(work, `run-${runIndex++}`, 'secrets');
  const l = variant.argv(n, dir);
  const run = await timedRun(l.argv, l.env);
  const written = run.code === 0 ? readdirSync(dir).filter((f) => !f.startsWith('.')).length : 0;
  if (written !== n) {
    throw new Error(
      `${variant.name} n=${n}: exit ${run.code}, ${written}/${n} files\n${run.output}`,
    );
  }
  return run;
}

/** The sidecar as injected: spawn to its "all secrets written" line, then SIGTERM. */
async function sidecarReady(): Promise<number> {
  const dir = join(work, `run-${runIndex++}`, 'secrets');
  const l = launch(SIDECAR_SECRETS, 'sidecar', dir, await freePort());
  const [file, ...args] = l.argv;
  const started = performance.now();
  const child = spawn(file ?? NODE, args, { env: l.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sidecar not ready in 60 s:\n${output}`)),
      60_000,
    );
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('"all secrets written"')) {
        clearTimeout(timer);
        resolve(performance.now() - started);
      }
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('close', (code) => reject(new Error(`sidecar exited ${code}:\n${output}`)));
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGTERM');
  await closed;
  return ready;
}

/** (c): each dependency as the agent loads it (the bundle's own files where it vendors one). */
const requireFrom = createRequire(join(ROOT, 'package.json'));
const DEPENDENCIES: readonly (readonly [string, string])[] = [
  [
    'the agent (dist/commands/agent.js: its code, its own Secrets Manager client and credentials)',
    join(ROOT, 'dist', 'commands', 'agent.js'),
  ],
  [
    '@aws-sdk/client-secrets-manager (dist/node_modules/, loaded only where the agent needs the SDK)',
    join(ROOT, 'dist', 'node_modules', '@aws-sdk', 'client-secrets-manager', 'index.js'),
  ],
  [
    '@aws-sdk/credential-provider-node (dist/node_modules/, loaded only where the agent needs the SDK)',
    join(ROOT, 'dist', 'node_modules', '@aws-sdk', 'credential-provider-node', 'index.js'),
  ],
  ['prom-client', requireFrom.resolve('prom-client')],
  ['@jmespath-community/jmespath', requireFrom.resolve('@jmespath-community/jmespath')],
  [
    'handlebars (dist/node_modules/handlebars/)',
    join(ROOT, 'dist', 'node_modules', 'handlebars', 'index.js'),
  ],
  ['yaml (dist/node_modules/yaml/)', join(ROOT, 'dist', 'node_modules', 'yaml', 'index.js')],
  [
    '@aws-sdk/client-ssm (dist/node_modules/@aws-sdk/client-ssm/)',
    join(ROOT, 'dist', 'node_modules', '@aws-sdk', 'client-ssm', 'index.js'),
  ],
  ['node:https', 'node:https'],
];
/** A command's file only defines the command: loading it runs nothing. */
const loadOnly = (path: string): string => `require(${JSON.stringify(path)})`;

try {
  // Warm-ups: the page cache (not counted).
  await timedRun([NODE, '-e', ''], bareEnv);
  for (const v of QUICK ? [injected, floor, batchedFloor] : variants)
    await agentRun(v, WARM_UP_SECRETS);

  const bare: Timing[] = [];
  const samples = new Map<string, Timing[]>();
  const push = <T>(m: Map<string, T[]>, key: string, x: T): void => {
    m.set(key, [...(m.get(key) ?? []), x]);
  };
  const ready: number[] = [];
  const deps = new Map<string, Timing[]>();
  // Interleaved rounds: noise on this machine hits every variant alike.
  for (let r = 0; r < RUNS; r++) {
    bare.push(await timedRun([NODE, '-e', ''], bareEnv));
    for (const v of variants)
      for (const n of v.sizes) push(samples, `${v.name}|${n}`, await agentRun(v, n));
    ready.push(await sidecarReady());
    for (const [name, path] of QUICK ? DEPENDENCIES.slice(0, 1) : DEPENDENCIES) {
      const run = await timedRun([NODE, '-e', loadOnly(path)], bareEnv);
      if (run.code !== 0) throw new Error(`loading ${name} failed:\n${run.output}`);
      push(deps, name, run);
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
  const readyMs = median(ready);
  rows.push([
    `sidecar as injected, to ready`,
    SIDECAR_SECRETS,
    round(readyMs, 1),
    (readyMs / bareMs).toFixed(2),
    '-',
    '-',
  ]);
  const injected20 = samples.get(`${injected.name}|20`) ?? [];
  const ratio20 = wall(injected20) / bareMs;
  const cpuRatio20 = cpu(injected20) / bareCpuMs;
  /** A floor against bare and the agent against it, for n secrets. */
  const againstFloor = (least: Variant, n: number) => {
    const agentRuns = samples.get(`${injected.name}|${n}`) ?? [];
    const floorRuns = samples.get(`${least.name}|${n}`) ?? [];
    return {
      floor: least.name,
      secrets: n,
      floorRatio: round(wall(floorRuns) / bareMs),
      floorCpuRatio: round(cpu(floorRuns) / bareCpuMs),
      agentOverFloor: round(wall(agentRuns) / wall(floorRuns)),
      agentOverFloorCpu: round(cpu(agentRuns) / cpu(floorRuns)),
    };
  };
  const overFloor = [floor, batchedFloor].flatMap((f) => SIZES.map((n) => againstFloor(f, n)));
  /** `floor: 2.70x bare (CPU 2.75x); agent / floor: 1.68x (CPU 1.68x)` at 20 secrets. */
  const floorSummary = (least: Variant, label: string): string => {
    const f = againstFloor(least, 20);
    return (
      `${label}: ${f.floorRatio.toFixed(2)}x bare (CPU ${f.floorCpuRatio.toFixed(2)}x); ` +
      `agent / ${label}: ${f.agentOverFloor.toFixed(2)}x (CPU ${f.agentOverFloorCpu.toFixed(2)}x)`
    );
  };
  process.stdout.write(
    `(a, b) Agent start-up, process start to exit with every file written (init) or to ready (sidecar); median of ${RUNS} rounds; load average ${loadAverage()}\n\n`,
  );
  process.stdout.write(
    `${table(['variant', 'secrets', 'wall ms', 'x bare', 'CPU ms', 'x bare CPU'], rows)}\n`,
  );
  const depRows = [...deps].map(([name, ts]) => [
    name,
    round(cpu(ts), 1),
    round(cpu(ts) - bareCpuMs, 1),
    (cpu(ts) / bareCpuMs).toFixed(2),
  ]);
  process.stdout.write(
    `\n(c) what loading each costs: node -e "require(...)", CPU ms (median), above a bare Node\n\n${table(['module', 'CPU ms', '+ over bare', 'x bare'], depRows)}\n`,
  );
  process.stdout.write(
    `\ngoal: as injected, 20 secrets <= ${GOAL_RATIO_20}x bare: ${ratio20.toFixed(2)}x ${ratio20 <= GOAL_RATIO_20 ? 'met' : 'MISSED'} (CPU time: ${cpuRatio20.toFixed(2)}x); ${floorSummary(floor, 'floor')}; ${floorSummary(batchedFloor, 'batched floor')}; sidecar to ready: ${(readyMs / bareMs).toFixed(2)}x\n`,
  );
  printResult('startup', {
    runs: RUNS,
    loadAverage: loadAverage(),
    bareMs: round(bareMs, 1),
    bareCpuMs: round(bareCpuMs, 1),
    results,
    floor: overFloor,
    sidecarReadyMs: round(readyMs, 1),
    sidecarReadyRatio: round(readyMs / bareMs),
    dependencies: Object.fromEntries(
      [...deps].map(([name, ts]) => [
        name,
        { cpuMs: round(cpu(ts), 1), overBareCpuMs: round(cpu(ts) - bareCpuMs, 1) },
      ]),
    ),
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

/** The machine's 1-minute load average: figures taken under load say so. */
function loadAverage(): number {
  return round(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]), 2);
}
