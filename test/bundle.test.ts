/**
 * The bundle (dist/, what the image ships and what the tests run): `agent`, `webhook` and
 * `inject`, one file each, nothing of dev/; every module once per process, as in the source; and
 * `dev` from the bundle runs in a checkout and says what it is anywhere else.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import t from 'tap';
import { BUILD_OPTIONS } from '../build.ts';
import { CLI, ROOT } from './helpers/agent-process.ts';
import { tempDir } from './helpers/tmp.ts';

const DIST = join(ROOT, 'dist');

/** The files dist/NAME.js holds, from its source map, relative to the project root. */
function sources(name: string): string[] {
  const map = JSON.parse(readFileSync(join(DIST, `${name}.js.map`), 'utf8')) as {
    sources: string[];
  };
  return map.sources.map((f) => relative(ROOT, join(DIST, f)));
}

/** The files of the bundle that dist/NAME.js loads (on demand: build.ts). */
function lazyFiles(name: string): string[] {
  const code = readFileSync(join(DIST, `${name}.js`), 'utf8');
  return [...code.matchAll(/\brequire\("\.\/([\w-]+)\.js"\)/g)].map((m) => m[1] ?? '');
}

t.test('build.ts bundles the three commands and nothing of dev/', async (t) => {
  const result = await build({
    ...BUILD_OPTIONS,
    outdir: 'dist',
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: ROOT,
  });
  const inputs = Object.keys(result.metafile.inputs);
  for (const command of [
    'agent/command.ts',
    'injector/webhook-command.ts',
    'injector/inject-command.ts',
  ])
    t.ok(inputs.includes(command), `built from ${command}`);
  t.same(
    inputs.filter((f) => f.startsWith('dev/')),
    [],
    'no input from dev/',
  );
});

t.test('dist/: one file per entry, none holding anything of dev/', async (t) => {
  const files = readdirSync(DIST).filter((f) => f.endsWith('.js'));
  t.same(
    files.map((f) => f.slice(0, -'.js'.length)).sort(),
    Object.keys(BUILD_OPTIONS.entryPoints).sort(),
  );
  for (const file of files) {
    const name = file.slice(0, -'.js'.length);
    t.ok(sources(name).length > 0, `${file} has its source map`);
    t.same(
      sources(name).filter((f) => f.startsWith('dev/')),
      [],
      `${file} holds nothing of dev/`,
    );
  }
});

t.test("dist/ is Latin-1: V8 holds each file's source one byte a character", async (t) => {
  // A script's source stays on the heap for as long as the process runs. One character above
  // U+00FF (an arrow in a comment the bundler kept) makes V8 store the whole file two bytes a
  // character: 1.2 MB more heap for the agent.
  for (const file of readdirSync(DIST).filter((f) => f.endsWith('.js'))) {
    const lines = readFileSync(join(DIST, file), 'utf8').split('\n');
    const wide = lines.flatMap((line, i) =>
      Array.from({ length: line.length }, (_, j) => line.charCodeAt(j)).some((c) => c > 0xff)
        ? [`${i + 1}: ${line.trim()}`]
        : [],
    );
    t.same(wide, [], `${file}: lines with characters above U+00FF`);
  }
});

t.test('every module exists once per process, as when the source runs', async (t) => {
  // A process loads the entry, one command's file and the files that one loads on demand: no
  // module may sit in two of them (two copies of a class or of module state otherwise).
  // `--version` loads the version's file instead of a command's.
  const commands = lazyFiles('cli');
  t.same([...commands].sort(), ['agent', 'inject', 'version', 'webhook']);
  for (const command of commands) {
    const loaded = ['cli', command, ...lazyFiles(command)];
    const owner = new Map<string, string>();
    const twice: string[] = [];
    for (const file of loaded) {
      for (const source of sources(file)) {
        const first = owner.get(source);
        // ssm.js carries its own copy of the packages the SDK clients share (the SDK's core), so
        // that an agent without parameters never parses the SSM client; none of the agent's own.
        const sdkCopy = file === 'ssm' && source.includes('node_modules/');
        if (first !== undefined && !sdkCopy) twice.push(`${source} (${first}.js, ${file}.js)`);
        owner.set(source, file);
      }
    }
    t.same(twice, [], `${command}: ${loaded.map((f) => `${f}.js`).join(', ')}`);
  }
  t.same(
    lazyFiles('agent').sort(),
    ['handlebars', 'ssm', 'yaml'],
    'the agent loads its engines and the SSM client lazily',
  );
  t.notMatch(
    readFileSync(join(DIST, 'agent.js'), 'utf8'),
    /GetParametersByPathCommand/,
    'the SSM client is not in agent.js',
  );
});

t.test('dev from the bundle: runs in a checkout, says what it is elsewhere', async (t) => {
  const inCheckout = spawnSync(process.execPath, [CLI, 'dev', '--help'], { encoding: 'utf8' });
  t.equal(inCheckout.status, 0, 'npx secrets-agent dev: the source beside dist/ is loaded');
  t.match(inCheckout.stdout, /usage: secrets-agent dev/);
  // The image's layout: /app/dist and nothing else.
  const app = await tempDir(t);
  cpSync(DIST, join(app, 'dist'), { recursive: true });
  const alone = spawnSync(process.execPath, [join(app, 'dist', 'cli.js'), 'dev'], {
    encoding: 'utf8',
  });
  t.equal(alone.status, 2);
  t.equal(
    alone.stderr,
    'secrets-agent dev: the dev command is a developer tool, not part of this build: run it from a checkout of the source (npx secrets-agent dev)\n',
  );
  for (const command of ['agent', 'webhook', 'inject']) {
    const help = spawnSync(process.execPath, [join(app, 'dist', 'cli.js'), command, '--help'], {
      encoding: 'utf8',
    });
    t.equal(help.status, 0, `${command} runs from dist/ alone`);
  }
});
