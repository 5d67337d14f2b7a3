import { spawn } from 'node:child_process';
import {
  lstat,
  readdir,
  readFile,
  readlink,
  stat,
  writeFile,
  mkdir,
  symlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { FileSink, type SecretFile } from '../agent/sink/files.ts';
import { memoryDir, tempDir } from './helpers/tmp.ts';

const file = (name: string, text: string, mode = 0o644): SecretFile => ({
  name,
  content: Buffer.from(text),
  mode,
});

t.test('writes the set behind a ..data symlink, with modes', async (t) => {
  const dir = await tempDir(t);
  const sink = new FileSink(dir);
  const result = await sink.write([file('a', 'one'), file('b', 'two', 0o400)]);
  t.same(result, { status: 'written', changed: ['a', 'b'] });
  t.equal(await readFile(join(dir, 'a'), 'utf8'), 'one');
  t.equal(await readFile(join(dir, 'b'), 'utf8'), 'two');
  t.equal(await readlink(join(dir, 'a')), join('..data', 'a'));
  t.ok((await lstat(join(dir, '..data'))).isSymbolicLink());
  t.equal((await stat(join(dir, 'b'))).mode & 0o777, 0o400);
  t.equal((await stat(join(dir, 'a'))).mode & 0o777, 0o644);
});

t.test('an unchanged set touches nothing; a change swaps the version', async (t) => {
  const dir = await tempDir(t);
  const sink = new FileSink(dir);
  await sink.write([file('a', 'one'), file('b', 'two')]);
  const first = await readlink(join(dir, '..data'));
  t.same(await sink.write([file('a', 'one'), file('b', 'two')]), {
    status: 'unchanged',
    changed: [],
  });
  t.equal(await readlink(join(dir, '..data')), first, 'same version directory');
  const changed = await sink.write([file('a', 'one'), file('b', 'three')]);
  t.same(changed, { status: 'written', changed: ['b'] });
  const second = await readlink(join(dir, '..data'));
  t.not(second, first);
  t.same(
    (await readdir(dir)).filter((e) => e.startsWith('..2')).sort(),
    [first, second].sort(),
    'the previous version is kept for readers mid-read',
  );
  await sink.write([file('a', 'one'), file('b', 'four')]);
  t.notOk((await readdir(dir)).includes(first), 'the version before the previous one is removed');
  t.same(
    await sink.write([file('a', 'one', 0o400), file('b', 'four')]),
    { status: 'written', changed: ['a'] },
    'a mode change is a change',
  );
});

t.test('a new sink (container restart) sees what is there and does not rewrite it', async (t) => {
  const dir = await tempDir(t);
  await new FileSink(dir).write([file('a', 'one')]);
  const version = await readlink(join(dir, '..data'));
  t.same(await new FileSink(dir).write([file('a', 'one')]), { status: 'unchanged', changed: [] });
  t.equal(await readlink(join(dir, '..data')), version);
});

t.test(
  'names no longer in the set are removed; leftovers of an interrupted write are cleaned',
  async (t) => {
    const dir = await tempDir(t);
    const sink = new FileSink(dir);
    await sink.write([file('a', 'one'), file('b', 'two')]);
    await mkdir(join(dir, '..2020_01_01_00_00_00.000_dead00'));
    await symlink('nowhere', join(dir, '..data_tmp_abc'));
    const fresh = new FileSink(dir);
    t.same(await fresh.write([file('a', 'one')]), { status: 'written', changed: ['b'] });
    const entries = (await readdir(dir)).sort();
    t.same(
      entries.filter((e) => !e.startsWith('..2')),
      ['..data', '.secrets-agent-version', 'a'],
    );
    t.notOk(
      entries.includes('..2020_01_01_00_00_00.000_dead00'),
      'the stray version directory is gone',
    );
    t.equal(
      entries.filter((e) => e.startsWith('..2')).length,
      2,
      'the live and the previous version',
    );
  },
);

t.test('a regular file in the way is replaced; a directory is a clear error', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a'), 'stale');
  await mkdir(join(dir, 'd'));
  const sink = new FileSink(dir);
  await sink.write([file('a', 'fresh')]);
  t.equal(await readFile(join(dir, 'a'), 'utf8'), 'fresh');
  await t.rejects(sink.write([file('a', 'fresh'), file('d', 'x')]), {
    code: 'WRITE_FAILED',
    message: /d is a directory/,
  });
});

t.test('an unwritable directory is a WRITE_FAILED error naming it', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'blocker'), '');
  const sink = new FileSink(join(dir, 'blocker', 'sub'));
  await t.rejects(sink.write([file('a', 'x')]), {
    code: 'WRITE_FAILED',
    message: /cannot write secret files in .*blocker/,
  });
});

t.test(
  'a reader in another process never sees a torn file, nor two versions in one set read through ..data',
  async (t) => {
    // tmpfs, as the pod's emptyDir with medium: Memory.
    const dir = await memoryDir(t);
    const names = ['alpha', 'beta', 'gamma', 'delta'];
    const sink = new FileSink(dir);
    // Contents of different sizes per version, so a torn read cannot pass the pattern check.
    const setFor = (v: number): SecretFile[] =>
      names.map((n) => file(n, `v${v}:${n}:${'x'.repeat((v * 7919) % 1024)}:end`));
    await sink.write(setFor(0));
    const reader = spawn(
      process.execPath,
      [
        join(import.meta.dirname, 'helpers/torn-reader.ts'),
        dir,
        names.join(','),
        String(Number.MAX_SAFE_INTEGER),
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve) => reader.stdout.once('data', () => resolve()));
    // Enough back-to-back updates for thousands of reads to overlap a swap (the reader's
    // summary counts them), bounded so the test takes seconds, not a minute.
    const updates = 2_000;
    for (let v = 1; v <= updates; v++) await sink.write(setFor(v));
    reader.stdin.end();
    await new Promise((resolve) => reader.once('exit', resolve));
    const summary = JSON.parse(out.split('\n')[1] ?? '{}') as Record<string, number>;
    t.comment(`reader: ${JSON.stringify(summary)}`);
    t.ok((summary['reads'] ?? 0) > 100, 'the reader read many times during the updates');
    t.ok((summary['versions'] ?? 0) > 10, 'and saw many versions');
    t.equal(summary['torn'], 0, 'no torn file');
    t.equal(summary['mixed'], 0, 'no mix of two versions');
    t.equal(summary['missing'], 0, 'no missing file');
  },
);

t.test('the version marker is rewritten after each update, and only then', async (t) => {
  const dir = await tempDir(t);
  const sink = new FileSink(dir);
  await sink.write([file('a', 'one')]);
  const first = await readFile(join(dir, '.secrets-agent-version'), 'utf8');
  t.equal(first, `${(await readlink(join(dir, '..data'))).slice(2)}\n`, 'names the live version');
  await sink.write([file('a', 'one')]);
  t.equal(
    await readFile(join(dir, '.secrets-agent-version'), 'utf8'),
    first,
    'unchanged set: unchanged marker',
  );
  await sink.write([file('a', 'two')]);
  const second = await readFile(join(dir, '.secrets-agent-version'), 'utf8');
  t.not(second, first);
  t.equal(second, `${(await readlink(join(dir, '..data'))).slice(2)}\n`);
  await writeFile(join(dir, '.secrets-agent-version.tmp-abc123'), 'stray');
  await new FileSink(dir).write([file('a', 'three')]);
  t.notOk(
    (await readdir(dir)).includes('.secrets-agent-version.tmp-abc123'),
    'a stray temporary marker is cleaned',
  );
});

t.test(
  'an unchanged file is a hard link to the live one: an update costs what changed',
  async (t) => {
    const dir = await tempDir(t);
    const sink = new FileSink(dir);
    await sink.write([file('a', 'one'), file('b', 'two', 0o400), file('d/x', 'three')]);
    const first = await readlink(join(dir, '..data'));
    const before = await Promise.all(['a', 'b', 'd/x'].map((n) => stat(join(dir, first, n))));
    t.same(await sink.write([file('a', 'ONE'), file('b', 'two', 0o400), file('d/x', 'three')]), {
      status: 'written',
      changed: ['a'],
    });
    const second = await readlink(join(dir, '..data'));
    t.not(second, first);
    const after = await Promise.all(['a', 'b', 'd/x'].map((n) => stat(join(dir, second, n))));
    t.not(after[0]?.ino, before[0]?.ino, 'the changed file is new');
    t.equal(after[1]?.ino, before[1]?.ino, 'an unchanged file is the same inode');
    t.equal(after[2]?.ino, before[2]?.ino, "and so is a directory source's");
    t.equal(after[1]?.mode, before[1]?.mode, 'with its mode');
    t.equal(await readFile(join(dir, 'b'), 'utf8'), 'two');
    t.equal(await readFile(join(dir, 'a'), 'utf8'), 'ONE');
    // The previous version is removed by the next update: the linked files stay whole.
    await sink.write([file('a', 'uno'), file('b', 'two', 0o400), file('d/x', 'three')]);
    t.equal(await readFile(join(dir, 'b'), 'utf8'), 'two');
    t.equal(await readFile(join(dir, 'd', 'x'), 'utf8'), 'three');
  },
);
