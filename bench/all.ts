/**
 * `npm run bench`: every benchmark, one after the other (they share two cores), each as its own
 * process. Builds the bundle first unless --no-build. `--quick` passes through.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { NODE, ROOT } from './lib.ts';

const SCRIPTS = [
  'startup',
  'api-calls',
  'memory',
  'webhook',
  'inject',
  'fleet',
  'connections',
  'idle',
] as const;
const pass = process.argv.slice(2).filter((a) => a === '--quick');

function run(args: readonly string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(NODE, args, { cwd: ROOT, stdio: 'inherit' });
    child.once('close', resolve);
  });
}

if (!process.argv.includes('--no-build')) {
  const code = await run([join(ROOT, 'build.ts')]);
  if (code !== 0) process.exit(code ?? 1);
}
let failed = 0;
for (const name of SCRIPTS) {
  process.stdout.write(`\n=== bench/${name}.ts ===\n`);
  const code = await run([join(ROOT, 'bench', `${name}.ts`), ...pass]);
  if (code !== 0) {
    failed += 1;
    process.stdout.write(`bench/${name}.ts exited ${code}\n`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
