/**
 * Standard output through its file descriptor (common/fd-out.ts): what fits goes with write(2);
 * a write the descriptor does not take whole (a full non-blocking pipe, a closed descriptor)
 * goes, with everything after it, to Node's stream. Nothing is lost, nothing reordered.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { fdOut } from '../common/fd-out.ts';
import { tempDir } from './helpers/tmp.ts';

/** A stream that keeps what it is written, and counts how often the writer asked for it. */
function collector(): { open: () => PassThrough; text: () => string; opened: () => number } {
  const stream = new PassThrough();
  let text = '';
  let opened = 0;
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return {
    open: () => {
      opened += 1;
      return stream;
    },
    text: () => text,
    opened: () => opened,
  };
}

const lines = (n: number, width: number): string[] =>
  Array.from({ length: n }, (_, i) => `${String(i).padStart(6, '0')} ${'é'.repeat(width)}\n`);

t.test('a file: every write with write(2), the stream never built', async (t) => {
  const path = join(await tempDir(t), 'out');
  const fd = openSync(path, 'w');
  let built = 0;
  const out = fdOut(fd, () => {
    built += 1;
    return new PassThrough();
  });
  const text = lines(50, 40);
  for (const line of text) t.equal(out.write(line), true);
  closeSync(fd);
  t.equal(readFileSync(path, 'utf8'), text.join(''));
  t.equal(built, 0, 'no stream');
});

/** What a non-blocking descriptor holds now. */
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

t.test('a full non-blocking pipe: the rest to the stream, in order', async (t) => {
  const fifo = join(await tempDir(t), 'fifo');
  execFileSync('mkfifo', [fifo]);
  // Both ends in one descriptor, non-blocking: a write past the pipe's capacity (64 KiB) is
  // taken in part, then refused (EAGAIN).
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  t.teardown(() => closeSync(fd));
  const sink = new PassThrough();
  let rest = '';
  sink.on('data', (chunk: Buffer) => (rest += chunk.toString('latin1')));
  let built = 0;
  const out = fdOut(fd, () => {
    built += 1;
    return sink;
  });
  // Writes past PIPE_BUF (4 KiB), which a pipe takes in part; two-byte characters, so the
  // part may end inside one.
  const text = lines(40, 5000);
  for (const line of text) out.write(line);
  const piped = drain(fd);
  await new Promise((resolve) => setImmediate(resolve));
  const all = Buffer.concat([piped, Buffer.from(rest, 'latin1')]).toString('utf8');
  t.ok(piped.length > 0, `the pipe took what it could: ${piped.length} bytes`);
  t.equal(built, 1, 'the stream built once, when the pipe was full');
  t.equal(all, text.join(''), 'every byte, in order');
});

t.test('a descriptor that fails: everything to the stream', async (t) => {
  const c = collector();
  const fd = openSync(join(await tempDir(t), 'x'), 'w');
  closeSync(fd);
  const out = fdOut(fd, c.open);
  out.write('one\n');
  out.write('two\n');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(c.text(), 'one\ntwo\n');
  t.equal(c.opened(), 1);
});
