#!/usr/bin/env node
/**
 * The composition root: the one place that reads `process.env`, handles signals and exits.
 * Each command is imported lazily, so `agent` never loads the injector's code and vice versa
 * (in the bundle, each command is a file of its own: build.ts).
 */
import type { Command, CommandContext } from '../common/command.ts';

/**
 * `dev` is a developer tool: the bundle and the image do not carry it. The bundle loads it from
 * the TypeScript source next to it (`dev/`, beside `dist/`), which only a checkout has.
 */
async function loadDevCommand(): Promise<Command> {
  try {
    return (await import('../dev/command.ts')).run;
  } catch (err) {
    // Only dev/command.ts itself missing; anything else that fails in dev/ is reported as it is.
    const { code, url } = err as { code?: unknown; url?: unknown };
    if (
      code !== 'ERR_MODULE_NOT_FOUND' ||
      typeof url !== 'string' ||
      !url.endsWith('/dev/command.ts')
    )
      throw err;
    return (ctx) => {
      ctx.stderr.write(
        'secrets-agent dev: the dev command is a developer tool, not part of this build: run it from a checkout of the source (npx secrets-agent dev)\n',
      );
      return Promise.resolve(2);
    };
  }
}

/**
 * A usage error (AgentError USAGE), known by its code: this entry imports no module of a
 * command's, so that in the bundle each module exists once per process (build.ts).
 */
function isUsageError(err: unknown): err is Error {
  return err instanceof Error && (err as { code?: unknown }).code === 'USAGE';
}

const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<Command> }>> = {
  agent: {
    summary: 'fetch Secrets Manager secrets and SSM parameters into files, kept fresh',
    load: async () => (await import('../agent/command.ts')).run,
  },
  dev: {
    summary: 'a local Secrets Manager, SSM + STS endpoint on 127.0.0.1 (a developer tool)',
    load: loadDevCommand,
  },
  inject: {
    summary: 'print what the injector would make of the pods and workloads in a file',
    load: async () => (await import('../injector/inject-command.ts')).run,
  },
  webhook: {
    summary: 'the admission webhook (HTTPS) that injects the agent into pods that opt in',
    load: async () => (await import('../injector/webhook-command.ts')).run,
  },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: secrets-agent <command> [flags]\n\ncommands:\n${rows.join('\n')}\n\nsecrets-agent <command> --help shows a command's flags;\nsecrets-agent --version (or -v), the version.\n`;
}

async function main(): Promise<number> {
  const [name, ...argv] = process.argv.slice(2);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  // `--version` anywhere, after a command too: every command answers it the same way.
  if (name === '--version' || name === '-v' || name === 'version' || argv.includes('--version')) {
    // Its own file in the bundle: the entry holds no module a command also holds.
    const { VERSION } = await import('../common/version.ts');
    process.stdout.write(`secrets-agent ${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    process.stderr.write(`secrets-agent: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const ctx: CommandContext = {
    argv,
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    // A getter: process.stdin builds its stream (tty or pipe handles) on first read, ~7 ms of
    // every start, and only `inject -f -` reads it.
    get stdin() {
      return process.stdin;
    },
    signal: controller.signal,
  };
  try {
    const command = await entry.load();
    return await command(ctx);
  } catch (err) {
    if (isUsageError(err)) {
      process.stderr.write(`secrets-agent ${err.message}\n`);
      return 2;
    }
    process.stderr.write(
      `secrets-agent ${name}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 1;
  }
}

// A command has closed what it opened; the timer only guards against a stray handle keeping
// the process alive after its work is done.
void main().then((code) => {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
});
