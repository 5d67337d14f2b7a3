/**
 * The process around one command: the one place that reads `process.env`, handles signals and
 * exits, for the command cli/main.ts picked by name.
 */
import type { Command, CommandContext } from '../common/command.ts';
import { fdOut } from '../common/fd-out.ts';

/**
 * A usage error (AgentError USAGE), known by its code: the entry needs no module of a command's
 * to recognise it.
 */
function isUsageError(err: unknown): err is Error {
  return err instanceof Error && (err as { code?: unknown }).code === 'USAGE';
}

async function exitCode(
  name: string,
  load: () => Promise<Command>,
  argv: readonly string[],
): Promise<number> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const ctx: CommandContext = {
    argv,
    env: process.env,
    stdout: fdOut(1, () => process.stdout),
    stderr: fdOut(2, () => process.stderr),
    // A getter: process.stdin builds its stream (tty or pipe handles) on first read, ~7 ms of
    // every start, and only `inject -f -` reads it.
    get stdin() {
      return process.stdin;
    },
    signal: controller.signal,
  };
  try {
    const command = await load();
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

/** Runs the command and exits with its code. */
export function runCommand(
  name: string,
  load: () => Promise<Command>,
  argv: readonly string[],
): void {
  // A command has closed what it opened; the timer only guards against a stray handle keeping
  // the process alive after its work is done.
  void exitCode(name, load, argv).then((code) => exit(code));
}

/** Exits with the code once what is pending has drained (at most 2 s). */
export function exit(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
}
