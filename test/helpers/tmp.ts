import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

/** A fresh temporary directory removed when the test ends. */
export async function tempDir(
  t: Test,
  prefix = 'secrets-agent-',
  base = tmpdir(),
): Promise<string> {
  const dir = await mkdtemp(join(base, prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A temporary directory on tmpfs where there is one: what the agent writes to in a pod. */
export async function memoryDir(t: Test): Promise<string> {
  const shm = await stat('/dev/shm').then(
    (s) => s.isDirectory(),
    () => false,
  );
  return tempDir(t, 'secrets-agent-', shm ? '/dev/shm' : tmpdir());
}
