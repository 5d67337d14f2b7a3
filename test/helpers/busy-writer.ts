/** Writes versions of a set of files as fast as it can, until killed: for crash tests. */
import { FileSink } from '../../agent/sink/files.ts';

const [dir, namesArg] = process.argv.slice(2);
if (dir === undefined || namesArg === undefined) throw new Error('usage: busy-writer DIR NAMES');
const names = namesArg.split(',');
const sink = new FileSink(dir);
let started = false;
for (let v = Date.now() % 100_000; ; v++) {
  await sink.write(
    names.map((name) => ({
      name,
      content: Buffer.from(`v${v}:${name}:${'x'.repeat((v * 7919) % 8192)}:end`),
      mode: 0o644,
    })),
  );
  if (!started) {
    started = true;
    process.stdout.write('writing\n');
  }
}
