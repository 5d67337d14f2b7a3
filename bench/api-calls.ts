/**
 * AWS API calls per refresh cycle, counted on both sides: by the endpoint (`server.requests`,
 * what AWS would bill) and by the agent (`secrets_agent_aws_api_calls_total`), against the
 * one-call-per-item baseline (the CSI provider's one GetSecretValue or GetParameter per item
 * per poll, ESO's one GetSecretValue per secret a find lists): N.
 *
 *   - N = 1, 20, 21, 100 Secrets Manager secrets: goal ceil(N/20) (BatchGetSecretValue).
 *   - N = 1, 10, 11, 100 SSM parameters: goal ceil(N/10) (GetParameters).
 *   - a `find` of 100 secrets: goal ceil(100/20) = 5 (BatchGetSecretValue by name filter).
 *   - a `path` of 100 parameters: goal ceil(100/10) = 10 (GetParametersByPath pages).
 *
 * --quick measures one cycle of 21 secrets, 11 parameters, the find and the path.
 *
 * Each agent runs as a real process (sidecar mode, refreshInterval 5s) against an in-process
 * `secrets-agent dev`; the first cycle is counted once /readyz answers 200, the second once the
 * agent's own counter moves again (skipped with --quick).
 *
 *   node bench/api-calls.ts [--quick]
 */
import { join } from 'node:path';
import { startDevServer } from '../dev/server.ts';
import { freePort, startAgent } from '../test/helpers/agent-process.ts';
import {
  agentEnv,
  benchConfig,
  benchSeed,
  printResult,
  QUICK,
  sleep,
  table,
  tempDir,
} from './lib.ts';

const CYCLES = QUICK ? 1 : 2;

/** One measured configuration: its sources, its goal, its one-call-per-item baseline. */
interface Scenario {
  readonly label: string;
  readonly items: number;
  readonly goal: number;
  readonly secrets: readonly Record<string, unknown>[];
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const ALL_SCENARIOS: readonly Scenario[] = [
  ...[1, 20, 21, 100].map((n) => ({
    label: `${n} secret${n === 1 ? '' : 's'}`,
    items: n,
    goal: Math.ceil(n / 20),
    secrets: range(n).map((i) => ({ name: `s${i}`, id: `bench/s${i}` })),
  })),
  ...[1, 10, 11, 100].map((n) => ({
    label: `${n} parameter${n === 1 ? '' : 's'}`,
    items: n,
    goal: Math.ceil(n / 10),
    secrets: range(n).map((i) => ({ name: `p${i}`, source: 'parameter', id: `/bench/p${i}` })),
  })),
  {
    label: 'find- of 100 secrets',
    items: 100,
    goal: 5,
    secrets: [{ name: 'all', source: 'find', id: 'bench/' }],
  },
  {
    label: 'path- of 100 parameters',
    items: 100,
    goal: 10,
    secrets: [{ name: 'all', source: 'path', id: '/bench' }],
  },
];
/** --quick: one size of each kind (an agent process each; the test suite runs it). */
const QUICK_LABELS = [
  '21 secrets',
  '11 parameters',
  'find- of 100 secrets',
  'path- of 100 parameters',
];
const SCENARIOS = QUICK
  ? ALL_SCENARIOS.filter((s) => QUICK_LABELS.includes(s.label))
  : ALL_SCENARIOS;

const server = await startDevServer({
  seed: {
    ...benchSeed(100),
    parameters: range(100).map((i) => ({
      name: `/bench/p${i}`,
      value: `bench-parameter-${i}`,
      type: i % 2 === 0 ? ('SecureString' as const) : ('String' as const),
    })),
  },
});
const work = tempDir('sa-bench-api-');

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/** The agent's secrets_agent_aws_api_calls_total, summed over its labels. */
async function agentCount(port: number): Promise<number> {
  const { text } = await get(`http://127.0.0.1:${port}/metrics`);
  return text
    .split('\n')
    .filter((l) => l.startsWith('secrets_agent_aws_api_calls_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/** Polls until check() is true; false after timeoutMs. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await sleep(50);
  }
  return false;
}

function endpointCount(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of server.requests.list()) {
    if (r.service === 'sts') continue;
    counts[r.operation] = (counts[r.operation] ?? 0) + 1;
  }
  return counts;
}

interface Row {
  readonly scenario: Scenario;
  readonly cycle: number;
  readonly endpoint: Record<string, number>;
  readonly endpointTotal: number;
  readonly agentTotal: number;
}

async function measure(scenario: Scenario, index: number): Promise<Row[]> {
  server.requests.clear();
  const port = await freePort();
  const config = {
    ...benchConfig(0, {
      mode: 'sidecar',
      outputDir: join(work, `run${index}`, 'secrets'),
      httpPort: port,
    }),
    secrets: scenario.secrets,
  };
  const n = scenario.label;
  const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(server.url));
  const rows: Row[] = [];
  try {
    const ready = await until(
      async () => (await get(`http://127.0.0.1:${port}/readyz`)).status === 200,
      20_000,
    );
    if (!ready) throw new Error(`agent for ${n} never ready:\n${agent.output()}`);
    let previous = { endpoint: {} as Record<string, number>, agent: 0 };
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      if (cycle > 1) {
        const before = previous.agent;
        // The refresh interval is 5 s ±10%.
        const moved = await until(async () => (await agentCount(port)) > before, 8_000);
        if (!moved) throw new Error(`no second cycle for ${n}`);
        await sleep(300); // let the cycle's last batch land
      }
      const endpoint = endpointCount();
      const agentTotal = await agentCount(port);
      const delta: Record<string, number> = {};
      for (const [op, c] of Object.entries(endpoint)) delta[op] = c - (previous.endpoint[op] ?? 0);
      rows.push({
        scenario,
        cycle,
        endpoint: delta,
        endpointTotal: Object.values(delta).reduce((a, b) => a + b, 0),
        agentTotal: agentTotal - previous.agent,
      });
      previous = { endpoint, agent: agentTotal };
    }
  } finally {
    await agent.stop();
  }
  return rows;
}

try {
  const rows: Row[] = [];
  for (const [i, scenario] of SCENARIOS.entries()) rows.push(...(await measure(scenario, i)));
  const goalMet = rows.every(
    (r) => r.endpointTotal <= r.scenario.goal && r.agentTotal === r.endpointTotal,
  );
  process.stdout.write(
    `AWS API calls per refresh cycle (sidecar agent process, in-process dev endpoint)\n\n`,
  );
  process.stdout.write(
    `${table(
      [
        'sources',
        'cycle',
        'endpoint calls',
        'by operation',
        'agent metric',
        'goal',
        'one call per item',
        'ratio to baseline',
      ],
      rows.map((r) => [
        r.scenario.label,
        r.cycle,
        r.endpointTotal,
        Object.entries(r.endpoint)
          .map(([op, c]) => `${op}:${c}`)
          .join(' '),
        r.agentTotal,
        r.scenario.goal,
        r.scenario.items,
        (r.endpointTotal / r.scenario.items).toFixed(2),
      ]),
    )}\n`,
  );
  process.stdout.write(
    `\ngoal: every cycle within its goal (ceil(N/20) secrets and finds, ceil(N/10) parameters and paths), both counts agree: ${goalMet ? 'met' : 'MISSED'}\n`,
  );
  printResult('api-calls', {
    results: rows.map((r) => ({
      sources: r.scenario.label,
      items: r.scenario.items,
      cycle: r.cycle,
      endpoint: r.endpoint,
      endpointTotal: r.endpointTotal,
      agentTotal: r.agentTotal,
      goal: r.scenario.goal,
      baseline: r.scenario.items,
      ratio: r.endpointTotal / r.scenario.items,
    })),
    goal: { met: goalMet },
  });
} finally {
  await server.close();
}
