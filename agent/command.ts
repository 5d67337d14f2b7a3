/**
 * `secrets-agent agent`: wires configuration, the AWS source, the files sink, metrics and the
 * status server together, and runs init or sidecar mode.
 */
import { mkdir, readFile, writeFile } from '../common/fs-async.ts';
import { dirname } from 'node:path';
import type { Command, TextOut } from '../common/command.ts';
import { parseAgentConfig, type AgentConfig, type K8sSecretTarget } from '../common/config.ts';
import { AgentError, describeError } from '../common/errors.ts';
import {
  helpText,
  integerFlag,
  parseFlags,
  stringFlag,
  type CommandSpec,
  type Env,
} from '../common/flags.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { parseYaml } from '../common/yaml.ts';
import { Agent, specRef, terminationMessage, type SecretFailure } from './agent.ts';
import { withNotFoundHints } from './not-found.ts';
import { FailureEvents, podFromEnv } from './events.ts';
import { startStatusServer, type StatusServer } from './http.ts';
import { collectProcessMetrics, createAgentMetrics, type AgentMetrics } from './metrics.ts';
import { createReloader } from './reload.ts';
import { extractFields, prepareRenderer, renderFile } from './render.ts';
import type { RecordingSource } from './local-api.ts';
import type { K8sSecretSink } from './sink/k8s-secret.ts';
import type { KubeConnection } from './sink/kube/config.ts';
import type { KubeTransport } from './sink/kube/client.ts';
import type { SecretSource } from './source/source.ts';
import { FileSink } from './sink/files.ts';
import { createAwsSource } from './source/aws.ts';
import { resolveRegion } from './region.ts';

export const AGENT_COMMAND: CommandSpec = {
  name: 'agent',
  summary:
    'fetch secrets from AWS Secrets Manager and SSM Parameter Store into files (init: once; sidecar: kept fresh)',
  usage: 'secrets-agent agent (--config FILE | --config-json JSON) [flags]',
  flags: [
    {
      name: 'config',
      env: 'SECRETS_AGENT_CONFIG_FILE',
      type: 'string',
      help: 'configuration file (YAML or JSON)',
    },
    {
      name: 'config-json',
      env: 'SECRETS_AGENT_CONFIG',
      type: 'string',
      help: 'configuration as a JSON document (what the injector passes)',
    },
    {
      name: 'mode',
      env: 'SECRETS_AGENT_MODE',
      type: 'string',
      help: 'override the configuration: init or sidecar',
    },
    {
      name: 'output-dir',
      env: 'SECRETS_AGENT_OUTPUT_DIR',
      type: 'string',
      help: 'override the configuration: where the files go',
    },
    {
      name: 'http-address',
      env: 'SECRETS_AGENT_HTTP_ADDRESS',
      type: 'string',
      help: 'override the configuration: health and metrics address',
    },
    {
      name: 'http-port',
      env: 'SECRETS_AGENT_HTTP_PORT',
      type: 'integer',
      help: 'override the configuration: health and metrics port (0: off)',
    },
    {
      name: 'termination-log',
      env: 'SECRETS_AGENT_TERMINATION_LOG',
      type: 'string',
      help: 'override the configuration: where the init failure line goes',
    },
    {
      name: 'log-level',
      env: 'SECRETS_AGENT_LOG_LEVEL',
      type: 'string',
      help: 'override the configuration: debug, info, warn or error',
    },
  ],
};

const OVERRIDES: Readonly<Record<string, string>> = {
  mode: 'mode',
  'output-dir': 'outputDir',
  'http-address': 'httpAddress',
  'http-port': 'httpPort',
  'termination-log': 'terminationLogPath',
  'log-level': 'logLevel',
};

async function loadDocument(values: ReturnType<typeof parseFlags>['values']): Promise<unknown> {
  const file = stringFlag(values, 'config');
  const json = stringFlag(values, 'config-json');
  if ((file === undefined) === (json === undefined)) {
    throw new AgentError(
      'USAGE',
      'agent: give the configuration with exactly one of --config FILE or --config-json JSON',
    );
  }
  if (json !== undefined) return parseJson(json, '--config-json');
  const path = file as string;
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new AgentError('CONFIG_INVALID', `cannot read configuration file ${path}: ${code}`);
  });
  if (text.trimStart().startsWith('{')) return parseJson(text, path);
  try {
    return await parseYaml(text);
  } catch (err) {
    throw new AgentError(
      'CONFIG_INVALID',
      `configuration file ${file} is not valid YAML: ${(err as Error).message}`,
    );
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new AgentError('CONFIG_INVALID', `${where} is not valid JSON: ${(err as Error).message}`);
  }
}

export async function loadAgentConfig(
  argv: readonly string[],
  env: Env,
): Promise<AgentConfig | 'help'> {
  const flags = parseFlags(AGENT_COMMAND, argv, env);
  if (flags.help) return 'help';
  const doc = await loadDocument(flags.values);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return await parseAgentConfig(doc);
  const merged: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
  for (const [flag, field] of Object.entries(OVERRIDES)) {
    const value =
      flag === 'http-port' ? integerFlag(flags.values, flag) : stringFlag(flags.values, flag);
    if (value !== undefined) merged[field] = value;
  }
  return await parseAgentConfig(merged);
}

async function writeTerminationLog(path: string, line: string, logger: Logger): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${line}\n`);
  } catch (err) {
    logger.warn('cannot write the termination log', {
      path,
      error: (err as NodeJS.ErrnoException).code,
    });
  }
}

export const run: Command = async (ctx) => {
  let config: AgentConfig | 'help';
  try {
    config = await loadAgentConfig(ctx.argv, ctx.env);
  } catch (err) {
    if (err instanceof AgentError && err.code === 'CONFIG_INVALID') {
      ctx.stderr.write(`secrets-agent agent: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  if (config === 'help') {
    ctx.stdout.write(helpText(AGENT_COMMAND));
    return 0;
  }
  const logger = createLogger(ctx.stdout, { level: config.logLevel, base: { component: 'agent' } });
  // Only the template engine and YAML writer these secrets use are loaded.
  await prepareRenderer(config.secrets);
  const metrics = createAgentMetrics();
  if (config.mode === 'sidecar') metrics.refreshInterval.set(config.refreshIntervalMs / 1000);
  let region: Awaited<ReturnType<typeof resolveRegion>>;
  try {
    region = await resolveRegion(config, ctx.env);
  } catch (err) {
    return await configFailure(err, ctx.stderr, config, logger);
  }
  if (region.from !== 'config') logger.info('region', region);
  // Everything below sees the region the agent resolved, wherever it came from.
  const effective: AgentConfig =
    region.region === undefined ? config : Object.freeze({ ...config, region: region.region });
  const aws = awsSource(effective, ctx.env, metrics, logger);
  const recording = effective.localApi ? await recordingSource(aws, effective) : undefined;
  const source = recording ?? aws;
  const kube = kubeApi(ctx.env);
  let secret: OpenSink | undefined;
  let api: { close(): Promise<void> } | undefined;
  try {
    secret =
      config.k8sSecret === undefined
        ? undefined
        : await openSecretSink(config.k8sSecret, kube, ctx.env, logger);
    // The token file is written here, before the agent can report ready.
    if (recording !== undefined)
      api = await openLocalApi(recording, effective, metrics, logger, ctx.env);
  } catch (err) {
    source.close();
    secret?.close();
    return await configFailure(err, ctx.stderr, config, logger);
  }
  const events = failureEvents(ctx.env, kube, logger);
  const agent = buildAgent(config, source, secret, metrics, logger, events);
  try {
    const hints = (failures: readonly SecretFailure[]): Promise<readonly SecretFailure[]> =>
      withNotFoundHints(failures, config.secrets, aws, effective.region, ctx.signal);
    return await serve(agent, config, metrics, logger, ctx.signal, hints);
  } finally {
    await events?.close();
    await api?.close();
    source.close();
    secret?.close();
  }
};

/** A configuration or Kubernetes-configuration error found at start: said, and exit 78. */
async function configFailure(
  err: unknown,
  stderr: TextOut,
  config: AgentConfig,
  logger: Logger,
): Promise<number> {
  if (!(err instanceof AgentError) || (err.code !== 'CONFIG_INVALID' && err.code !== 'KUBE_CONFIG'))
    throw err;
  stderr.write(`secrets-agent agent: ${err.message}\n`);
  await writeTerminationLog(config.terminationLogPath, err.message, logger);
  return 78;
}

function awsSource(
  config: AgentConfig,
  env: Env,
  metrics: AgentMetrics,
  logger: Logger,
): SecretSource {
  return createAwsSource({
    logger,
    onApiCall: (operation, outcome) => metrics.awsApiCalls.inc({ operation, outcome }),
    requestTimeoutMs: config.requestTimeoutMs,
    containerCredentials: usesContainerCredentials(env),
    env,
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.failoverRegion === undefined ? {} : { failoverRegion: config.failoverRegion }),
    ...transport(config),
  });
}

function buildAgent(
  config: AgentConfig,
  source: SecretSource,
  secret: OpenSink | undefined,
  metrics: AgentMetrics,
  logger: Logger,
  events: FailureEvents | undefined,
): Agent {
  return new Agent({
    config,
    source,
    ...(events === undefined ? {} : { events }),
    files: new FileSink(config.outputDir),
    metrics,
    logger,
    render: renderFile,
    ...(config.mode === 'sidecar' ? collector(logger) : {}),
    ...(secret === undefined ? {} : { secret: { writer: secret.sink, extract: extractFields } }),
    ...(config.reloadUrl === undefined || config.mode !== 'sidecar'
      ? {}
      : {
          reload: createReloader({
            url: config.reloadUrl,
            logger,
            onOutcome: (outcome) => metrics.reloads.inc({ outcome }),
          }),
        }),
  });
}

/**
 * What the sidecar asks of V8 after each cycle: a full collection of the kind V8 makes when
 * memory runs out ("last resort": it collects until nothing more is freed, compacts, and
 * gives the emptied pages back), not an ordinary one, which keeps the pages the heap grew into.
 * It costs ~15 ms of CPU instead of ~9 ms, once a refresh, and keeps ~3.5 MiB fewer pages
 * charged to the pod (bench/memory.ts).
 */
const GC_OPTIONS = { type: 'major', execution: 'sync', flavor: 'last-resort' } as const;

/**
 * Node's gc(), where NODE_OPTIONS exposes it (`--expose-gc`, as the injector sets for a
 * sidecar): collected after each cycle, a sidecar's working set stays below where it was when
 * it became ready, where V8 alone lets it grow by a third over its first twenty refreshes.
 */
export function collector(logger: Logger): { collectGarbage?: () => void } {
  const { gc } = globalThis as { gc?: unknown };
  if (typeof gc !== 'function') return {};
  return {
    collectGarbage: () => {
      try {
        (gc as (options: typeof GC_OPTIONS) => void)(GC_OPTIONS);
        logger.debug('garbage collected', { heapUsedBytes: process.memoryUsage().heapUsed });
      } catch (err) {
        // A collection or a reading that fails changes nothing the agent does: it goes on.
        logger.debug('garbage collection failed', { error: describeError(err) });
      }
    },
  };
}

/** With the local API, the source keeps what it reads: the API serves the loop's values. */
async function recordingSource(aws: SecretSource, config: AgentConfig): Promise<RecordingSource> {
  const { RecordingSource } = await import('./local-api.ts');
  return new RecordingSource(aws, config.secrets.map(specRef));
}

/**
 * The local API: the token file first (before the agent can report ready), then the server on
 * 127.0.0.1. A port already taken is a configuration error.
 */
async function openLocalApi(
  source: RecordingSource,
  config: AgentConfig,
  metrics: AgentMetrics,
  logger: Logger,
  env: Env,
): Promise<{ close(): Promise<void> }> {
  const module = await import('./local-api.ts');
  const token = await module.resolveToken(env);
  const tokenFile = await module
    .writeTokenFile(config.outputDir, token, config.fileMode)
    .catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new AgentError(
        'CONFIG_INVALID',
        `local API: cannot write the token file in ${config.outputDir}: ${code}`,
      );
    });
  let parameters: Promise<import('./source/ssm-read.ts').ParameterReader> | undefined;
  const api = await module
    .startLocalApi({
      port: config.localApiPort,
      token,
      source,
      parameters: () =>
        (parameters ??= import('./source/ssm-read.ts').then((m) =>
          m.createParameterReader({
            onApiCall: (operation, outcome) => metrics.awsApiCalls.inc({ operation, outcome }),
            requestTimeoutMs: config.requestTimeoutMs,
            ...transport(config),
            ...(config.region === undefined ? {} : { region: config.region }),
          }),
        )),
      cacheTtlMs: config.refreshIntervalMs,
      logger,
      onRequest: (outcome) => metrics.localApiRequests.inc({ outcome }),
    })
    .catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new AgentError(
        'CONFIG_INVALID',
        `local API: cannot listen on ${module.LOCAL_API_ADDRESS}:${config.localApiPort}: ${code}`,
      );
    });
  logger.info('local API', { address: module.LOCAL_API_ADDRESS, port: api.port, tokenFile });
  return {
    close: async () => {
      await api.close();
      if (parameters !== undefined) (await parameters).close();
    },
  };
}

/** Runs the mode with the status server up; resolves to the exit code. */
async function serve(
  agent: Agent,
  config: AgentConfig,
  metrics: AgentMetrics,
  logger: Logger,
  signal: AbortSignal,
  hints: (failures: readonly SecretFailure[]) => Promise<readonly SecretFailure[]>,
): Promise<number> {
  let status: StatusServer | undefined;
  try {
    if (config.httpPort !== 0) {
      await collectProcessMetrics(metrics.registry);
      status = await startStatusServer({
        address: config.httpAddress,
        port: config.httpPort,
        registry: metrics.registry,
        ready: () => agent.ready,
        detail: () => agent.detail,
      });
    }
    logger.info('starting', {
      mode: config.mode,
      secrets: config.secrets.map((s) => s.name),
      dir: config.outputDir,
      ...(status === undefined ? {} : { httpPort: status.port }),
    });
    const failures =
      config.mode === 'sidecar' ? await agent.runSidecar(signal) : await agent.runInit(signal);
    if (failures.length === 0) {
      if (config.mode === 'sidecar') logger.info('stopped');
      else logger.info('done', { secrets: config.secrets.length });
      return 0;
    }
    const line = terminationMessage(await hints(failures));
    await writeTerminationLog(config.terminationLogPath, line, logger);
    logger.error('giving up', { error: line });
    return 1;
  } finally {
    await status?.close();
  }
}

/** The configuration's proxy and FIPS settings, as the AWS clients take them. */
function transport(config: AgentConfig): { proxyAddress?: string; useFipsEndpoint?: boolean } {
  return {
    ...(config.proxyAddress === undefined ? {} : { proxyAddress: config.proxyAddress }),
    ...(config.useFipsEndpoint ? { useFipsEndpoint: true } : {}),
  };
}

/** The Kubernetes API as the agent reaches it: its connection and one transport over it. */
interface KubeApi {
  readonly connection: KubeConnection;
  readonly transport: KubeTransport;
}

/**
 * The Kubernetes API, opened at the first use and once: the Secret sink and the Events share
 * one reading of the connection and one transport (one pool of connections to the API server).
 */
function kubeApi(env: Env): () => Promise<KubeApi> {
  let opened: Promise<KubeApi> | undefined;
  return () =>
    (opened ??= (async () => {
      const [{ loadKubeConnection }, { createKubeTransport }] = await Promise.all([
        import('./sink/kube/config.ts'),
        import('./sink/kube/client.ts'),
      ]);
      const connection = await loadKubeConnection(env);
      return { connection, transport: createKubeTransport(connection) };
    })());
}

/**
 * Kubernetes Events for failing sources, when the agent knows its pod (the downward API): the
 * API client is loaded at the first failure only, so an agent that never fails never opens it.
 */
function failureEvents(
  env: Env,
  kube: () => Promise<KubeApi>,
  logger: Logger,
): FailureEvents | undefined {
  const pod = podFromEnv(env);
  if (pod === undefined) return undefined;
  return new FailureEvents({
    pod,
    logger,
    open: async () => {
      const [{ transport }, { createEventsClient }] = await Promise.all([
        kube(),
        import('./sink/kube/events.ts'),
      ]);
      return createEventsClient(transport);
    },
  });
}

/** EKS Pod Identity and ECS hand credentials out from an endpoint named in the environment. */
function usesContainerCredentials(env: Env): boolean {
  return ['AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'].some(
    (name) => Boolean(env[name]),
  );
}

interface OpenSink {
  readonly sink: K8sSecretSink;
  close(): void;
}

/**
 * The Kubernetes Secret sink, loaded only when a k8sSecret is configured: its namespace is the
 * configured one, else the pod's (POD_NAMESPACE from the downward API, or the service account's).
 */
async function openSecretSink(
  target: K8sSecretTarget,
  kube: () => Promise<KubeApi>,
  env: Env,
  logger: Logger,
): Promise<OpenSink> {
  const [{ connection, transport }, { createSecretsClient }, { K8sSecretSink }] = await Promise.all(
    [kube(), import('./sink/kube/client.ts'), import('./sink/k8s-secret.ts')],
  );
  const namespace = target.namespace ?? nonEmpty(env['POD_NAMESPACE']) ?? connection.namespace;
  if (namespace === undefined) {
    throw new AgentError(
      'KUBE_CONFIG',
      `k8sSecret ${target.name}: no namespace: set k8sSecret.namespace, or POD_NAMESPACE`,
    );
  }
  const client = createSecretsClient(connection, transport);
  const sink = new K8sSecretSink({
    client,
    namespace,
    name: target.name,
    logger,
    ...(target.owners === undefined ? {} : { owners: target.owners }),
  });
  logger.info('Kubernetes Secret sink', { secret: sink.target, api: connection.source });
  return { sink, close: () => client.close() };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
