/**
 * docs/commands.md's walk-throughs, run as written against `dev`: "Running the agent against
 * `dev`" (the endpoint, the agent once and kept fresh, its metrics, a rotation) and "Kustomize
 * projects" (the pipeline, and `inject -f DIR` on a kustomize directory). What differs from a
 * user's terminal: `npx secrets-agent` is the bundle, and the ports are free ones (the example
 * configuration copied with its port changed), so a test never takes 4566 or 9102 from anyone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { watch } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { CLI, freePort, ROOT } from './helpers/agent-process.ts';

const doc = await readFile(join(ROOT, 'docs', 'commands.md'), 'utf8');
// The walk-throughs share nothing (their own directories and ports): side by side, the others
// run while the first waits for the agent's refresh.
t.jobs = 4;

function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no section "${title}"`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** Each sh block's commands, continuation lines joined. */
function blocks(text: string): string[][] {
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
    (m[1] ?? '')
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .filter((l) => l.trim() !== ''),
  );
}

interface Shell {
  readonly cwd: string;
  env: Record<string, string>;
  readonly ports: { readonly dev: number; readonly agent: number };
}

/** A documented line as it runs here: the bundle for `npx secrets-agent`, the free ports. */
function local(line: string, shell: Shell): string {
  return line
    .replaceAll('npx secrets-agent', `"${process.execPath}" "${CLI}"`)
    .replaceAll('4566', String(shell.ports.dev))
    .replaceAll('9102', String(shell.ports.agent));
}

/** `export A=x B=y` lines change the environment of the lines after them. */
function exportLine(line: string, shell: Shell): boolean {
  if (!line.startsWith('export ')) return false;
  for (const [, name, value] of local(line, shell).matchAll(/(\w+)=(\S+)/g))
    shell.env[name ?? ''] = value ?? '';
  return true;
}

function sh(
  line: string,
  shell: Shell,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['--norc', '--noprofile', '-c', local(line, shell)], {
      cwd: shell.cwd,
      env: shell.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A long-running documented command; resolves once its output matches `ready`. */
async function background(
  t: { teardown(fn: () => Promise<void>): void },
  line: string,
  shell: Shell,
  ready: RegExp,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  const child = spawn('bash', ['--norc', '--noprofile', '-c', `exec ${local(line, shell)}`], {
    cwd: shell.cwd,
    env: { ...shell.env, ...env },
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await closed;
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const seen = (d: Buffer): void => {
      out += d.toString();
      if (ready.test(out)) resolve();
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('close', () => reject(new Error(`exited before ${ready}:\n${out}`)));
  });
  return child;
}

/** Runs `line` until its output matches `want` (the metrics: nothing to watch but the port). */
async function until(line: string, shell: Shell, want: RegExp, ms = 20_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { stdout } = await sh(line, shell);
    if (want.test(stdout)) return stdout;
    if (Date.now() > deadline) throw new Error(`${line}: no ${want} in ${stdout}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Runs `line`, a `cat FILE`, until its output matches `want`: again at each change in the file's
 * directory (the agent swaps its files in there), not on a clock.
 */
async function whenFileShows(
  line: string,
  shell: Shell,
  want: RegExp,
  ms = 20_000,
): Promise<string> {
  const file = /^cat (\S+)$/.exec(line)?.[1];
  if (file === undefined) throw new Error(`not a cat of one file: ${line}`);
  let changed = (): void => undefined;
  let dirty: boolean;
  const watcher = watch(dirname(join(shell.cwd, file)), () => {
    dirty = true;
    changed();
  });
  const timer = setTimeout(() => changed(), ms);
  const deadline = Date.now() + ms;
  try {
    for (;;) {
      dirty = false;
      const { stdout } = await sh(line, shell);
      if (want.test(stdout)) return stdout;
      if (Date.now() > deadline) throw new Error(`${line}: no ${want} in ${stdout}`);
      if (!dirty) await new Promise<void>((resolve) => (changed = resolve));
    }
  } finally {
    clearTimeout(timer);
    watcher.close();
  }
}

t.test('Running the agent against dev: every command, as documented', async (t) => {
  const text = section('Running the agent against `dev`');
  const [start = [], once = [], fresh = []] = blocks(text);
  const cwd = await mkdtemp(join(tmpdir(), 'sa-docs-'));
  const shell: Shell = {
    cwd,
    ports: { dev: await freePort(), agent: await freePort() },
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: '/nonexistent',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    },
  };
  // The files the commands name, where they name them.
  await mkdir(join(cwd, 'agent', 'examples'), { recursive: true });
  await mkdir(join(cwd, 'test', 'fixtures'), { recursive: true });
  const example = await readFile(join(ROOT, 'agent', 'examples', 'demo.yaml'), 'utf8');
  t.match(example, /^httpPort: 9102$/m, 'the example serves on the port the doc curls');
  await writeFile(join(cwd, 'agent', 'examples', 'demo.yaml'), local(example, shell));
  await copyFile(join(ROOT, 'test/fixtures/seed.yaml'), join(cwd, 'test/fixtures/seed.yaml'));

  t.equal(start.length, 1);
  // The endpoint's default port is 4566: here, its environment twin moves it.
  await background(t, start[0] ?? '', shell, /"msg":"listening"/, {
    SECRETS_AGENT_DEV_PORT: String(shell.ports.dev),
  });

  let listing = '';
  for (const line of once) {
    if (exportLine(line, shell)) continue;
    const run = await sh(line, shell);
    t.equal(run.code, 0, `${line}: exit 0\n${run.stderr}`);
    if (line.startsWith('ls ')) listing = run.stdout;
  }
  const shown = /`ls` shows `([^`]+)`/.exec(text)?.[1] ?? '';
  t.same(listing.split(/\s+/).filter(Boolean), shown.split(/\s+/), 'ls shows what the doc says');

  const [agent = '', metrics = '', rotate = '', check = ''] = fresh;
  t.match(agent, / &$/);
  await background(t, agent.replace(/ &$/, ''), shell, /"msg":"all secrets written"/);
  const ready = /The metrics line is `([^`]+)`/.exec(text)?.[1] ?? '';
  t.equal((await until(metrics, shell, /secrets_agent_ready/)).trim(), ready);
  const rotated = await sh(rotate, shell);
  t.equal(rotated.code, 0);
  const value = /`db-password` holds `([^`]+)`/.exec(text)?.[1] ?? '';
  t.match(check, /^sleep \d+; cat \S+$/);
  // The doc waits a refresh interval with sleep; the test waits for the file itself.
  const cat = check.replace(/^sleep \d+; /, '');
  t.equal((await whenFileShows(cat, shell, new RegExp(`^${value}$`))).trim(), value);
});

t.test(
  'Kustomize projects: the pipeline injects, inject -f on the directory says to use it',
  async (t) => {
    const text = section('Kustomize projects');
    const [[pipeline = ''] = []] = blocks(text);
    const shell: Shell = {
      cwd: ROOT,
      ports: { dev: 0, agent: 0 },
      env: { PATH: process.env['PATH'] ?? '' },
    };
    const run = await sh(pipeline, shell);
    t.equal(run.code, 0, run.stderr);
    t.equal(run.stderr, '', 'no warning: the region is given');
    t.match(run.stdout, /name: secrets-agent\n/, 'the agent container is added');
    t.match(run.stdout, /namespace: catalog/, "kustomize's namespace is there");
    t.notMatch(run.stdout, /kind: Kustomization/);
    const dir = /kubectl kustomize (\S+)/.exec(pipeline)?.[1] ?? '';
    const direct = await sh(`npx secrets-agent inject -f ${dir}`, shell);
    t.equal(direct.code, 2);
    t.equal(direct.stdout, '', 'nothing printed: not the Kustomization unchanged');
    t.equal(
      direct.stderr,
      `secrets-agent inject: ${dir} is a kustomize directory: its files are not what it builds; build it first: kubectl kustomize ${dir} | secrets-agent inject -f -\n`,
    );
    const file = await sh(`npx secrets-agent inject -f ${dir}/kustomization.yaml`, shell);
    t.equal(file.code, 2, 'its kustomization.yaml alone, the same');
  },
);

t.test('the first inject example in the docs gives a region: no warning', async (t) => {
  const [example] = [...doc.matchAll(/^npx secrets-agent inject .*$/gm)].map((m) => m[0]);
  t.match(example, /--default-region \S+/);
  const run = await sh(example ?? '', {
    cwd: ROOT,
    ports: { dev: 0, agent: 0 },
    env: { PATH: process.env['PATH'] ?? '' },
  });
  t.equal(run.code, 0);
  t.equal(run.stderr, '', 'no region warning');
});

t.test('the aws example works with AWS CLI v1 as well: it sets AWS_DEFAULT_REGION', (t) => {
  const dev = section('`secrets-agent dev`');
  const block = blocks(dev).find((b) => b.some((l) => l.startsWith('aws ')));
  const exported = (block ?? []).filter((l) => l.startsWith('export ')).join(' ');
  const region = /AWS_REGION=(\S+)/.exec(exported)?.[1];
  t.ok(region !== undefined, 'AWS_REGION (CLI v2)');
  t.match(
    exported,
    `AWS_DEFAULT_REGION=${region ?? ''}`,
    'and AWS_DEFAULT_REGION (CLI v1), the same',
  );
  t.end();
});
