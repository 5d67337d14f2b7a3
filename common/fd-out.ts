/**
 * Text to standard output or error through its file descriptor, one write(2) a piece, without
 * the stream object Node builds on first use of `process.stdout` (for a pipe, as a container's
 * output is: a socket and its stream machinery, ~3 ms of CPU at every start: bench/startup.ts).
 *
 * Only while a write cannot wait on the reader. A file or a terminal takes every write (Node's
 * own stream writes to them synchronously too). A pipe blocks a write once it is full, and
 * nothing else in the process would run until its reader drains it: so a pipe gets through the
 * descriptor only the first PIPE_START_BYTES, which any pipe holds (the start's few log lines),
 * and everything after goes to Node's stream, which queues what the reader has not taken. A
 * write the descriptor does not take whole (a full non-blocking pipe, a closed descriptor) goes
 * to the stream as well, with everything after it: nothing is lost and the order stays.
 */
import { fstatSync, writeSync } from 'node:fs';
import type { TextOut } from './command.ts';

/** What a pipe holds at the least: one page (Linux's smallest pipe size, and PIPE_BUF). */
export const PIPE_START_BYTES = 4096;

/** How many bytes may go through the descriptor before the stream takes over. */
function descriptorRoom(fd: number): number {
  try {
    const stat = fstatSync(fd);
    return stat.isFile() || stat.isCharacterDevice() ? Infinity : PIPE_START_BYTES;
  } catch {
    return 0;
  }
}

export function fdOut(fd: number, stream: () => NodeJS.WritableStream): TextOut {
  let fallback: NodeJS.WritableStream | undefined;
  let room: number | undefined;
  return {
    write(text: string): boolean {
      if (fallback !== undefined) return fallback.write(text);
      const bytes = Buffer.from(text, 'utf8');
      room ??= descriptorRoom(fd);
      let written = 0;
      if (bytes.length <= room) {
        try {
          written = writeSync(fd, bytes);
        } catch {
          // Left to the stream below, which retries or reports it.
        }
        room -= written;
      }
      if (written === bytes.length) return true;
      fallback = stream();
      return fallback.write(bytes.subarray(written));
    },
  };
}
