#!/usr/bin/env node
/**
 * The composition root and the image's entrypoint: picks the command by name (run.ts runs it).
 * Each command is imported lazily, from a file of its own in the bundle (build.ts), so an
 * injected agent container (`args: [agent, …]`) loads nothing of the injector, and `webhook`
 * nothing of the agent.
 */
import type { Command } from '../common/command.ts';
import { exit, runCommand } from './run.ts';

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

/** Help and version here; a command by its name through run.ts. */
async function main(): Promise<number | undefined> {
  const [name, ...argv] = process.argv.slice(2);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  // `--version` anywhere, after a command too: every command answers it the same way.
  if (name === '--version' || name === '-v' || name === 'version' || argv.includes('--version')) {
    const { VERSION } = await import('../common/version.ts');
    process.stdout.write(`secrets-agent ${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    process.stderr.write(`secrets-agent: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  runCommand(name, entry.load, argv);
  return undefined;
}

void main().then((code) => {
  if (code !== undefined) exit(code);
});
