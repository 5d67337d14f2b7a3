/**
 * Idle connections against every port the product opens, each served by its real process
 * (`dist/cli.js webhook` and `dist/cli.js agent`, the agent against `secrets-agent dev`): per
 * port, 10,000 connections that each send part of a request's headers and then nothing, as
 * fast as the machine opens them. Reported per port: the serving process's RSS before, its peak
 * while they arrive (sampled), and after; how many the server kept open. The goal: under 16 MiB
 * of RSS growth on any port.
 *
 *   node bench/connections.ts [--quick]
 *
 * SECRETS_AGENT_BENCH_CLI points at another bundle (an older build, for a before/after).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { agentEnv, freePort } from '../test/helpers/agent-process.ts';
import { untilUp, writeServingPair } from '../test/helpers/shipped-webhook.ts';
import { startDevProcess } from './dev-process.ts';
import {
  benchWebhook,
  CLI,
  NODE,
  printResult,
  QUICK,
  round,
  sleep,
  table,
  tempDir,
  vmRss,
} from './lib.ts';

const MIB = 1024 * 1024;
const WANTED = QUICK ? 300 : 10_000;
/** Connections being opened at once. */
const OPENING = 200;
const GOAL_MIB = 16;
/** Pauses before the count (the process settles) and after (the last connections land). */
const SETTLE_MS = QUICK ? 100 : 300;
const LAND_MS = QUICK ? 300 : 500;

/** The client needs a descriptor per connection: fewer connections if the limit is lower. */
function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = Number(line?.split(/\s+/)[3]);
  return Number.isFinite(soft) ? soft : 1024;
}
const COUNT = Math.min(WANTED, openFileLimit() - 500);

interface Target {
  readonly port: string;
  readonly number: number;
  readonly tls: boolean;
  readonly child: ChildProcess;
}

function waitForPort(port: number, child: ChildProcess, name: string): Promise<void> {
  return untilUp(child, () => accepts(port), `${name} on ${port}`);
}

/** Whether a TCP connection to the port opens (within 200 ms). */
function accepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => resolve(true)).once('error', () => resolve(false));
    s.once('close', () => resolve(false));
    setTimeout(() => s.destroy(), 200);
  });
}

async function startWebhook(work: string): Promise<{ targets: Target[]; stop(): void }> {
  writeServingPair(work);
  const [port, metrics] = [await freePort(), await freePort()];
  const child = benchWebhook(work, port, metrics);
  await waitForPort(port, child, 'webhook');
  await waitForPort(metrics, child, 'webhook metrics');
  return {
    targets: [
      { port: 'webhook HTTPS', number: port, tls: true, child },
      { port: 'webhook metrics', number: metrics, tls: false, child },
    ],
    stop: () => child.kill('SIGKILL'),
  };
}

async function startAgent(work: string): Promise<{ targets: Target[]; stop(): Promise<void> }> {
  const dev = await startDevProcess({ secrets: [{ name: 'bench/one', value: 'v' }] }, work);
  const [http, api] = [await freePort(), await freePort()];
  const config = {
    mode: 'sidecar',
    outputDir: join(work, 'out'),
    httpPort: http,
    httpAddress: '127.0.0.1',
    localApi: true,
    localApiPort: api,
    terminationLogPath: join(work, 'termination-log'),
    secrets: [{ name: 'one', id: 'bench/one' }],
  };
  const child = spawn(NODE, [CLI, 'agent'], {
    env: agentEnv(dev.url, {
      SECRETS_AGENT_CONFIG: JSON.stringify(config),
      SECRETS_AGENT_LOG_LEVEL: 'error',
    }),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForPort(http, child, 'agent status');
  await waitForPort(api, child, 'agent local API');
  return {
    targets: [
      { port: 'agent health and metrics', number: http, tls: false, child },
      { port: 'agent local API', number: api, tls: false, child },
    ],
    stop: async () => {
      child.kill('SIGKILL');
      await dev.stop();
    },
  };
}

/** One connection that sends part of a request's headers; resolves once sent or refused. */
function halfRequest(target: Target, held: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = target.tls
      ? tlsConnect({ port: target.number, host: '127.0.0.1', rejectUnauthorized: false })
      : netConnect(target.number, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.resume();
    held.add(socket);
    socket.once('close', () => {
      held.delete(socket);
      resolve();
    });
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      socket.write('GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: ');
      resolve();
    });
  });
}

interface Figures {
  readonly port: string;
  readonly connections: number;
  readonly beforeMiB: number;
  readonly peakGrowthMiB: number;
  readonly afterGrowthMiB: number;
  readonly keptOpen: number;
}

async function measure(target: Target): Promise<Figures> {
  process.stderr.write(`${target.port}…\n`);
  const pid = target.child.pid ?? 0;
  await sleep(SETTLE_MS);
  const before = vmRss(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, vmRss(pid))), 20);
  const held = new Set<Socket>();
  let next = 0;
  const opener = async (): Promise<void> => {
    while (next < COUNT) {
      next += 1;
      await halfRequest(target, held);
    }
  };
  await Promise.all(Array.from({ length: OPENING }, opener));
  await sleep(LAND_MS);
  const after = vmRss(pid);
  peak = Math.max(peak, after);
  clearInterval(sampler);
  const keptOpen = held.size;
  for (const socket of held) socket.destroy();
  if (target.child.exitCode !== null) throw new Error(`${target.port}: the process died`);
  return {
    port: target.port,
    connections: COUNT,
    beforeMiB: round(before / MIB, 1),
    peakGrowthMiB: round((peak - before) / MIB, 1),
    afterGrowthMiB: round((after - before) / MIB, 1),
    keptOpen,
  };
}

const work = tempDir('sa-bench-connections-');
const results: Figures[] = [];
const webhook = await startWebhook(work);
try {
  for (const target of webhook.targets) results.push(await measure(target));
} finally {
  webhook.stop();
}
const agent = await startAgent(work);
try {
  for (const target of agent.targets) results.push(await measure(target));
} finally {
  await agent.stop();
}

process.stdout.write(
  `${COUNT} connections per port, each sending part of its headers (${CLI})\n\n` +
    table(
      ['port', 'RSS before MiB', 'peak growth MiB', 'growth after MiB', 'kept open'],
      results.map((r) => [r.port, r.beforeMiB, r.peakGrowthMiB, r.afterGrowthMiB, r.keptOpen]),
    ) +
    '\n',
);
const worst = Math.max(...results.map((r) => r.peakGrowthMiB));
printResult('connections', {
  results,
  goal: { peakGrowthMiB: GOAL_MIB, met: worst < GOAL_MIB },
});
