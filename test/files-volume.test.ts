/**
 * The files sink on a full volume, as a pod's size-limited in-memory `emptyDir`: a private mount
 * namespace (`unshare -m`) with a small tmpfs. At most two versions are ever on the volume, so a
 * volume twice the size of one version takes every update; a version that does not fit is
 * removed at once, the live one stays, and the error says it was the write, not the fetch.
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

t.test('a version that does not fit is removed; the live one stays', async (t) => {
  const dir = await tempDir(t);
  const [first, tooBig, after] = await writes(dir, 256, [100, 400, 100]);
  t.equal(first?.status, 'written');
  t.equal(tooBig?.code, 'WRITE_FAILED');
  t.match(tooBig?.message, /cannot write secret files in .*: ENOSPC/);
  t.equal(tooBig?.versions, 1, 'the partial version is gone, the live one is there');
  t.equal(tooBig?.live, first?.live, '..data still points at the live version');
  t.equal(after?.status, 'written', 'the next update has the room it needs');
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
