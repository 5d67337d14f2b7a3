/**
 * Room for a swap, on a real size-limited tmpfs as a pod's in-memory `emptyDir`: a sidecar agent
 * (the bundle, as the image runs it) in a private mount namespace (`unshare -m`). When one
 * secret's new content cannot fit beside the live files, the others still rotate; the one that
 * does not fit keeps its last content and is named in the metric, the log and `/readyz`, until
 * it fits again.
 *
 * Needs root and unshare(1) (helpers/needs.ts): skipped outside CI without them, failed in CI.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startDevServer } from '../dev/server.ts';
import { agentEnv, freePort, startAgent, type RunningAgent } from './helpers/agent-process.ts';
import { fileNeeds } from './helpers/needs.ts';
import { tempDir } from './helpers/tmp.ts';
import { lineMatching } from './helpers/wait.ts';

fileNeeds(t, 'mount namespaces');

const PAGE = 4096;
/** 25 pages: the big secret (15 pages) and the small ones fit once, not twice. */
const VOLUME_KIB = 100;
const BIG = 60 * 1024;

t.test('one secret that does not fit holds alone; the others rotate', rotation);

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/** The next log line matching `pattern`, from now on: waits on the agent's output. */
function nextLog(agent: RunningAgent, pattern: RegExp): Promise<string> {
  return lineMatching([agent.child.stdout, agent.child.stderr], pattern);
}

/** A file's content in short: its length and the letters it is made of (never a long diff). */
function shape(text: string): string {
  return `${text.length} × ${[...new Set(text)].join('')}`;
}

function gauge(text: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`secrets_agent_file_no_space{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function rotation(t: Test): Promise<void> {
  t.ok(BIG * 2 > VOLUME_KIB * 1024 - 4 * PAGE, 'two versions of the big secret cannot fit');
  const server = await startDevServer({
    seed: {
      secrets: [
        { name: 'app/big', value: 'a'.repeat(BIG) },
        { name: 'app/small', value: 'small-1' },
        { name: 'app/other', value: 'other-1' },
      ],
    },
  });
  t.teardown(() => server.close());
  const dir = join(await tempDir(t), 'secrets');
  await mkdir(dir);
  const port = await freePort();
  const config = {
    mode: 'sidecar',
    outputDir: dir,
    httpAddress: '127.0.0.1',
    httpPort: port,
    refreshInterval: '5s',
    secrets: [
      { name: 'big', id: 'app/big' },
      { name: 'small', id: 'app/small' },
      { name: 'other', id: 'app/other' },
    ],
  };
  const script = `mount -t tmpfs -o size=${VOLUME_KIB}k tmpfs "$1" && shift && exec "$@"`;
  const wrap = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir];
  const agent = startAgent(
    ['--config-json', JSON.stringify(config)],
    agentEnv(server.url),
    undefined,
    wrap,
  );
  t.teardown(() => agent.stop('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  await agent.waitForLog(/"msg":"all secrets written"/);

  // The files live in the agent's mount namespace: read them through its root.
  const root = `/proc/${agent.child.pid}/root`;
  const read = (name: string): Promise<string> => readFile(join(root, dir, name), 'utf8');
  t.equal(await read('small'), 'small-1');

  const heldLine = nextLog(agent, /"msg":"secret file does not fit"/);
  const smallLine = nextLog(agent, /"msg":"secret file updated".*"secret":"small"/);
  server.putSecretValue('app/big', 'b'.repeat(BIG));
  server.putSecretValue('app/small', 'small-2');
  const held = await heldLine;
  t.match(JSON.parse(held), { level: 'warn', secret: 'big', code: 'ENOSPC', bytes: BIG });
  await smallLine;
  t.equal(await read('small'), 'small-2', 'the small secret rotated');
  t.equal(shape(await read('big')), shape('a'.repeat(BIG)), 'the big one keeps its last, whole');
  t.equal(await read('other'), 'other-1');

  const ready = await get(`${base}/readyz`);
  t.equal(ready.status, 200, 'still ready: the app has every file');
  t.match(ready.text, /no room on the volume for: big \(ENOSPC, 61440 bytes\)/);
  const metrics = (await get(`${base}/metrics`)).text;
  t.equal(gauge(metrics, 'secret="big"'), 1, 'the metric names the secret');
  t.equal(gauge(metrics, 'secret="small"'), undefined, 'and no other');

  // Once it fits again it lands, and the metric and the detail clear.
  const bigLine = nextLog(agent, /"msg":"secret file updated".*"secret":"big"/);
  server.putSecretValue('app/big', 'c'.repeat(1024));
  await bigLine;
  t.equal(shape(await read('big')), shape('c'.repeat(1024)));
  t.equal(gauge((await get(`${base}/metrics`)).text, 'secret="big"'), 0);
  t.equal((await get(`${base}/readyz`)).text, 'ready\n');
}
