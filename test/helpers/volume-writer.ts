/**
 * Runs FileSink writes on a directory and prints one JSON line per write: what it wrote, or
 * the error code and message. Driven by test/files-volume.test.ts inside a private mount
 * namespace whose directory is a small tmpfs, as a pod's size-limited in-memory volume.
 *
 *   node volume-writer.ts DIR SIZE_KIB...   (one write per size: two files of half that size)
 */
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSink } from '../../agent/sink/files.ts';
import { isAgentError } from '../../common/errors.ts';

const [dir, ...sizes] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: volume-writer.ts DIR SIZE_KIB...');
const sink = new FileSink(dir);
for (const [i, size] of sizes.entries()) {
  const half = new Uint8Array((Number(size) * 1024) / 2).fill(65 + i);
  const files = ['a', 'b'].map((name) => ({ name, content: half, mode: 0o644 }));
  let result: Record<string, unknown>;
  try {
    const { status, held = [] } = await sink.write(files);
    result = { status, held: held.map((h) => `${h.name}:${h.code}`) };
  } catch (err) {
    result = isAgentError(err) ? { code: err.code, message: err.message } : { error: String(err) };
  }
  const versions = (await readdir(dir)).filter((e) => /^\.\.\d{4}_/.test(e));
  const live = await readlink(join(dir, '..data')).catch(() => undefined);
  process.stdout.write(`${JSON.stringify({ ...result, versions: versions.length, live })}\n`);
}
