#!/usr/bin/env node
/**
 * The composition root: the one place that reads `process.env`, handles signals and exits.
 * Each command is imported lazily, so `agent` never loads the injector's code and vice versa.
 */
import type { Command, CommandContext } from '../common/command.ts';
import { isAgentError } from '../common/errors.ts';

const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<Command> }>> = {
  agent: {
    summary: 'fetch secrets into files (init: once; sidecar: kept fresh)',
    load: async () => (await import('../agent/command.ts')).run,
  },
  dev: {
    summary: 'a local Secrets Manager + STS endpoint on 127.0.0.1',
    load: async () => (await import('../dev/command.ts')).run,
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
  return `usage: secrets-agent <command> [flags]\n\ncommands:\n${rows.join('\n')}\n\nsecrets-agent <command> --help shows a command's flags.\n`;
}

async function main(): Promise<number> {
  const [name, ...argv] = process.argv.slice(2);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
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
    if (isAgentError(err) && err.code === 'USAGE') {
      process.stderr.write(`secrets-agent ${err.message}\n`);
      return 2;
    }
    process.stderr.write(
      `secrets-agent ${name}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 1;
  }
}

const code = await main();
process.exitCode = code;
// A command has closed what it opened; this only guards against a stray handle keeping the
// process alive after its work is done.
setTimeout(() => process.exit(code), 2000).unref();
