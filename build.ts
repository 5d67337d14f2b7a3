/**
 * Bundles the CLI into dist/: one entry plus one chunk per command, so `secrets-agent agent`
 * loads the agent and its AWS client only. Run by `npm install` (prepare) and `npm run build`.
 */
import { build, type Plugin } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';

/**
 * `import … from 'node:http'` in an ES module makes Node build the builtin's ESM facade, which
 * reads every export, and some exports are lazy getters that load more of Node: `http.WebSocket`
 * loads undici (about 50 ms of every start), `crypto.webcrypto` the Web Crypto API, `util`'s
 * `TextDecoder`… (bench/startup.ts). Every builtin imported by an ES module of the bundle (ours
 * and the dependencies' `dist-es`) goes through `require` instead, as the bundled CommonJS
 * dependencies' already do.
 */
const REQUIRED_BUILTINS = new RegExp(
  `^(node:)?(${builtinModules.map((m) => m.replaceAll('/', '\\/')).join('|')})$`,
);
const builtinsByRequire: Plugin = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: REQUIRED_BUILTINS }, (args) =>
      args.kind === 'import-statement' && args.namespace === 'file'
        ? { path: args.path.replace(/^node:/, ''), namespace: 'builtin-by-require' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin-by-require' }, (args) => ({
      contents: `module.exports = require('node:${args.path}');`,
      loader: 'js',
    }));
  },
};

/** `node build.ts --outdir DIR`: another output directory (benchmarks of a variant side by side). */
const outIndex = process.argv.indexOf('--outdir');
const outdir = outIndex === -1 ? 'dist' : (process.argv[outIndex + 1] ?? 'dist');

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { cli: 'cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: 'linked',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [builtinsByRequire],
  // Bundled CommonJS dependencies call require(); give ESM chunks one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
await chmod(`${outdir}/cli.js`, 0o755);
