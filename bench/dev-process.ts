/**
 * `secrets-agent dev` as a process of its own (for benches whose measured process must not
 * share an event loop or a heap with the endpoint): spawned async, its URL read from the first
 * JSON line it prints. Always the checkout's (dist/cli.js loads dev/ beside it), whatever
 * bundle a bench measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE, ROOT } from './lib.ts';

export interface DevProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

export async function startDevProcess(
  seed: object,
  dir: string,
  args: readonly string[] = [],
): Promise<DevProcess> {
  const seedFile = join(dir, 'seed.json');
  writeFileSync(seedFile, JSON.stringify(seed));
  const child = spawn(
    NODE,
    [
      join(ROOT, 'dist', 'cli.js'),
      'dev',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--seed',
      seedFile,
      ...args,
    ],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`dev endpoint did not start: ${out}`)), 15_000);
    child.once('exit', (code) => reject(new Error(`dev endpoint exited ${code}: ${out}`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  child.stdout?.resume();
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
