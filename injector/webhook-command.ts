/**
 * `secrets-agent webhook`: the injector's composition. Flags (each with an environment twin)
 * are validated once into a frozen config; then the certificate source, the HTTPS webhook
 * server with `admit` as its handler, and the metrics server are started, and everything is
 * closed in reverse order when the signal aborts (SIGTERM/SIGINT).
 */
import { once } from 'node:events';
import type { Command } from '../common/command.ts';
import { formatDuration, parseDuration } from '../common/duration.ts';
import { AgentError } from '../common/errors.ts';
import {
  helpText,
  integerFlag,
  parseFlags,
  stringFlag,
  type CommandSpec,
  type Env,
  type FlagValues,
} from '../common/flags.ts';
import { regionProblem } from '../common/config.ts';
import { parseBooleanText } from '../common/values.ts';
import { createLogger, isLogLevel, type LogLevel, type Logger } from '../common/log.ts';
import { DEFAULT_INJECTOR_OPTIONS, admitRequest, type InjectorOptions } from './admission.ts';
import { awsDefaultFlags, awsDefaultOptions } from './aws-defaults.ts';
import { createInjectorMetrics, type InjectorMetrics } from './metrics.ts';
import {
  DEFAULT_LIMITS,
  startMetricsServer,
  startWebhookServer,
  type AdmissionHandler,
  type ServerLimits,
} from './server.ts';
import { startDiskCertificateSource, type CertificateSource } from './tls.ts';

const ENV = 'SECRETS_AGENT_WEBHOOK_';

export const WEBHOOK_COMMAND: CommandSpec = {
  name: 'webhook',
  summary: 'the admission webhook that injects the agent into pods that opt in',
  usage: 'secrets-agent webhook --tls-cert-file FILE --tls-key-file FILE [flags]',
  flags: [
    {
      name: 'port',
      env: `${ENV}PORT`,
      type: 'integer',
      default: '8443',
      help: 'HTTPS port: POST /mutate, GET /healthz, GET /readyz',
    },
    {
      name: 'address',
      env: `${ENV}ADDRESS`,
      type: 'string',
      default: '0.0.0.0',
      help: 'address both servers listen on',
    },
    {
      name: 'tls-cert-file',
      env: `${ENV}TLS_CERT_FILE`,
      type: 'string',
      help: 'PEM certificate (chain), reloaded when it changes (required)',
    },
    {
      name: 'tls-key-file',
      env: `${ENV}TLS_KEY_FILE`,
      type: 'string',
      help: 'PEM private key, reloaded when it changes (required)',
    },
    {
      name: 'metrics-port',
      env: `${ENV}METRICS_PORT`,
      type: 'integer',
      default: '9090',
      help: 'plain-HTTP port for Prometheus /metrics (0: off)',
    },
    {
      name: 'image',
      env: `${ENV}IMAGE`,
      type: 'string',
      default: DEFAULT_INJECTOR_OPTIONS.image,
      help: 'the agent image put into pods (normally this image)',
    },
    {
      name: 'default-region',
      env: `${ENV}DEFAULT_REGION`,
      type: 'string',
      help: 'AWS region for pods that name none (annotation, secret ARN, AWS_REGION/AWS_DEFAULT_REGION)',
    },
    ...awsDefaultFlags(ENV),
    {
      name: 'native-sidecar',
      env: `${ENV}NATIVE_SIDECAR`,
      type: 'string',
      default: String(DEFAULT_INJECTOR_OPTIONS.nativeSidecar),
      help: 'sidecar mode as a restartable init container (true or false; Kubernetes >= 1.29)',
    },
    {
      name: 'agent-port',
      env: `${ENV}AGENT_PORT`,
      type: 'integer',
      default: String(DEFAULT_INJECTOR_OPTIONS.agentPort),
      help: "the agent's health and metrics port inside injected pods",
    },
    {
      name: 'shutdown-delay',
      env: `${ENV}SHUTDOWN_DELAY`,
      type: 'string',
      default: '0s',
      help: 'on SIGTERM, keep serving (not ready) this long so endpoints drop the pod first',
    },
    {
      name: 'max-request-bytes',
      env: `${ENV}MAX_REQUEST_BYTES`,
      type: 'integer',
      default: String(DEFAULT_LIMITS.maxBodyBytes),
      help: 'largest request body; larger is 413 (the API server sends at most 3 MiB)',
    },
    {
      name: 'max-bytes-in-flight',
      env: `${ENV}MAX_BYTES_IN_FLIGHT`,
      type: 'integer',
      default: String(DEFAULT_LIMITS.maxBytesInFlight),
      help: 'request bodies held at once, all requests together; beyond, 503 at once',
    },
    {
      name: 'max-connections',
      env: `${ENV}MAX_CONNECTIONS`,
      type: 'integer',
      default: String(DEFAULT_LIMITS.maxConnections),
      help: 'open HTTPS connections; beyond, new ones are closed at once',
    },
    {
      name: 'header-timeout',
      env: `${ENV}HEADER_TIMEOUT`,
      type: 'string',
      default: formatDuration(DEFAULT_LIMITS.headersTimeoutMs),
      help: "a connection's TLS handshake, and a request's headers, must arrive within this",
    },
    {
      name: 'request-timeout',
      env: `${ENV}REQUEST_TIMEOUT`,
      type: 'string',
      default: formatDuration(DEFAULT_LIMITS.requestTimeoutMs),
      help: "a request's body and answer, after its headers; keep it below the webhook's timeoutSeconds",
    },
    {
      name: 'keep-alive-timeout',
      env: `${ENV}KEEP_ALIVE_TIMEOUT`,
      type: 'string',
      default: formatDuration(DEFAULT_LIMITS.keepAliveTimeoutMs),
      help: "an idle connection is closed after this; keep it above the API server's 90 s",
    },
    {
      name: 'log-level',
      env: `${ENV}LOG_LEVEL`,
      type: 'string',
      default: 'info',
      help: 'debug, info, warn or error',
    },
  ],
};

export interface WebhookConfig {
  readonly address: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly certFile: string;
  readonly keyFile: string;
  readonly shutdownDelayMs: number;
  readonly logLevel: LogLevel;
  readonly limits: ServerLimits;
  readonly injector: InjectorOptions;
}

function usage(message: string): AgentError {
  return new AgentError('USAGE', `webhook: ${message}`);
}

function required(values: FlagValues, name: string): string {
  const value = stringFlag(values, name);
  if (value === undefined || value === '') {
    const env = WEBHOOK_COMMAND.flags.find((f) => f.name === name)?.env ?? '';
    throw usage(`--${name} (${env}) is required`);
  }
  return value;
}

function port(values: FlagValues, name: string, allowZero: boolean): number {
  const value = integerFlag(values, name) ?? 0;
  if (value > 65535 || (!allowZero && value === 0)) {
    throw usage(
      `--${name} must be a port number ${allowZero ? 'from 0 (off)' : 'from 1'} to 65535, got ${value}`,
    );
  }
  return value;
}

/** The API server waits at most 30 s for a webhook (`timeoutSeconds`); nothing here should wait longer. */
const MAX_TIMEOUT_MS = 30_000;

function durationFlag(values: FlagValues, name: string, min: number, max: number): number {
  const text = stringFlag(values, name) ?? '';
  const ms = parseDuration(text);
  const range = `from ${formatDuration(min)} to ${formatDuration(max)}`;
  if (ms === undefined)
    throw usage(`--${name} must be a duration ${range}, such as 5s; got "${text}"`);
  if (ms < min || ms > max) throw usage(`--${name} must be ${range}; got ${text}`);
  return ms;
}

function countFlag(values: FlagValues, name: string, min: number): number {
  const n = integerFlag(values, name) ?? 0;
  if (n < min) throw usage(`--${name} must be at least ${min}, got ${n}`);
  return n;
}

function serverLimits(values: FlagValues): ServerLimits {
  const maxBodyBytes = countFlag(values, 'max-request-bytes', 1024);
  const maxBytesInFlight = countFlag(values, 'max-bytes-in-flight', 1024);
  if (maxBytesInFlight < maxBodyBytes)
    throw usage(
      `--max-bytes-in-flight (${maxBytesInFlight}) must be at least --max-request-bytes (${maxBodyBytes}), or a request of the largest size is never accepted`,
    );
  return Object.freeze({
    maxBodyBytes,
    maxBytesInFlight,
    maxConnections: countFlag(values, 'max-connections', 1),
    headersTimeoutMs: durationFlag(values, 'header-timeout', 100, MAX_TIMEOUT_MS),
    requestTimeoutMs: durationFlag(values, 'request-timeout', 100, MAX_TIMEOUT_MS),
    keepAliveTimeoutMs: durationFlag(values, 'keep-alive-timeout', 1000, 3_600_000),
  });
}

function injectorOptions(values: FlagValues): InjectorOptions {
  const native = stringFlag(values, 'native-sidecar');
  const nativeSidecar = parseBooleanText(native ?? '');
  if (nativeSidecar === undefined)
    throw usage(`--native-sidecar must be true or false, got "${native ?? ''}"`);
  const region = stringFlag(values, 'default-region');
  const wrong = region === undefined || region === '' ? undefined : regionProblem(region);
  if (wrong !== undefined) throw usage(`--default-region ${wrong}`);
  return Object.freeze({
    ...DEFAULT_INJECTOR_OPTIONS,
    image: required(values, 'image'),
    nativeSidecar,
    agentPort: port(values, 'agent-port', false),
    ...(region === undefined || region === '' ? {} : { defaultRegion: region }),
    ...awsDefaultOptions(values, 'webhook', ENV),
  });
}

/** Flags and environment into a frozen config; USAGE errors name the flag and its variable. */
export function parseWebhookConfig(argv: readonly string[], env: Env): WebhookConfig | 'help' {
  const flags = parseFlags(WEBHOOK_COMMAND, argv, env);
  if (flags.help) return 'help';
  if (flags.positionals.length > 0)
    throw usage(`unexpected argument "${flags.positionals.join(' ')}"`);
  const { values } = flags;
  const delay = parseDuration(stringFlag(values, 'shutdown-delay') ?? '0s');
  if (delay === undefined) throw usage('--shutdown-delay must be a duration such as 0s, 5s or 1m');
  const logLevel = stringFlag(values, 'log-level') ?? 'info';
  if (!isLogLevel(logLevel))
    throw usage(`--log-level must be debug, info, warn or error, got "${logLevel}"`);
  return Object.freeze({
    // Port 0 (a free port) is accepted for the webhook too: the tests use it; the log says which.
    address: stringFlag(values, 'address') ?? '0.0.0.0',
    port: port(values, 'port', true),
    metricsPort: port(values, 'metrics-port', true),
    certFile: required(values, 'tls-cert-file'),
    keyFile: required(values, 'tls-key-file'),
    shutdownDelayMs: delay,
    logLevel,
    limits: serverLimits(values),
    injector: injectorOptions(values),
  });
}

/** The injector's decision as the server's handler. */
export function admissionHandler(options: InjectorOptions): AdmissionHandler {
  return (request) => admitRequest(request, options);
}

function watchCertificates(
  config: WebhookConfig,
  logger: Logger,
  metrics: InjectorMetrics,
): Promise<CertificateSource> {
  return startDiskCertificateSource({
    certFile: config.certFile,
    keyFile: config.keyFile,
    logger,
    onReload: (outcome, pair) => {
      metrics.certificateReloads.inc({ outcome });
      if (pair !== undefined) metrics.certificateExpiry.set(pair.notAfter.getTime() / 1000);
    },
  });
}

async function serveUntilAborted(
  config: WebhookConfig,
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  const metrics = createInjectorMetrics();
  const closers: (() => Promise<void>)[] = [];
  try {
    const certificates = await watchCertificates(config, logger, metrics);
    closers.unshift(() => certificates.close());
    const server = await startWebhookServer({
      address: config.address,
      port: config.port,
      certificates,
      handler: admissionHandler(config.injector),
      metrics,
      logger,
      limits: config.limits,
      drainDelayMs: config.shutdownDelayMs,
    });
    closers.unshift(() => server.close());
    const metricsServer =
      config.metricsPort === 0
        ? undefined
        : await startMetricsServer({
            address: config.address,
            port: config.metricsPort,
            registry: metrics.registry,
          });
    if (metricsServer !== undefined) closers.push(() => metricsServer.close()); // last: scraped while draining
    logger.info('listening', {
      address: config.address,
      port: server.port,
      ...(metricsServer === undefined ? {} : { metricsPort: metricsServer.port }),
      image: config.injector.image,
      nativeSidecar: config.injector.nativeSidecar,
      limits: config.limits,
      ready: server.isReady(),
    });
    if (!signal.aborted) await once(signal, 'abort');
    logger.info('shutting down', { drainDelayMs: config.shutdownDelayMs });
  } finally {
    for (const close of closers) await close();
  }
}

export const run: Command = async (ctx) => {
  const config = parseWebhookConfig(ctx.argv, ctx.env);
  if (config === 'help') {
    ctx.stdout.write(helpText(WEBHOOK_COMMAND));
    return 0;
  }
  const logger = createLogger(ctx.stdout, {
    level: config.logLevel,
    base: { component: 'injector' },
  });
  await serveUntilAborted(config, ctx.signal, logger);
  logger.info('stopped');
  return 0;
};
