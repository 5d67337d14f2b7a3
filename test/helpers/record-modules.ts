/**
 * Preloaded with `--import`: records every module the process resolves (ESM imports and CommonJS
 * requires alike, through node's synchronous module hooks) and writes the list, one URL a line,
 * to $RECORD_MODULES_FILE when the process exits. What a process never resolves, it never
 * loaded.
 */
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';

const file = process.env['RECORD_MODULES_FILE'];
const urls = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    urls.add(resolved.url);
    return resolved;
  },
});
process.on('exit', () => {
  if (file !== undefined) writeFileSync(file, [...urls].join('\n'));
});
