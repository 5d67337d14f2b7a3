/**
 * Bundles the CLI into dist/: CommonJS files that Node runs as they are, with every dependency
 * inside and no node_modules next to them. Run by `npm install` (prepare) and `npm run build`.
 *
 *   dist/cli.js       the entry: reads the command name and loads that command's file
 *   dist/agent.js     `secrets-agent agent`
 *   dist/webhook.js   `secrets-agent webhook`
 *   dist/inject.js    `secrets-agent inject`
 *   dist/yaml.js, dist/handlebars.js   engines a command loads only when its input needs them
 *   dist/version.js   the version, for `--version` (the commands bundle it too)
 *   dist/ssm.js       the SSM client, which the agent loads only when it reads a parameter
 *
 * What the source imports lazily (`await import(…)`) is a file of its own in the bundle, loaded
 * at the same point: the agent compiles neither the injector nor a template engine it does not
 * use. `secrets-agent dev` is a developer tool and no part of the bundle: in a checkout the
 * entry loads it from the TypeScript source (`dev/`, next to `dist/`); elsewhere it says so.
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { chmod, rm, writeFile } from 'node:fs/promises';

/** Module loaded with `import()` in the source → the file of the bundle that holds it. */
export const LAZY_FILES: Readonly<Record<string, string>> = {
  '../agent/command.ts': 'agent',
  '../injector/webhook-command.ts': 'webhook',
  '../injector/inject-command.ts': 'inject',
  yaml: 'yaml',
  handlebars: 'handlebars',
  '../common/version.ts': 'version',
  './ssm.ts': 'ssm',
};

/** Imported by the entry only where the source tree holds it: never bundled. */
export const DEV_COMMAND = '../dev/command.ts';

/**
 * `import(x)` of a module that is a file of its own becomes, in the entry that imports it,
 * `require('./file.js')` wrapped as esbuild wraps any CommonJS module it imports: loaded at the
 * same point, once. (A native import() of a CommonJS file would also work, but Node's ES module
 * loader then scans the whole file for its export names: ~8 ms for the agent's.)
 */
const lazyFiles: Plugin = {
  name: 'lazy-files',
  setup(b) {
    b.onResolve({ filter: /./ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      if (args.path === DEV_COMMAND) return { path: DEV_COMMAND, external: true };
      const file = LAZY_FILES[args.path];
      return file === undefined ? undefined : { path: file, namespace: 'lazy-file' };
    });
    b.onLoad({ filter: /./, namespace: 'lazy-file' }, (args) => ({
      contents: `module.exports = require('./${args.path}.js');`,
      loader: 'js',
    }));
    b.onResolve({ filter: /./, namespace: 'lazy-file' }, (args) => ({
      path: args.path,
      external: true,
    }));
  },
};

export const BUILD_OPTIONS = {
  entryPoints: {
    cli: 'cli/main.ts',
    agent: 'agent/command.ts',
    webhook: 'injector/webhook-command.ts',
    inject: 'injector/inject-command.ts',
    yaml: 'yaml',
    handlebars: 'handlebars',
    version: 'common/version.ts',
    ssm: 'agent/source/ssm.ts',
  },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node24',
  // Packages resolve as Node resolves them (no bundler-only `module` condition): the same files
  // the TypeScript source runs.
  conditions: [],
  sourcemap: 'linked',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [lazyFiles],
} satisfies BuildOptions;

if (import.meta.main) {
  /** `node build.ts --outdir DIR`: another output directory (benchmarks of a variant side by side). */
  const outIndex = process.argv.indexOf('--outdir');
  const outdir = outIndex === -1 ? 'dist' : (process.argv[outIndex + 1] ?? 'dist');
  await rm(outdir, { recursive: true, force: true });
  await build({ ...BUILD_OPTIONS, outdir });
  // dist/*.js are CommonJS, whatever the project's own package.json says.
  await writeFile(`${outdir}/package.json`, '{ "type": "commonjs" }\n');
  await chmod(`${outdir}/cli.js`, 0o755);
}
