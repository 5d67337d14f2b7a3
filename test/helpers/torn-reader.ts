/**
 * A separate process that reads a secrets directory in a loop, the way an app would, and checks
 * that every file is whole and that all files belong to one update. Each file holds
 * `v<N>:<name>:<padding>:end`. Two ways of reading, as apps do: each file through its stable
 * path (every file must be whole), and a whole set through `..data` resolved once (the set
 * must come from one update). Prints a JSON summary and exits when told to stop (stdin closes)
 * or after a bounded number of reads.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

const [dir, namesArg, maxReadsArg] = process.argv.slice(2);
if (dir === undefined || namesArg === undefined)
  throw new Error('usage: torn-reader DIR NAMES [MAX]');
const names = namesArg.split(',');
const maxReads = Number(maxReadsArg ?? '1000000');
let reads = 0;
let torn = 0;
let mixed = 0;
let missing = 0;
const versions = new Set<string>();
let stop = false;
process.stdin.on('end', () => (stop = true));
process.stdin.resume();

let rereads = 0;

function readSet(): void {
  readVia(dir as string, true);
  // An app reading a consistent set resolves ..data once; if the writer got two updates ahead
  // and removed that version, the app resolves again (counted, not a failure).
  for (let tries = 0; tries < 100; tries++) {
    try {
      if (readVia(realpathSync(join(dir as string, '..data')), false)) return;
    } catch {
      // resolved to a version removed meanwhile
    }
    rereads++;
  }
  missing++;
}

/**
 * A file's text, or undefined when it is not there. Through a stable path, the kernel resolves
 * `..data` while the writer may swap it twice and remove that version (only under this test's
 * back-to-back updates, never at a refresh interval): the app opens the path again, as here.
 */
function readOnce(path: string, retry: boolean): string | undefined {
  for (let tries = retry ? 2 : 1; tries > 0; tries--) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      if (tries > 1) rereads++;
    }
  }
  return undefined;
}

/** False when a file of a resolved version was gone (the reader should resolve again). */
function readVia(base: string, stablePaths: boolean): boolean {
  const seen = new Set<string>();
  for (const name of names) {
    const text = readOnce(join(base, name), stablePaths);
    if (text === undefined) {
      if (!stablePaths) return false;
      missing++;
      return true;
    }
    const match = /^v(\d+):([^:]+):x*:end$/.exec(text);
    if (match === null || match[2] !== name) {
      torn++;
      return true;
    }
    seen.add(match[1] as string);
  }
  reads++;
  if (!stablePaths && seen.size > 1) mixed++;
  for (const v of seen) versions.add(v);
  return true;
}

function loop(): void {
  for (let i = 0; i < 50 && !stop && reads < maxReads; i++) readSet();
  if (stop || reads >= maxReads) {
    process.stdout.write(
      `${JSON.stringify({ reads, torn, mixed, missing, rereads, versions: versions.size })}\n`,
    );
    return;
  }
  setImmediate(loop);
}
process.stdout.write('ready\n');
loop();
