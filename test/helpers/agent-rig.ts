/**
 * The agent in-process, with its real parts (the AWS source against a `secrets-agent dev`
 * server, the files sink, metrics on a fresh registry) and logs captured: for tests that drive
 * cycles one by one.
 */
import { join } from 'node:path';
import type { Test } from 'tap';
import { Agent } from '../../agent/agent.ts';
import { createAgentMetrics, type AgentMetrics } from '../../agent/metrics.ts';
import { createReloader } from '../../agent/reload.ts';
import { prepareRenderer, renderFile } from '../../agent/render.ts';
import { FileSink } from '../../agent/sink/files.ts';
import { createAwsSource } from '../../agent/source/aws.ts';
import type { Clock } from '../../common/clock.ts';
import { parseAgentConfig, type AgentConfig } from '../../common/config.ts';
import { createLogger } from '../../common/log.ts';
import type { DevServer } from '../../dev/server.ts';
import { useLoopbackAwsEnv } from './agent-process.ts';
import { tempDir } from './tmp.ts';

export interface AgentRig {
  readonly agent: Agent;
  readonly config: AgentConfig;
  readonly metrics: AgentMetrics;
  readonly dir: string;
  readonly logs: string[];
  /** Resolves with the first log line matching the pattern, logged already or to come. */
  readonly logged: (pattern: RegExp) => Promise<string>;
}

export interface AgentRigOptions {
  readonly requestTimeoutMs?: number;
  readonly random?: () => number;
  /** What the loop's waits and every deadline read (a virtual clock: see virtual-time.ts). */
  readonly clock?: Clock;
  /** Credentials from the environment instead of static keys: unset a variable with undefined. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** As the agent's command sets it when a container credentials endpoint is named. */
  readonly containerCredentials?: boolean;
  /** As the agent's command sets it for a sidecar whose Node exposes gc(). */
  readonly collectGarbage?: () => void;
}

export async function agentRig(
  t: Test,
  server: Pick<DevServer, 'url'>,
  raw: Record<string, unknown>,
  options: AgentRigOptions = {},
): Promise<AgentRig> {
  useLoopbackAwsEnv();
  process.env['AWS_ENDPOINT_URL'] = server.url;
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
  const dir = join(await tempDir(t), 'secrets');
  const config = await parseAgentConfig({
    outputDir: dir,
    httpPort: 0,
    refreshInterval: '5s',
    ...raw,
  });
  const { clock } = options;
  const logs: string[] = [];
  const waiting = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const write = (line: string): void => {
    logs.push(line);
    for (const w of waiting)
      if (w.pattern.test(line)) {
        waiting.delete(w);
        w.resolve(line);
      }
  };
  const logged = (pattern: RegExp): Promise<string> => {
    const line = logs.find((l) => pattern.test(l));
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => waiting.add({ pattern, resolve }));
  };
  const logger = createLogger({ write }, { level: 'debug' });
  const metrics = createAgentMetrics();
  const source = createAwsSource({
    logger,
    onApiCall: (operation, outcome) => metrics.awsApiCalls.inc({ operation, outcome }),
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.failoverRegion === undefined ? {} : { failoverRegion: config.failoverRegion }),
    ...(options.requestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: options.requestTimeoutMs }),
    ...(options.containerCredentials === undefined
      ? {}
      : { containerCredentials: options.containerCredentials }),
    ...(clock === undefined ? {} : { now: () => clock.now() }),
  });
  t.teardown(() => source.close());
  const reload =
    config.reloadUrl === undefined
      ? undefined
      : createReloader({
          url: config.reloadUrl,
          logger,
          onOutcome: (outcome) => metrics.reloads.inc({ outcome }),
          ...(clock === undefined ? {} : { clock }),
        });
  await prepareRenderer(config.secrets);
  const agent = new Agent({
    config,
    source,
    files: new FileSink(dir),
    metrics,
    logger,
    render: renderFile,
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(clock === undefined ? {} : { clock }),
    ...(reload === undefined ? {} : { reload }),
    ...(options.collectGarbage === undefined ? {} : { collectGarbage: options.collectGarbage }),
  });
  return { agent, config, metrics, dir, logs, logged };
}
