/**
 * Bundles the CLI into dist/: CommonJS files that Node runs as they are, with every dependency
 * inside and no node_modules next to them. Run by `npm install` (prepare) and `npm run build`.
 *
 *   dist/cli.js     `secrets-agent <command>`: every command (the webhook runs this)
 *   dist/agent.js   the agent alone: what an injected container runs, so a pod holds nothing of
 *                   the injector
 *
 * Nothing is rewritten: what the source imports lazily (`await import(…)`: a command, the
 * template engines, YAML, the SSM client) esbuild keeps in the same file behind an
 * initialiser that runs at that point, once, so it is compiled and evaluated only when used.
 * `secrets-agent dev` is a developer tool and no part of the bundle: in a checkout the entry
 * loads it from the TypeScript source (`dev/`, next to `dist/`); elsewhere it says so.
 */
import { build, type BuildOptions } from 'esbuild';
import { chmod, rm, writeFile } from 'node:fs/promises';

/** Imported by the entry only where the source tree holds it: never bundled. */
export const DEV_COMMAND = '../dev/command.ts';

/**
 * Packages that only some runs use, each bundled into a file of its own,
 * dist/node_modules/NAME/index.js, where an entry's plain `import('yaml')` or `require('yaml')`
 * finds it by Node's own resolution. A process that never reads YAML, renders a template or asks SSM neither compiles
 * these nor keeps their source on its heap (V8 holds a script's source as long as it runs).
 */
export const VENDORED = ['yaml', 'handlebars', '@aws-sdk/client-ssm'] as const;

export const BUILD_OPTIONS = {
  entryPoints: { cli: 'cli/main.ts', agent: 'cli/agent.ts' },
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
  await chmod(`${outdir}/agent.js`, 0o755);
}
