/**
 * Standard output through its file descriptor (common/fd-out.ts). A file takes every write with
 * write(2). A pipe takes only its first PIPE_START_BYTES so, which any pipe holds: a blocking
 * pipe nobody reads never stops the process (were a write past that to reach it, this test would
 * hang there). A write the descriptor does not take whole (a full non-blocking pipe, a closed
 * descriptor) goes, with everything after it, to Node's stream. Nothing is lost or reordered.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { fdOut, PIPE_START_BYTES } from '../common/fd-out.ts';
import { tempDir } from './helpers/tmp.ts';

/** A stream that keeps the bytes it is written, and counts how often the writer asked for it. */
function collector(): { open: () => PassThrough; bytes: () => Buffer; opened: () => number } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  let opened = 0;
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return {
    open: () => {
      opened += 1;
      return stream;
    },
    bytes: () => Buffer.concat(chunks),
    opened: () => opened,
  };
}

/** Numbered lines of two-byte characters, so a write taken in part may end inside one. */
const lines = (n: number, width: number): string[] =>
  Array.from({ length: n }, (_, i) => `${String(i).padStart(6, '0')} ${'é'.repeat(width)}\n`);

/** What a descriptor opened non-blocking holds now. */
function drain(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(65536);
  for (;;) {
    try {
      const n = readSync(fd, buffer);
      if (n === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    } catch {
      break; // EAGAIN: nothing more
    }
  }
  return Buffer.concat(chunks);
}

/** A FIFO, and a descriptor on it (both ends) opened with `flags`; closed when the test ends. */
async function fifo(t: Test, flags: number): Promise<{ path: string; fd: number }> {
  const path = join(await tempDir(t), 'fifo');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, constants.O_RDWR | flags);
  t.teardown(() => closeSync(fd));
  return { path, fd };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('a file: every write with write(2), the stream never built', async (t) => {
  const path = join(await tempDir(t), 'out');
  const fd = openSync(path, 'w');
  const c = collector();
  const out = fdOut(fd, c.open);
  const text = lines(200, 100);
  for (const line of text) t.equal(out.write(line), true);
  closeSync(fd);
  t.equal(readFileSync(path, 'utf8'), text.join(''), 'far past a pipe start, all in the file');
  t.equal(c.opened(), 0, 'no stream');
});

t.test('a blocking pipe nobody reads: its first bytes, then the stream', async (t) => {
  const { path, fd } = await fifo(t, 0);
  const c = collector();
  const out = fdOut(fd, c.open);
  const text = lines(400, 100);
  for (const line of text) out.write(line);
  await settle();
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  t.teardown(() => closeSync(reader));
  const piped = drain(reader);
  t.ok(piped.length > 0 && piped.length <= PIPE_START_BYTES, `the pipe got ${piped.length} bytes`);
  t.equal(c.opened(), 1, 'the stream built once');
  t.equal(Buffer.concat([piped, c.bytes()]).toString('utf8'), text.join(''), 'all, in order');
});

t.test('a non-blocking pipe without room for a write: it and the rest to the stream', async (t) => {
  const { fd } = await fifo(t, constants.O_NONBLOCK);
  // Fill the pipe, then leave it 100 bytes short of full: a write of up to PIPE_BUF bytes is
  // taken whole or not at all (EAGAIN).
  const filler = Buffer.alloc(4096, 'x');
  let size = 0;
  for (;;) {
    try {
      size += writeSync(fd, filler);
    } catch {
      break;
    }
  }
  t.ok(size >= PIPE_START_BYTES, `the pipe holds ${size} bytes`);
  t.equal(drain(fd).length, size);
  for (let left = size - 100; left > 0;) left -= writeSync(fd, filler.subarray(0, left));
  const c = collector();
  const out = fdOut(fd, c.open);
  const text = ['short\n', ...lines(3, 500)];
  for (const line of text) out.write(line);
  await settle();
  const piped = drain(fd).subarray(size - 100);
  t.equal(piped.toString('utf8'), 'short\n', 'the pipe took the write it had room for');
  t.equal(c.opened(), 1);
  t.equal(Buffer.concat([piped, c.bytes()]).toString('utf8'), text.join(''), 'all, in order');
});

t.test('a descriptor that fails: everything to the stream', async (t) => {
  const c = collector();
  const fd = openSync(join(await tempDir(t), 'x'), 'w');
  closeSync(fd);
  const out = fdOut(fd, c.open);
  out.write('one\n');
  out.write('two\n');
  await settle();
  t.equal(c.bytes().toString('utf8'), 'one\ntwo\n');
  t.equal(c.opened(), 1);
});
