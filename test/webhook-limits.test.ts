/**
 * The shipped webhook Deployment keeps its own bounds consistent: the V8 heap and the request
 * bodies in flight fit the container's memory limit; every request is answered or cut before the
 * API server's webhook timeout; a pod being stopped outlives its longest request.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { parseDuration } from '../common/duration.ts';
import { DEFAULT_LIMITS } from '../injector/server.ts';
import { parseWebhookConfig } from '../injector/webhook-command.ts';
import { ROOT } from './helpers/agent-process.ts';

const MIB = 1024 * 1024;

function load(file: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(join(ROOT, 'manifests', file), 'utf8')).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
}

interface Container {
  env: { name: string; value: string }[];
  resources: { limits: { memory: string } };
}

const deployment = load('deployment.yaml').find((d) => d['kind'] === 'Deployment') as {
  spec: { template: { spec: { terminationGracePeriodSeconds: number; containers: Container[] } } };
};
const pod = deployment.spec.template.spec;
const container = pod.containers[0] as Container;
const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
const hook = (
  load('webhook.yaml').find((d) => d['kind'] === 'MutatingWebhookConfiguration') as {
    webhooks: { timeoutSeconds: number }[];
  }
).webhooks[0];

/** The webhook's settings as the container gets them (its env), defaults for the rest. */
const config = parseWebhookConfig(['--tls-cert-file', 'c', '--tls-key-file', 'k'], env);
if (config === 'help') throw new Error('unexpected help');

function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (match === null) throw new Error(`a memory limit in Mi or Gi, got ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

function v8Flag(name: string): number | undefined {
  const match = new RegExp(`--${name}=(\\d+)`).exec(env['NODE_OPTIONS'] ?? '');
  return match === null ? undefined : Number(match[1]);
}

t.test('the heap and the bodies in flight fit the memory limit', (t) => {
  const limit = mebibytes(container.resources.limits.memory);
  const oldSpace = v8Flag('max-old-space-size');
  const semiSpace = v8Flag('max-semi-space-size');
  t.ok(oldSpace !== undefined, 'NODE_OPTIONS sets --max-old-space-size');
  t.ok(semiSpace !== undefined, 'and --max-semi-space-size');
  const heap = (oldSpace ?? Infinity) + 3 * (semiSpace ?? Infinity);
  // Outside the heap: the bodies in flight and a copy of each as text, and Node itself (code,
  // TLS, buffers), ~64 MiB at rest.
  const bodies = (2 * config.limits.maxBytesInFlight) / MIB;
  t.ok(
    heap + bodies + 64 <= limit,
    `heap ${heap} MiB + bodies ${bodies} MiB + 64 MiB at rest <= the ${limit} MiB limit`,
  );
  t.ok(heap >= limit / 3, `the heap (${heap} MiB) is not starved either`);
  t.equal(env['MALLOC_MMAP_THRESHOLD_'], '131072', 'large buffers are given back once freed');
  t.end();
});

t.test("every request is answered or cut before the API server's timeout", (t) => {
  const apiServerMs = (hook?.timeoutSeconds ?? 10) * 1000;
  t.ok(
    config.limits.requestTimeoutMs < apiServerMs,
    `request timeout ${config.limits.requestTimeoutMs} ms < timeoutSeconds ${apiServerMs} ms`,
  );
  t.ok(
    config.limits.keepAliveTimeoutMs > 90_000,
    "idle connections outlive the API server's (Go's 90 s)",
  );
  const delay = parseDuration(env['SECRETS_AGENT_WEBHOOK_SHUTDOWN_DELAY'] ?? '0s') ?? 0;
  t.ok(
    pod.terminationGracePeriodSeconds * 1000 > delay + config.limits.requestTimeoutMs,
    'a stopping pod outlives its shutdown delay and its longest request',
  );
  t.ok(DEFAULT_LIMITS.requestTimeoutMs < 10_000, "the default is below the API server's default");
  t.end();
});
