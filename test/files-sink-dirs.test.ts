/**
 * Directory sources on the volume and in the Kubernetes Secret: nested files in the one atomic
 * swap, names that would escape or collide refused, and one Secret key per file.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Agent, type SecretWriter } from '../agent/agent.ts';
import { createAgentMetrics } from '../agent/metrics.ts';
import { extractFields, prepareRenderer, renderFile } from '../agent/render.ts';
import { FileSink, pathCollision, relativePathProblem } from '../agent/sink/files.ts';
import type { SecretSource } from '../agent/source/source.ts';
import { refKey } from '../agent/source/source.ts';
import { parseAgentConfig } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { tempDir } from './helpers/tmp.ts';

const file = (name: string, text: string, mode = 0o644) => ({
  name,
  content: Buffer.from(text),
  mode,
});

t.test('nested files swap whole; a directory added or removed goes with ..data', async (t) => {
  const dir = join(await tempDir(t), 'out');
  const sink = new FileSink(dir);
  await sink.write([file('one', '1'), file('cfg/a', 'A'), file('cfg/sub/b', 'B')]);
  t.equal(await readlink(join(dir, 'cfg')), '..data/cfg');
  t.equal(await readFile(join(dir, 'cfg', 'sub', 'b'), 'utf8'), 'B');
  const second = await sink.write([file('one', '1'), file('cfg/a', 'A2'), file('cfg/c', 'C')]);
  t.same([...second.changed].sort(), ['cfg/a', 'cfg/c', 'cfg/sub/b']);
  t.same((await readdir(join(dir, 'cfg'))).sort(), ['a', 'c']);
  t.equal(await readFile(join(dir, 'cfg', 'a'), 'utf8'), 'A2');
  await sink.write([file('one', '1')]);
  t.same(
    (await readdir(dir)).filter((e) => !e.startsWith('.')),
    ['one'],
    'a directory source gone: its link goes too',
  );
  await sink.write([file('one', '1'), file('cfg/x', 'X')]);
  const again = new FileSink(dir);
  const unchanged = await again.write([file('one', '1'), file('cfg/x', 'X')]);
  t.equal(unchanged.status, 'unchanged', 'a restart reads the nested tree back');
});

t.test('names that would escape the directory, or collide, are refused', async (t) => {
  t.equal(relativePathProblem('a/b'), undefined);
  t.equal(relativePathProblem('/etc/passwd'), 'is absolute');
  t.equal(relativePathProblem('a/../../x'), 'has a ".." segment');
  t.equal(relativePathProblem('a/./x'), 'has a "." segment');
  t.equal(relativePathProblem('a//x'), 'has an empty segment ("//" or a trailing "/")');
  t.equal(relativePathProblem(''), 'is empty');
  t.equal(relativePathProblem(`a/${'x'.repeat(256)}`), 'has a segment over 255 bytes');
  t.same(pathCollision(['d/a', 'd/a/b']), ['d/a', 'd/a/b']);
  t.same(pathCollision(['d/a', 'd/a']), ['d/a', 'd/a']);
  t.equal(pathCollision(['d/a', 'd/ab', 'd/b/a']), undefined);
  const dir = join(await tempDir(t), 'out');
  const sink = new FileSink(dir);
  await t.rejects(sink.write([file('d/../../escape', 'x')]), {
    code: 'WRITE_FAILED',
    message: /cannot write secret file "d\/..\/..\/escape": the name has a ".." segment/,
  });
  await t.rejects(sink.write([file('d/a', 'x'), file('d/a/b', 'y')]), {
    code: 'WRITE_FAILED',
    message: /d\/a and d\/a\/b collide/,
  });
});

/** A source that answers fixed directory items, so names AWS could send are tested directly. */
function fixedSource(items: Record<string, { path: string; text: string }[]>): SecretSource {
  return {
    fetch: (refs) =>
      Promise.resolve(
        new Map(
          refs.map((ref) => [
            refKey(ref),
            {
              ref,
              ok: true as const,
              items: (items[ref.id] ?? []).map((i) => ({
                path: i.path,
                value: { string: i.text, arn: '', versionId: '' },
              })),
            },
          ]),
        ),
      ),
    close: () => undefined,
  };
}

async function rig(
  t: Test,
  items: Record<string, { path: string; text: string }[]>,
  secrets: unknown[],
) {
  const dir = join(await tempDir(t), 'out');
  const config = await parseAgentConfig({ outputDir: dir, k8sSecret: { name: 's' }, secrets });
  await prepareRenderer(config.secrets);
  const written: Map<string, Uint8Array>[] = [];
  const writer: SecretWriter = {
    target: 'ns/s',
    write: (data) => {
      written.push(new Map(data));
      return Promise.resolve('updated');
    },
  };
  const agent = new Agent({
    config,
    source: fixedSource(items),
    files: new FileSink(dir),
    metrics: createAgentMetrics(),
    logger: silentLogger,
    render: renderFile,
    secret: { writer, extract: extractFields },
  });
  return { agent, dir, written };
}

const signal = new AbortController().signal;

t.test('with k8s-secret: one key per file, "/" as "."', async (t) => {
  const { agent, written } = await rig(
    t,
    {
      '/cfg': [
        { path: 'db/url', text: 'u' },
        { path: 'mode', text: 'm' },
      ],
    },
    [{ name: 'cfg', source: 'path', id: '/cfg' }],
  );
  t.same((await agent.cycle(signal)).failures, []);
  t.same(
    [...(written.at(-1) ?? new Map<string, Uint8Array>())].map(([k, v]) => [
      k,
      Buffer.from(v).toString(),
    ]),
    [
      ['cfg.db.url', 'u'],
      ['cfg.mode', 'm'],
    ],
  );
});

t.test('a key that is invalid or collides fails alone; every other key is written', async (t) => {
  // A fresh agent (a new pod): its first cycle creates the Secret with the keys that are good.
  const { agent, written } = await rig(
    t,
    {
      'a/': [
        { path: 'x/y', text: '1' },
        { path: 'x.y', text: '2' },
        { path: 'white space', text: 'x' },
        { path: 'ok', text: 'fine' },
      ],
    },
    [{ name: 'f', source: 'find', id: 'a/' }],
  );
  const { failures } = await agent.cycle(signal);
  t.same(
    failures.map((f) => f.error.code),
    ['SECRET_DATA_INVALID', 'SECRET_DATA_INVALID'],
  );
  const messages = failures.map((f) => f.error.message).join('\n');
  t.match(
    messages,
    /key "f\.white space" \(from secrets\[name=f\] \(a\/white space\)\) is not a valid/,
  );
  t.match(
    messages,
    /key "f\.x\.y" comes from both secrets\[name=f\] \(a\/x\/y\) and secrets\[name=f\] \(a\/x\.y\)/,
  );
  t.same(
    [...(written.at(-1) ?? new Map<string, Uint8Array>()).keys()].sort(),
    ['f.ok'],
    'the Secret is written with every other key; the colliding ones are left out',
  );
});

t.test('items AWS could name badly fail the directory, named, before any write', async (t) => {
  const cases: [{ path: string; text: string }[], RegExp][] = [
    [
      [{ path: '../escape', text: 'x' }],
      /path \/p: "..\/escape" cannot be a file name: it has a ".." segment/,
    ],
    [[{ path: 'a//b', text: 'x' }], /cannot be a file name: it has an empty segment/],
    [
      [
        { path: 'a', text: '1' },
        { path: 'a/b', text: '2' },
      ],
      /path \/p: p\/a would be both a file and the directory of p\/a\/b/,
    ],
  ];
  for (const [items, expected] of cases) {
    const { agent, dir } = await rig(t, { '/p': items }, [{ name: 'p', source: 'path', id: '/p' }]);
    const { failures } = await agent.cycle(signal);
    t.ok(failures[0]?.error instanceof AgentError);
    t.match(failures[0]?.error.message, expected);
    t.same(await readdir(dir).catch(() => []), [], 'nothing written');
  }
});

t.test('extract- on a directory: each file’s fields become keys of their own', async (t) => {
  const { agent, written } = await rig(
    t,
    {
      'a/': [
        { path: 'db', text: '{"DB_USER":"u"}' },
        { path: 'api', text: '{"API_KEY":"k"}' },
      ],
    },
    [{ name: 'f', source: 'find', id: 'a/', extract: true }],
  );
  t.same((await agent.cycle(signal)).failures, []);
  t.same([...(written.at(-1) ?? new Map<string, Uint8Array>()).keys()].sort(), [
    'API_KEY',
    'DB_USER',
    'f.api',
    'f.db',
  ]);
});
