/**
 * The files sink on a full volume, as a pod's size-limited in-memory `emptyDir`: a private mount
 * namespace (`unshare -m`) with a small tmpfs. At most two versions are ever on the volume, so a
 * volume twice the size of one version takes every update; a file whose new content does not
 * fit keeps its live content and is named, nothing partial stays, and a later update that fits
 * lands. files-swap-room.test.ts runs the same through the whole agent.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { tempDir } from './helpers/tmp.ts';
import { fileNeeds } from './helpers/needs.ts';

fileNeeds(t, 'mount namespaces');

const run = promisify(execFile);
const WRITER = join(import.meta.dirname, 'helpers', 'volume-writer.ts');

interface Line {
  readonly status?: string;
  readonly held?: readonly string[];
  readonly code?: string;
  readonly message?: string;
  readonly versions: number;
  readonly live?: string;
}

/** Writes sets of the given sizes (KiB) to a tmpfs of `volumeKib`; one result per write. */
async function writes(dir: string, volumeKib: number, sizes: number[]): Promise<Line[]> {
  const script = `mount -t tmpfs -o size=${volumeKib}k tmpfs "$1" && shift && exec "$@"`;
  const { stdout } = await run('unshare', [
    '-m',
    '--propagation',
    'private',
    'sh',
    '-c',
    script,
    'sh',
    dir,
    process.execPath,
    WRITER,
    dir,
    ...sizes.map(String),
  ]);
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

t.test('updates fit a volume twice the size of one version', async (t) => {
  const dir = await tempDir(t);
  // 120 KiB sets on 256 KiB: live + new fit; live + previous + new would not.
  const lines = await writes(dir, 256, [120, 120, 120, 120]);
  for (const [i, line] of lines.entries()) {
    t.equal(line.status, 'written', `update ${i + 1} written`);
    t.ok(line.versions <= 2, `update ${i + 1}: ${line.versions} versions on the volume`);
  }
});

t.test('files that do not fit are held and named; the live ones stay', async (t) => {
  const dir = await tempDir(t);
  const [first, tooBig, after] = await writes(dir, 256, [100, 400, 100]);
  t.equal(first?.status, 'written');
  t.equal(tooBig?.status, 'unchanged', 'nothing landed');
  t.same(tooBig?.held, ['a:ENOSPC', 'b:ENOSPC'], 'each file that did not fit, by name');
  t.equal(tooBig?.versions, 1, 'the partial version is gone, the live one is there');
  t.equal(tooBig?.live, first?.live, '..data still points at the live version');
  t.equal(after?.status, 'written', 'the next update has the room it needs');
  t.same(after?.held, []);
});

t.test('one file that does not fit is held; the other lands beside it', async (t) => {
  const dir = await tempDir(t);
  // 120 KiB live (a, b: 60 each); then a and b of 90 KiB: a fits, b then does not:
  // 120 + 90 + 90 > 256.
  const [first, second] = await writes(dir, 256, [120, 180]);
  t.equal(first?.status, 'written');
  t.equal(second?.status, 'written', 'a landed');
  t.same(second?.held, ['b:ENOSPC']);
  t.not(second?.live, first?.live, 'a new version is live');
});

t.test('the termination line of a write failure says write, not fetch', async (t) => {
  const { terminationMessage } = await import('../agent/agent.ts');
  const { AgentError } = await import('../common/errors.ts');
  const error = new AgentError('WRITE_FAILED', 'cannot write secret files in /secrets: ENOSPC');
  t.equal(
    terminationMessage([{ secret: 'db', error }]),
    'failed to write db: cannot write secret files in /secrets: ENOSPC',
  );
  const fetch = new AgentError('ACCESS_DENIED', 'secret prod/db: access denied');
  t.match(terminationMessage([{ secret: 'db', error: fetch }]), /^failed to fetch db: /);
});
