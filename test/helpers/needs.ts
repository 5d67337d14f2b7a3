/**
 * What a test needs from the machine beyond Node, said out loud. Outside CI a missing need skips
 * the test with the need and how to meet it (the summary lists every skip); in CI (`CI=true`)
 * a missing need is a failure, so a CI machine without kubectl cannot pass by skipping.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';

const ROOT = join(import.meta.dirname, '..', '..');

interface Requirement {
  /** True when the machine has it; cheap, and run at most once per test file. */
  readonly met: () => boolean;
  /** What to do about it, for the skip or failure message. */
  readonly howTo: string;
}

function succeeds(command: string, args: readonly string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

const isRoot = (): boolean => process.getuid?.() === 0;

export const REQUIREMENTS = {
  kubectl: {
    met: () => succeeds('kubectl', ['version', '--client']),
    howTo: 'kubectl on PATH (it builds the kustomize manifests)',
  },
  moto: {
    met: () => succeeds('sh', [join(ROOT, 'test/moto/install.sh'), '--check']),
    howTo: 'the moto emulator: run `sh test/moto/install.sh` once (apt, as root or with sudo)',
  },
  'mount namespaces': {
    met: () => isRoot() && succeeds('unshare', ['-m', 'true']),
    howTo: 'root and unshare(1) (a private mount namespace with a tmpfs)',
  },
  'network namespaces': {
    met: () => isRoot() && succeeds('unshare', ['-n', 'true']),
    howTo: 'root and unshare(1) (a private network namespace)',
  },
} as const satisfies Record<string, Requirement>;

export type Need = keyof typeof REQUIREMENTS;

const known = new Map<Need, boolean>();

function met(need: Need): boolean {
  let answer = known.get(need);
  if (answer === undefined) {
    answer = REQUIREMENTS[need].met();
    known.set(need, answer);
  }
  return answer;
}

export const inCI = (): boolean => process.env['CI'] === 'true';

/** The reason the needs are not met, or undefined when they all are. */
export function unmet(...needs: Need[]): string | undefined {
  const missing = needs.filter((need) => !met(need));
  if (missing.length === 0) return undefined;
  return `needs ${missing.map((need) => `${need}: ${REQUIREMENTS[need].howTo}`).join('; ')}`;
}

/**
 * Options for one subtest that has needs: `t.test(name, needs(t, 'kubectl'), fn)`. Unmet outside
 * CI: the subtest is skipped with the reason. Unmet in CI: a failure, and the subtest skipped so
 * its own errors do not bury the reason.
 */
export function needs(t: Test, ...wanted: Need[]): { skip?: string } {
  const reason = unmet(...wanted);
  if (reason === undefined) return {};
  if (inCI()) t.fail(`${reason} (CI=true: a missing need is a failure)`);
  return { skip: reason };
}

/**
 * For a file all of whose tests have the needs: call first. Unmet: the whole file is one skip
 * with the reason (one failure in CI), and the process ends here, before any test runs.
 */
export function fileNeeds(t: Test, ...wanted: Need[]): void {
  const reason = unmet(...wanted);
  if (reason === undefined) return;
  if (inCI()) {
    t.fail(`${reason} (CI=true: a missing need is a failure)`);
    t.end();
  } else t.plan(0, reason);
  // The rest of the file would start servers and tests it cannot run; tap reports on exit.
  process.exit(0);
}
