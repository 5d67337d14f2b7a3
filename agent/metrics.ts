/** The agent's Prometheus metrics (names as the README documents them), on a registry passed in, never the global one. */
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';

export interface AgentMetrics {
  readonly registry: Registry;
  readonly fetchTotal: Counter<'secret' | 'outcome'>;
  readonly fetchDuration: Histogram;
  readonly awsApiCalls: Counter<'operation' | 'outcome'>;
  readonly lastSuccess: Gauge<'secret'>;
  readonly updatesTotal: Counter<'secret'>;
  readonly k8sSecretWrites: Counter<'outcome'>;
  readonly ready: Gauge;
  readonly reloads: Counter<'outcome'>;
  readonly refreshInterval: Gauge;
  readonly localApiRequests: Counter<'outcome'>;
  readonly fileNoSpace: Gauge<'secret'>;
}

/** Outcomes of secrets_agent_local_api_requests_total. */
export const LOCAL_API_OUTCOMES = ['hit', 'miss', 'unauthorized', 'error'] as const;
export type LocalApiOutcome = (typeof LOCAL_API_OUTCOMES)[number];

/**
 * How often the event loop's delay is sampled for the `nodejs_eventloop_lag_*` figures. prom-client
 * samples every 10 ms by default: a timer that wakes an idle sidecar 100 times a second, ~7–10
 * millicores of CPU per pod doing nothing (bench/idle.ts), paid by every pod of a fleet. Once a
 * second, a scrape every 15–30 s gets 15–30 samples: a stall shows when it spans a sample, and
 * the percentiles are coarse (an agent that waits on the network has few stalls to find).
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

/**
 * Node's process metrics (`process_*`, `nodejs_*`) on the registry, for an agent that serves
 * `/metrics`; loaded only then (agent/prom-client.d.ts).
 */
export async function collectProcessMetrics(registry: Registry): Promise<void> {
  const { default: collectDefaultMetrics } = await import('prom-client/lib/defaultMetrics.js');
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}

export function createAgentMetrics(registry = new Registry()): AgentMetrics {
  const registers = [registry];
  return {
    registry,
    fetchTotal: new Counter({
      name: 'secrets_agent_fetch_total',
      help: 'Secret reads by the agent, by secret (file name) and outcome (success or an error code).',
      labelNames: ['secret', 'outcome'] as const,
      registers,
    }),
    fetchDuration: new Histogram({
      name: 'secrets_agent_fetch_duration_seconds',
      help: 'Duration of one fetch of all the secrets (a refresh cycle), in seconds.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    awsApiCalls: new Counter({
      name: 'secrets_agent_aws_api_calls_total',
      help: 'HTTP calls to AWS APIs (retries included), by operation and outcome: what the user pays for.',
      labelNames: ['operation', 'outcome'] as const,
      registers,
    }),
    lastSuccess: new Gauge({
      name: 'secrets_agent_last_success_timestamp_seconds',
      help: 'Unix time of the last successful read of each secret.',
      labelNames: ['secret'] as const,
      registers,
    }),
    updatesTotal: new Counter({
      name: 'secrets_agent_updates_total',
      help: "Times a secret's rendered content changed and was rewritten.",
      labelNames: ['secret'] as const,
      registers,
    }),
    k8sSecretWrites: new Counter({
      name: 'secrets_agent_k8s_secret_writes_total',
      help: 'Writes to the Kubernetes Secret, by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    reloads: new Counter({
      name: 'secrets_agent_reload_total',
      help: 'POSTs to the reload URL after files changed, by outcome (success, failure after retries).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    refreshInterval: new Gauge({
      name: 'secrets_agent_refresh_interval_seconds',
      help: 'The configured refresh interval (sidecar mode), for staleness alerts.',
      registers,
    }),
    localApiRequests: new Counter({
      name: 'secrets_agent_local_api_requests_total',
      help: "Requests to the local API by outcome: hit (the agent's cache), miss (read from AWS), unauthorized (no or a wrong token), error.",
      labelNames: ['outcome'] as const,
      registers,
    }),
    fileNoSpace: new Gauge({
      name: 'secrets_agent_file_no_space',
      help: "1 while a secret's new content does not fit on the volume (its last content stays), else 0.",
      labelNames: ['secret'] as const,
      registers,
    }),
    ready: new Gauge({
      name: 'secrets_agent_ready',
      help: '1 once every secret was written at least once.',
      registers,
    }),
  };
}
