/**
 * No Docker engine runs here, so the image is checked by structure: stages and base images,
 * how the build installs, a numeric non-root user, the entrypoint, only the bundle in the final
 * stage, and a .dockerignore allowlist that lets in every file the bundle is built from and
 * nothing of dev/ (test/bundle.test.ts checks the bundle itself).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { build } from 'esbuild';
import t from 'tap';
import { BUILD_OPTIONS, COMMAND_FILES } from '../build.ts';

const root = new URL('..', import.meta.url).pathname;

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped, grouped by stage. */
function parseDockerfile(text: string): {
  readonly args: Instruction[];
  readonly stages: Instruction[][];
} {
  const joined = text.replace(/\\\n/g, ' ');
  const lines = joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args: Instruction[] = [];
  const stages: Instruction[][] = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const instruction = { op: op.toUpperCase(), args: rest.join(' ') };
    if (instruction.op === 'FROM') stages.push([instruction]);
    else (stages.at(-1) ?? args).push(instruction);
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(`${root}Dockerfile`, 'utf8'));

function baseImage(from: Instruction): string {
  const image = from.args.split(/\s+/)[0] ?? '';
  const arg = /^\$\{(\w+)\}$/.exec(image)?.[1];
  if (arg === undefined) return image;
  const declared = dockerfile.args.find((a) => a.op === 'ARG' && a.args.startsWith(`${arg}=`));
  return declared?.args.slice(arg.length + 1) ?? '';
}

t.test('two stages on Node 24 images', async (t) => {
  t.ok(dockerfile.stages.length >= 2, 'multi-stage');
  for (const stage of dockerfile.stages) {
    const from = stage[0] as Instruction;
    t.match(
      baseImage(from),
      /^node:24[-.\w]*(@sha256:[0-9a-f]+)?$/,
      `${from.args}: a node:24 image`,
    );
  }
});

t.test('the build stage installs from the lockfile and builds', async (t) => {
  const build = (dockerfile.stages[0] ?? [])
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join('\n');
  t.match(build, /npm ci\b/);
  t.notMatch(build, /npm install\b/, 'never npm install (it may rewrite the lockfile)');
  t.match(build, /npm run build/);
  t.match(build, 'node dist/cli.js --help', 'the build proves the entrypoint loads');
  for (const command of Object.keys(COMMAND_FILES))
    t.match(build, `node dist/cli.js ${command} --help`, `the build proves ${command} loads`);
});

t.test('the final stage: bundle only, numeric non-root user, the CLI as entrypoint', async (t) => {
  const final = dockerfile.stages.at(-1) ?? [];
  const runs = final
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join('\n');
  t.notMatch(runs, /npm (install|i|ci)\b(?![^\n]*--omit=dev)/, 'no dev dependencies installed');
  const copies = final.filter((i) => i.op === 'COPY').map((i) => i.args);
  t.same(copies, ['--from=build /src/dist ./dist'], 'copies the bundle, and nothing else');
  const users = final.filter((i) => i.op === 'USER');
  t.equal(users.length, 1);
  const user = users[0]?.args ?? '';
  t.match(user, /^\d+(:\d+)?$/, 'numeric uid (runAsNonRoot can check it)');
  t.not(Number(user.split(':')[0]), 0, 'not root');
  const entrypoints = final.filter((i) => i.op === 'ENTRYPOINT');
  t.equal(entrypoints.length, 1);
  t.same(
    JSON.parse(entrypoints[0]?.args ?? '[]'),
    ['node', '/app/dist/cli.js'],
    'exec form, the bundled CLI',
  );
  const env = final
    .filter((i) => i.op === 'ENV')
    .map((i) => i.args)
    .join(' ');
  const cache = /NODE_COMPILE_CACHE=(\S+)/.exec(env)?.[1];
  t.ok(
    cache === undefined || cache.startsWith('/tmp'),
    'no compile cache on the read-only root filesystem',
  );
  t.notOk(
    final.some((i) => i.op === 'VOLUME'),
    'no VOLUME: the pod decides what is writable',
  );
});

t.test('.dockerignore lets in every source file the bundle is built from', async (t) => {
  const patterns = readFileSync(`${root}.dockerignore`, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  t.equal(patterns[0], '**', 'an allowlist: everything else stays out of the build context');
  const allowed = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  const isAllowed = (file: string): boolean =>
    allowed.some((p) => (p.endsWith('/**') ? file.startsWith(p.slice(0, -2)) : file === p));
  for (const file of ['package.json', 'package-lock.json', 'build.ts']) t.ok(isAllowed(file), file);
  const sources = (await bundleInputs()).filter((f) => !f.startsWith('node_modules/'));
  t.ok(sources.length > 10, `${sources.length} source files`);
  const missing = sources.filter((f) => !isAllowed(f));
  t.same(missing, [], 'no source file left out of the build context');
  t.notOk(isAllowed('dev/command.ts'), 'dev/ stays out of the build context');
});

/** The files the bundle is built from, as build.ts builds it. */
async function bundleInputs(): Promise<string[]> {
  const result = await build({
    ...BUILD_OPTIONS,
    outdir: 'dist',
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: root,
  });
  // Inputs in a plugin's namespace (`lazy-file:agent`) are generated by build.ts, not files.
  return Object.keys(result.metafile.inputs)
    .filter((f) => !/^[\w-]+:/.test(f))
    .map((f) => relative(root, `${root}${f}`));
}
