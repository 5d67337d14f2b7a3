/**
 * The bundle (dist/, what the image ships and what the tests run): the entrypoint (cli.js) and
 * `agent`, `webhook` and `inject`, one file each under commands/, nothing of dev/; every module once per process, as in the source; and
 * `dev` from the bundle runs in a checkout and says what it is anywhere else.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build } from 'esbuild';
import t from 'tap';
import { BUILD_OPTIONS, VENDORED } from '../build.ts';
import { startDevServer } from '../dev/server.ts';
import { agentEnv, CLI, ROOT, runAgent } from './helpers/agent-process.ts';
import { tempDir } from './helpers/tmp.ts';

const DIST = join(ROOT, 'dist');

/** The files dist/NAME.js holds, from its source map, relative to the project root. */
function sources(name: string): string[] {
  const map = JSON.parse(readFileSync(join(DIST, `${name}.js.map`), 'utf8')) as {
    sources: string[];
  };
  return map.sources.map((f) => relative(ROOT, join(DIST, dirname(name), f)));
}

/** The bundle's .js files, relative to dist/, without the extension. */
function outputs(): string[] {
  return readdirSync(DIST, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -'.js'.length))
    .sort();
}

const OWN = ['agent/', 'cli/', 'common/', 'injector/', 'dev/'];

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
  t.same(
    inputs.filter((f) => f.includes('node_modules/@opentelemetry/')),
    [],
    "prom-client's tracing API: in its place, one with no span ever active",
  );
  t.ok(inputs.includes('common/tracing-off.ts'));
});

t.test(
  'dist/: one file per entry and per vendored package, none holding anything of dev/',
  async (t) => {
    t.same(
      outputs(),
      [
        ...Object.keys(BUILD_OPTIONS.entryPoints),
        ...VENDORED.map((name) => `node_modules/${name}/index`),
      ].sort(),
    );
    for (const name of outputs()) {
      t.ok(sources(name).length > 0, `${name}.js has its source map`);
      t.same(
        sources(name).filter((f) => f.startsWith('dev/')),
        [],
        `${name}.js holds nothing of dev/`,
      );
    }
  },
);

t.test("dist/ is Latin-1: V8 holds each file's source one byte a character", async (t) => {
  // A script's source stays on the heap for as long as the process runs. One character above
  // U+00FF (an arrow in a comment the bundler kept) makes V8 store the whole file two bytes a
  // character: 1.2 MB more heap for the agent.
  for (const file of outputs().map((name) => `${name}.js`)) {
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
  // A process loads one entry and, on demand, vendored packages: no module of the project's
  // may sit in a vendored file, and no vendored package in an entry (two copies of a class or
  // of module state otherwise).
  for (const name of VENDORED) {
    const file = `node_modules/${name}/index`;
    t.same(
      sources(file).filter((f) => OWN.some((dir) => f.startsWith(dir))),
      [],
      `${file}.js: none of the project's modules`,
    );
    for (const entry of Object.keys(BUILD_OPTIONS.entryPoints))
      t.same(
        sources(entry).filter((f) => f.startsWith(`node_modules/${name}/`)),
        [],
        `${entry}.js: nothing of ${name}`,
      );
  }
  t.same(
    sources('commands/agent').filter((f) => f.startsWith('injector/')),
    [],
    'commands/agent.js: nothing of the injector',
  );
  for (const name of ['webhook', 'inject'])
    t.same(
      sources(`commands/${name}`).filter((f) => f.startsWith('agent/')),
      [],
      `commands/${name}.js: nothing of the agent`,
    );
  t.same(
    sources('cli').filter((f) => !f.startsWith('cli/') && !f.startsWith('common/')),
    [],
    'cli.js: the entrypoint alone, every command in a file of its own',
  );
});

t.test('the agent loads a vendored package only when its configuration needs it', async (t) => {
  const server = await startDevServer({
    seed: {
      secrets: [{ name: 'a', value: { user: 'u' } }],
      parameters: [{ name: '/app/p', value: 'P', type: 'String' }],
    },
  });
  t.teardown(() => server.close());
  const dir = join(await tempDir(t), 'secrets');
  /** The vendored packages the agent loaded, from Node's module loaders' debug log. */
  const loaded = async (secret: Record<string, unknown>): Promise<string[]> => {
    const config = JSON.stringify({ mode: 'init', outputDir: dir, secrets: [secret] });
    const run = await runAgent(
      ['--config-json', config],
      agentEnv(server.url, { NODE_DEBUG: 'module,esm' }),
    );
    t.equal(run.code, 0, run.stdout);
    return VENDORED.filter((name) => run.stderr.includes(`/dist/node_modules/${name}/index.js`));
  };
  t.same(await loaded({ name: 'a', id: 'a' }), [], 'a raw secret: none');
  t.same(
    await loaded({ name: 'p', id: '/app/p', source: 'parameter' }),
    ['@aws-sdk/client-ssm'],
    'an SSM parameter: the SSM client',
  );
  t.same(
    await loaded({ name: 'b', id: 'a', template: 'u={{#if user}}{{user}}{{/if}}' }),
    ['handlebars'],
    'a template with a block: handlebars',
  );
  t.same(
    await loaded({ name: 'b', id: 'a', template: 'u={{user}}' }),
    [],
    'a plain template (text and field references): none',
  );
  t.same(
    await loaded({ name: 'b', id: 'a', key: '@.user' }),
    ['@jmespath-community/jmespath'],
    'a key that is more than field names: JMESPath',
  );
  t.same(await loaded({ name: 'b', id: 'a', key: 'user' }), [], 'a plain key: none');
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
