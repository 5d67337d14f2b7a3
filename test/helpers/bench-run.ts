/**
 * Each benchmark in its quick mode: it runs, prints its table and ends with one JSON line, and
 * exits 0. No timing assertions (the machine is shared and noisy): the figures come from
 * `npm run bench`. Several test files run them (OWN_FILE), each within the runner's time for one
 * file.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { DEFAULT_INJECTOR_OPTIONS } from '../../injector/plan.ts';
import { ROOT } from './agent-process.ts';
import { inCI } from './needs.ts';

export const SCRIPTS: readonly { name: string; keys: readonly string[] }[] = [
  { name: 'startup', keys: ['bareMs', 'results', 'floor', 'goal'] },
  { name: 'api-calls', keys: ['results', 'goal'] },
  { name: 'memory', keys: ['cgroup', 'time', 'sidecar', 'goal'] },
  { name: 'webhook', keys: ['results', 'fixedRate', 'goal'] },
  { name: 'inject', keys: ['injectMs', 'baselineMs', 'perDocumentMs'] },
  { name: 'fleet', keys: ['real', 'calibration', 'simulations', 'limits', 'webhook', 'goal'] },
  { name: 'connections', keys: ['results', 'goal'] },
  { name: 'idle', keys: ['windowMs', 'bare', 'sidecar'] },
];

function runScript(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', `${name}.ts`), '--quick'], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface MemorySide {
  readonly cyclesDone: number;
  readonly updates: number;
  readonly peakWorkingSetToReadyBytes: number | null;
  readonly peakChargeBytes: number | null;
  readonly vmHwmBytes: number | null;
  readonly bare: {
    readonly peakWorkingSetBytes: number | null;
    readonly vmHwmBytes: number | null;
  };
}

/**
 * What the quick memory run can prove: the agents ran as injected and the sidecar refreshed
 * every rotated secret; with memory cgroups (root), the groups measured something under the
 * injected limit; without, the output says so and peak RSS stands in.
 */
function checkMemory(t: Test, stdout: string, result: Record<string, unknown>): void {
  const sidecar = result['sidecar'] as Record<string, MemorySide | undefined>;
  const cgroup = result['cgroup'] as { available: boolean; reason?: string };
  const unlimited = sidecar['unlimited'];
  t.equal(unlimited?.cyclesDone, result['cycles'], 'the sidecar ran every refresh cycle');
  t.equal(
    unlimited?.updates,
    100 * (Number(result['cycles']) + 1),
    'and rewrote every file each time',
  );
  if (!cgroup.available) {
    t.match(stdout, /memory cgroups unavailable: \S/, 'says why there are no cgroup figures');
    t.ok((unlimited?.vmHwmBytes ?? 0) > 0, 'peak RSS instead');
    // The run under the injected limit did not happen: a skip that says so (a failure in CI).
    const reason = `needs memory cgroups (root, cgroup v2): ${cgroup.reason ?? 'unavailable'}`;
    if (inCI()) t.fail(`${reason} (CI=true: a missing need is a failure)`);
    void t.test('the sidecar under the injected memory limit', { skip: reason }, () => undefined);
    return;
  }
  const limited = sidecar['limit'];
  t.equal(limited?.updates, 100 * (Number(result['cycles']) + 1), 'under the limit too');
  t.equal(
    result['limit'],
    DEFAULT_INJECTOR_OPTIONS.resources.limits['memory'],
    'at the injected limit',
  );
  for (const [where, side] of [
    ['limit', limited],
    ['unlimited', unlimited],
  ] as const) {
    const ws = side?.peakWorkingSetToReadyBytes ?? 0;
    t.ok(ws > 0, `${where}: a working set was sampled`);
    t.ok((side?.peakChargeBytes ?? 0) >= ws, `${where}: the peak charge holds the working set`);
    t.ok((side?.bare.peakWorkingSetBytes ?? 0) > 0, `${where}: bare node measured the same way`);
  }
  t.ok(
    (limited?.peakChargeBytes ?? Infinity) <= Number(result['limitBytes']),
    'the limit bounds the charge',
  );
  const contributors = result['contributors'] as {
    sidecarPeakWorkingSetByFlags: Record<string, number | null>;
  };
  t.ok(
    (contributors.sidecarPeakWorkingSetByFlags['(none)'] ?? 0) > 0,
    'the sidecar measured without V8 flags too',
  );
  const fleet = result['fleet'] as { k: number; perAgentBytes: number | null }[];
  t.ok(
    fleet.some((f) => f.k > 1),
    'sidecars side by side',
  );
  for (const f of fleet) t.ok((f.perAgentBytes ?? 0) > 0, `K=${f.k}: a working set per agent`);
}

/**
 * The scripts that run in a test file of their own (test/bench-FILE.test.ts), each file within
 * the runner's 120 s on a loaded machine; bench.test.ts runs every other script.
 */
export const OWN_FILE: Readonly<Record<string, string>> = {
  memory: 'memory',
  webhook: 'webhook',
  fleet: 'fleet',
};

/** The scripts of test/bench-FILE.test.ts. */
export function scriptsOf(file: string): string[] {
  return Object.entries(OWN_FILE).flatMap(([name, f]) => (f === file ? [name] : []));
}

/** Runs bench/NAME.ts --quick and checks what it printed. */
export function benchTest(t: Test, name: string): void {
  const script = SCRIPTS.find((s) => s.name === name);
  if (script === undefined) throw new Error(`no bench script ${name}`);
  t.test(`bench/${script.name}.ts --quick`, { timeout: 110_000 }, async (t) => {
    const { code, stdout, stderr } = await runScript(script.name);
    t.equal(code, 0, stderr);
    const lines = stdout.trimEnd().split('\n');
    const result = JSON.parse(lines.at(-1) ?? '') as Record<string, unknown>;
    t.equal(result['bench'], script.name);
    t.equal(result['quick'], true);
    for (const key of script.keys) t.ok(key in result, `${key} in the JSON line`);
    t.match(stdout, /-{3,}/, 'prints a table');
    if (script.name === 'memory') checkMemory(t, stdout, result);
    if (script.name === 'idle') checkIdle(t, result);
  });
}

/**
 * An idle sidecar sleeps: no timer of its own or of its metrics wakes it every few
 * milliseconds (prom-client's event-loop sampling did, 100 times a second). Wake-ups are the
 * threads' voluntary context switches: a loaded machine delays them, it does not add any.
 */
function checkIdle(t: Test, result: Record<string, unknown>): void {
  const sidecar = result['sidecar'] as { wakeupsPerSecond?: number } | undefined;
  const wakeups = sidecar?.wakeupsPerSecond ?? Infinity;
  t.ok(wakeups < 20, `an idle sidecar wakes ${wakeups} times a second (under 20)`);
}
