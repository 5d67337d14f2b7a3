/**
 * Text to standard output or error through its file descriptor, one write(2) a piece, without
 * the stream object Node builds on first use of `process.stdout` (for a pipe, as a container's
 * output is: a socket and its stream machinery, ~3 ms of CPU at every start: bench/startup.ts).
 * A write that cannot complete at once (EAGAIN: a non-blocking pipe that is full), completes in
 * part, or fails goes, with everything after it, to Node's own stream, which waits for the
 * reader and reports errors as it always does: nothing is lost and the order stays.
 */
import { writeSync } from 'node:fs';
import type { TextOut } from './command.ts';

export function fdOut(fd: number, stream: () => NodeJS.WritableStream): TextOut {
  let fallback: NodeJS.WritableStream | undefined;
  return {
    write(text: string): boolean {
      if (fallback !== undefined) return fallback.write(text);
      const bytes = Buffer.from(text, 'utf8');
      let written = 0;
      try {
        written = writeSync(fd, bytes);
      } catch {
        // Left to the stream below, which retries or reports it.
      }
      if (written === bytes.length) return true;
      fallback = stream();
      return fallback.write(bytes.subarray(written));
    },
  };
}
