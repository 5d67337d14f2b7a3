/** What a command gets from the composition root: no command reads `process` itself. */
import type { Env } from './flags.ts';

/** Where a command writes text: standard output or error (common/fd-out.ts), or a test's. */
export interface TextOut {
  write(text: string): unknown;
}

export interface CommandContext {
  readonly argv: readonly string[];
  readonly env: Env;
  readonly stdout: TextOut;
  readonly stderr: TextOut;
  readonly stdin: NodeJS.ReadableStream;
  /** Aborted on SIGTERM or SIGINT: long-running commands stop cleanly and resolve. */
  readonly signal: AbortSignal;
}

/** A command resolves to its exit code. */
export type Command = (ctx: CommandContext) => Promise<number>;
