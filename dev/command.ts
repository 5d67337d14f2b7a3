/** `secrets-agent dev`: the local Secrets Manager, SSM Parameter Store + STS endpoint as a command. */
import type { CommandContext } from '../common/command.ts';
import { AgentError } from '../common/errors.ts';
import {
  type CommandSpec,
  type FlagValues,
  booleanFlag,
  helpText,
  integerFlag,
  parseFlags,
  stringFlag,
} from '../common/flags.ts';
import { createLogger } from '../common/log.ts';
import type { QuotaOptions } from './quota.ts';
import { type Seed, loadSeedFile } from './seed.ts';
import { startDevServer } from './server.ts';

const DEFAULT_PORT = 4566;

export const devCommand: CommandSpec = {
  name: 'dev',
  summary:
    'a local AWS Secrets Manager, SSM Parameter Store + STS endpoint for development, demos and tests',
  usage: 'secrets-agent dev [--port N] [--seed FILE] [--host 127.0.0.1] [--quota-scale F]',
  flags: [
    {
      name: 'port',
      env: 'SECRETS_AGENT_DEV_PORT',
      type: 'integer',
      help: 'port to listen on; 0 picks a free one',
      default: String(DEFAULT_PORT),
    },
    {
      name: 'seed',
      env: 'SECRETS_AGENT_DEV_SEED',
      type: 'string',
      help: 'YAML or JSON file of secrets, roles and credentials to start with',
    },
    {
      name: 'host',
      env: 'SECRETS_AGENT_DEV_HOST',
      type: 'string',
      help: 'address to listen on',
      default: '127.0.0.1',
    },
    {
      name: 'quotas',
      env: 'SECRETS_AGENT_DEV_QUOTAS',
      type: 'boolean',
      help: "answer ThrottlingException past AWS's per-account request quotas",
    },
    {
      name: 'quota-scale',
      env: 'SECRETS_AGENT_DEV_QUOTA_SCALE',
      type: 'integer',
      help: 'divide every quota by this, so K agents load it as K times this many would (implies --quotas)',
    },
    {
      name: 'ssm-higher-throughput',
      env: 'SECRETS_AGENT_DEV_SSM_HIGHER_THROUGHPUT',
      type: 'boolean',
      help: "SSM Parameter Store's quotas with its higher throughput setting (with --quotas)",
    },
    {
      name: 'allow-remote',
      env: 'SECRETS_AGENT_DEV_ALLOW_REMOTE',
      type: 'boolean',
      help: 'allow a non-loopback --host (the endpoint has no real security)',
    },
  ],
};

export async function run(ctx: CommandContext): Promise<number> {
  const flags = parseFlags(devCommand, ctx.argv, ctx.env);
  if (flags.help) {
    ctx.stdout.write(helpText(devCommand));
    return 0;
  }
  if (flags.positionals.length > 0)
    throw new AgentError('USAGE', `dev: unexpected argument "${flags.positionals[0] ?? ''}"`);
  const port = integerFlag(flags.values, 'port') ?? DEFAULT_PORT;
  if (port > 65535)
    throw new AgentError(
      'USAGE',
      `dev: --port (SECRETS_AGENT_DEV_PORT) must be 0 to 65535, got ${port}`,
    );
  const host = stringFlag(flags.values, 'host') ?? '127.0.0.1';
  if (!isLoopback(host) && !booleanFlag(flags.values, 'allow-remote')) {
    throw new AgentError(
      'USAGE',
      `dev: --host ${host} is not a loopback address; the dev endpoint hands out any secret to anyone, pass --allow-remote if you mean it`,
    );
  }
  const quotas = quotaOptions(flags.values);
  const seedPath = stringFlag(flags.values, 'seed');
  const seed: Seed | undefined = seedPath === undefined ? undefined : await loadSeedFile(seedPath);
  const logger = createLogger(ctx.stderr, { base: { component: 'dev' } });
  const server = await startDevServer({
    port,
    host,
    logger,
    ...(seed === undefined ? {} : { seed }),
    ...(quotas === undefined ? {} : { quotas }),
  }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new AgentError(
      'USAGE',
      `dev: port ${port} on ${host} is in use (EADDRINUSE): choose another with --port N (or SECRETS_AGENT_DEV_PORT), or --port 0 for a free one`,
      { cause: err },
    );
  });
  ctx.stdout.write(
    `${JSON.stringify({ msg: 'listening', url: server.url, port: server.port, secrets: server.seed.secrets.length })}\n`,
  );
  logger.info('listening', {
    url: server.url,
    seed: seedPath ?? null,
    secrets: server.seed.secrets.map((s) => s.name),
  });
  await waitForAbort(ctx.signal);
  await server.close();
  logger.info('stopped', {});
  return 0;
}

/** The quotas the flags ask for; undefined when they are not enforced. */
function quotaOptions(values: FlagValues): QuotaOptions | undefined {
  const scale = integerFlag(values, 'quota-scale');
  if (scale !== undefined && scale < 1)
    throw new AgentError(
      'USAGE',
      `dev: --quota-scale (SECRETS_AGENT_DEV_QUOTA_SCALE) must be at least 1, got ${scale}`,
    );
  if (scale === undefined && !booleanFlag(values, 'quotas')) return undefined;
  return { scale: scale ?? 1, ssmHigherThroughput: booleanFlag(values, 'ssm-higher-throughput') };
}

export function isLoopback(host: string): boolean {
  return (
    host === 'localhost' ||
    host === '::1' ||
    host === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}
