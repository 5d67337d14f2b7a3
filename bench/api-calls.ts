/**
 * AWS API calls per refresh cycle for N = 1, 20, 21 and 100 secrets, counted on both sides: by
 * the endpoint (`server.requests`, what AWS would bill) and by the agent
 * (`secrets_agent_aws_api_calls_total`). Goal: ceil(N/20). The comparison is the CSI provider
 * (ASCP) style of one GetSecretValue per secret per poll: N.
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

const SIZES = [1, 20, 21, 100] as const;
const CYCLES = QUICK ? 1 : 2;
const BATCH = 20;

const server = await startDevServer({ seed: benchSeed(100) });
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
    if (r.service !== 'secretsmanager') continue;
    counts[r.operation] = (counts[r.operation] ?? 0) + 1;
  }
  return counts;
}

interface Row {
  readonly secrets: number;
  readonly cycle: number;
  readonly endpoint: Record<string, number>;
  readonly endpointTotal: number;
  readonly agentTotal: number;
}

async function measure(n: number): Promise<Row[]> {
  server.requests.clear();
  const port = await freePort();
  const config = benchConfig(n, {
    mode: 'sidecar',
    outputDir: join(work, `n${n}`, 'secrets'),
    httpPort: port,
  });
  const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(server.url));
  const rows: Row[] = [];
  try {
    const ready = await until(
      async () => (await get(`http://127.0.0.1:${port}/readyz`)).status === 200,
      20_000,
    );
    if (!ready) throw new Error(`agent for ${n} secrets never ready:\n${agent.output()}`);
    let previous = { endpoint: {} as Record<string, number>, agent: 0 };
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      if (cycle > 1) {
        const before = previous.agent;
        // The refresh interval is 5 s ±10%.
        const moved = await until(async () => (await agentCount(port)) > before, 8_000);
        if (!moved) throw new Error(`no second cycle for ${n} secrets`);
        await sleep(300); // let the cycle's last batch land
      }
      const endpoint = endpointCount();
      const agentTotal = await agentCount(port);
      const delta: Record<string, number> = {};
      for (const [op, c] of Object.entries(endpoint)) delta[op] = c - (previous.endpoint[op] ?? 0);
      rows.push({
        secrets: n,
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
  for (const n of SIZES) rows.push(...(await measure(n)));
  const goalMet = rows.every(
    (r) => r.endpointTotal <= Math.ceil(r.secrets / BATCH) && r.agentTotal === r.endpointTotal,
  );
  process.stdout.write(
    `AWS API calls per refresh cycle (sidecar agent process, in-process dev endpoint)\n\n`,
  );
  process.stdout.write(
    `${table(
      [
        'secrets',
        'cycle',
        'endpoint calls',
        'by operation',
        'agent metric',
        'goal ceil(N/20)',
        'ASCP-style N',
      ],
      rows.map((r) => [
        r.secrets,
        r.cycle,
        r.endpointTotal,
        Object.entries(r.endpoint)
          .map(([op, c]) => `${op}:${c}`)
          .join(' '),
        r.agentTotal,
        Math.ceil(r.secrets / BATCH),
        r.secrets,
      ]),
    )}\n`,
  );
  process.stdout.write(
    `\ngoal: every cycle <= ceil(N/20) calls, both counts agree: ${goalMet ? 'met' : 'MISSED'}\n`,
  );
  printResult('api-calls', {
    results: rows.map((r) => ({ ...r, goal: Math.ceil(r.secrets / BATCH), ascp: r.secrets })),
    goal: { met: goalMet },
  });
} finally {
  await server.close();
}
