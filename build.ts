/**
 * Bundles the CLI into dist/: one entry plus one chunk per command, so `secrets-agent agent`
 * loads the agent and its AWS client only. Run by `npm install` (prepare) and `npm run build`.
 */
import { build, type Plugin } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';

/**
 * `import … from 'node:http'` in an ES module makes Node build the module's ESM facade, which
 * reads every export, and `http.WebSocket`/`MessageEvent`/`CloseEvent` are getters that load
 * undici (Node's fetch): about 50 ms of every start (bench/startup.ts). Our own imports of these
 * builtins go through `require` instead, as the bundled CommonJS dependencies' already do.
 */
const REQUIRED_BUILTINS = /^(node:)?https?$/;
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

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: { cli: 'cli/main.ts' },
  outdir: 'dist',
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
await chmod('dist/cli.js', 0o755);
