/**
 * Writes versions of a set of files as fast as it can, until killed: for crash tests. Prints a
 * line after each write, so a test can kill it after a chosen number of writes, mid-way through
 * the next one, without a timer.
 */
import { FileSink } from '../../agent/sink/files.ts';

const [dir, namesArg, firstArg] = process.argv.slice(2);
if (dir === undefined || namesArg === undefined)
  throw new Error('usage: busy-writer DIR NAMES [FIRST-VERSION]');
const names = namesArg.split(',');
const sink = new FileSink(dir);
for (let v = Number(firstArg ?? '1'); ; v++) {
  await sink.write(
    names.map((name) => ({
      name,
      content: Buffer.from(`v${v}:${name}:${'x'.repeat((v * 7919) % 8192)}:end`),
      mode: 0o644,
    })),
  );
  process.stdout.write('written\n');
}
