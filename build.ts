/**
 * Bundles the CLI into dist/: CommonJS files that Node runs as they are, with every dependency
 * inside and no node_modules next to them. Run by `npm install` (prepare) and `npm run build`.
 *
 *   dist/cli.js              `secrets-agent <command>`: the image's entrypoint, a small
 *                            dispatcher that loads one command's file
 *   dist/commands/NAME.js    one command each (agent, webhook, inject): an agent container
 *                            runs `cli.js agent` and loads nothing of the injector, the webhook
 *                            nothing of the agent
 *
 * Nothing is rewritten: cli/main.ts imports each command lazily (`await import(…)`), and the
 * bundle keeps that import as a `require` of the command's own file. What a command imports
 * lazily itself (the template engines, YAML, the SSM client) esbuild keeps in the same file
 * behind an initialiser that runs at that point, once, so it is compiled only when used.
 * `secrets-agent dev` is a developer tool and no part of the bundle: in a checkout the entry
 * loads it from the TypeScript source (`dev/`, next to `dist/`); elsewhere it says so.
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** Imported by the entry only where the source tree holds it: never bundled. */
export const DEV_COMMAND = '../dev/command.ts';

/**
 * Packages that only some runs use, each bundled into a file of its own,
 * dist/node_modules/NAME/index.js, where an entry's plain `import('yaml')` or `require('yaml')`
 * finds it by Node's own resolution. A process that never reads YAML, renders a template or
 * loads the AWS SDK neither compiles these nor keeps their source on its heap (V8 holds a
 * script's source as long as it runs).
 */
export const VENDORED = [
  'yaml',
  'handlebars',
  // `key-` expressions that are not plain field names (common/key-path.ts).
  '@jmespath-community/jmespath',
  '@aws-sdk/client-ssm',
  // The agent reads Secrets Manager by name with its own client (agent/source/lean/); the SDK
  // only for finds, the not-found hint and credentials its own chain does not serve.
  '@aws-sdk/client-secrets-manager',
  '@aws-sdk/credential-provider-node',
] as const;

/** The commands cli/main.ts loads, each bundled into dist/commands/NAME.js. */
export const COMMAND_FILES = {
  agent: 'agent/command.ts',
  webhook: 'injector/webhook-command.ts',
  inject: 'injector/inject-command.ts',
} as const;

/**
 * The entry's `import('../agent/command.ts')` (and the other commands') stays a lazy load of
 * the command's own file, `./commands/agent.js`, instead of pulling the command into cli.js.
 */
const commandsApart: Plugin = {
  name: 'commands-apart',
  setup(plugin) {
    const byPath = new Map(
      Object.entries(COMMAND_FILES).map(
        ([name, file]) => [resolve(import.meta.dirname, file), name] as const,
      ),
    );
    plugin.onResolve({ filter: /command\.ts$/ }, (args) => {
      const name = byPath.get(resolve(args.resolveDir, args.path));
      return name === undefined || args.kind !== 'dynamic-import'
        ? undefined
        : { path: `./commands/${name}.js`, external: true };
    });
  },
};

/**
 * Bundled in place of a package (esbuild's `alias`): one that is required but, as the commands
 * use it, never called.
 */
const STUBS = {
  '@opentelemetry/api': './common/tracing-off.ts',
};

export const BUILD_OPTIONS = {
  entryPoints: {
    cli: 'cli/main.ts',
    ...Object.fromEntries(
      Object.entries(COMMAND_FILES).map(([name, file]) => [`commands/${name}`, file]),
    ),
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
  external: [DEV_COMMAND, ...VENDORED],
  alias: STUBS,
  plugins: [commandsApart],
} satisfies BuildOptions;

if (import.meta.main) {
  /** `node build.ts --outdir DIR`: another output directory (benchmarks of a variant side by side). */
  const outIndex = process.argv.indexOf('--outdir');
  const outdir = outIndex === -1 ? 'dist' : (process.argv[outIndex + 1] ?? 'dist');
  await rm(outdir, { recursive: true, force: true });
  await build({ ...BUILD_OPTIONS, outdir });
  await build({
    ...BUILD_OPTIONS,
    entryPoints: Object.fromEntries(VENDORED.map((name) => [`${name}/index`, name])),
    external: [],
    outdir: `${outdir}/node_modules`,
  });
  // dist/*.js are CommonJS, whatever the project's own package.json says.
  await writeFile(`${outdir}/package.json`, '{ "type": "commonjs" }\n');
  await chmod(`${outdir}/cli.js`, 0o755);
}
