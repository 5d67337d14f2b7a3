/**
 * The memory bench's agent: the real Agent (agent/agent.ts) with the real AWS source, FileSink,
 * renderer, metrics and status server, wired as agent/command.ts wires them, but driven by
 * calling `agent.cycle()` back to back instead of sleeping the refresh interval (at least 5 s),
 * so 1,000 cycles take a minute, not hours. bench/memory.ts bundles this file with esbuild, as
 * dist/cli.js is bundled, and runs it with plain Node (no type stripping in the measured process).
 *
 * argv: <secrets> <cycles> <sampleEvery> <outputDir>. stdout: one JSON line per sample
 * `{"cycle":k,"rss":bytes,"rssAfterGc":bytes,"heapUsed":…,"heapTotal":…,"external":…}` (VmRSS from /proc/self/status;
 * after a full GC when run with --expose-gc), then `{"done":true,...}`.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { parseAgentConfig } from '../common/config.ts';
import { createLogger } from '../common/log.ts';
import { Agent } from '../agent/agent.ts';
import { startStatusServer } from '../agent/http.ts';
import { createAgentMetrics } from '../agent/metrics.ts';
import { prepareRenderer, renderFile } from '../agent/render.ts';
import { FileSink } from '../agent/sink/files.ts';
import { createAwsSource } from '../agent/source/aws.ts';

const [n, cycles, every, outputDir] = process.argv.slice(2);
const secrets = Number(n);
const total = Number(cycles);
const sampleEvery = Number(every);

function rss(): number {
  const kb = /^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** A Prometheus scrape of the status server, as a cluster would do it. */
function scrape(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let size = 0;
      res.on('data', (d: Buffer) => (size += d.length));
      res.on('end', () => resolve(size));
    });
    req.on('error', reject);
    req.end();
  });
}

const config = await parseAgentConfig({
  mode: 'sidecar',
  outputDir,
  httpPort: 0,
  refreshInterval: '5s',
  secrets: Array.from({ length: secrets }, (_, i) => ({
    name: `s${i}`,
    id: `bench/s${i}`,
    // A mix of what the renderer does: raw, a JSON key, a format, a template.
    ...(i % 4 === 1 ? { key: 'password' } : {}),
    ...(i % 4 === 2 ? { format: 'dotenv' } : {}),
    ...(i % 4 === 3 ? { template: 'postgres://{{username}}:{{password}}@db:{{port}}/app' } : {}),
  })),
});
await prepareRenderer(config.secrets);
const logger = createLogger(process.stderr, { level: 'warn', base: { component: 'agent' } });
const metrics = createAgentMetrics();
const source = createAwsSource({
  logger,
  onApiCall: (operation, outcome) => metrics.awsApiCalls.inc({ operation, outcome }),
});
const agent = new Agent({
  config,
  source,
  files: new FileSink(outputDir ?? ''),
  metrics,
  logger,
  render: renderFile,
});
const status = await startStatusServer({
  address: '127.0.0.1',
  port: 0,
  registry: metrics.registry,
  ready: () => agent.ready,
});
const signal = new AbortController().signal;
let failures = 0;
let changed = 0;
const started = performance.now();
for (let cycle = 1; cycle <= total; cycle++) {
  const result = await agent.cycle(signal);
  failures += result.failures.length;
  changed += result.changed.length;
  if (cycle % 10 === 0) await scrape(status.port);
  if (cycle === 1 || cycle % sampleEvery === 0) {
    const before = rss();
    // With --expose-gc: a full collection, as the idle minutes between real refreshes allow.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const after = rss();
    const { heapUsed, heapTotal, external } = process.memoryUsage();
    process.stdout.write(
      `${JSON.stringify({ cycle, rss: before, rssAfterGc: after, heapUsed, heapTotal, external })}\n`,
    );
  }
}
process.stdout.write(
  `${JSON.stringify({ done: true, failures, changed, ms: performance.now() - started, ready: agent.ready })}\n`,
);
await status.close();
source.close();
