// The suite's reporter (`tap --reporter=./test/report.ts`): reads the runner's TAP and prints
// only what a reader acts on: each failure with where and what, each skip with the need that was
// not met, the slowest files, and one closing line, `N passed, N failed, N skipped`, that CI
// restates. The whole TAP stream stays one command away: `npm run test:tap` (or `TAP=1`).
import { Transform, type TransformCallback } from 'node:stream';
import { Parser, type Result } from 'tap-parser';

/** How many of the slowest files the summary names. */
const SLOWEST = 5;
/** Lines of a failure's diagnostics shown; the rest is in the TAP. */
const DIAG_LINES = 30;

interface Totals {
  passed: number;
  failed: number;
  skipped: number;
}

/** What one run saw: leaf assertions (a subtest's own result line is not counted twice). */
export class Tally {
  readonly totals: Totals = { passed: 0, failed: 0, skipped: 0 };
  readonly failures: Result[] = [];
  readonly skips: Result[] = [];
  readonly files: { name: string; ok: boolean; ms: number }[] = [];

  /** Follows one parser and, through its 'child' events, every subtest below it. */
  follow(parser: Parser, top: boolean): void {
    // The failures counted when the pending subtest began; null when none is pending.
    let failedBefore: number | null = null;
    // The pending subtest's name (`# Subtest: test/x.test.ts`): the runner names a file's result
    // line after what ended it (`timeout!`) rather than the file, in some cases.
    let childName = '';
    parser.on('child', (child: Parser) => {
      failedBefore = this.totals.failed;
      childName = child.name;
      this.follow(child, false);
    });
    parser.on('assert', (result: Result) => {
      const before = failedBefore;
      failedBefore = null;
      if (top && childName !== '' && result.name !== childName) {
        result.fullname = `${childName} > ${result.name}`;
        result.name = childName;
      }
      childName = '';
      if (top) this.files.push({ name: result.name, ok: result.ok, ms: result.time ?? 0 });
      this.count(result, before);
    });
  }

  /** `failedBefore` is null for an assertion, a number for a subtest's closing result. */
  private count(result: Result, failedBefore: number | null): void {
    // A skipped file or subtest has no children to count: it is the skip.
    if (result.skip !== false) {
      this.totals.skipped++;
      this.skips.push(result);
    } else if (failedBefore !== null) {
      // A failing subtest shows through its failing assertions, unless none failed (a thrown
      // error, a timeout, a plan not met, a crash): then its own result line is the failure.
      if (!result.ok && this.totals.failed === failedBefore) this.fail(result);
    } else if (result.todo !== false) {
      return;
    } else if (result.ok) this.totals.passed++;
    else this.fail(result);
  }

  private fail(result: Result): void {
    this.totals.failed++;
    this.failures.push(result);
  }
}

function diagnostics(result: Result): string[] {
  const diag = (result.diag ?? {}) as Record<string, unknown>;
  // Everything the assertion attached (found, wanted, diff, a counterexample, the exit code),
  // but the stack and the source excerpt, which the `at` line stands for.
  const picked = Object.entries(diag).filter(([key]) => !['stack', 'source', 'test'].includes(key));
  const text = picked.flatMap(([key, value]) => {
    if (key === 'at' && typeof value === 'object' && value !== null) {
      const at = value as { fileName?: string; lineNumber?: number };
      return [`at: ${at.fileName ?? '?'}:${at.lineNumber ?? '?'}`];
    }
    const shown = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
    const lines = shown.split('\n');
    return lines.length === 1 ? [`${key}: ${shown}`] : [`${key}:`, ...lines.map((l) => `  ${l}`)];
  });
  const kept = text.slice(0, DIAG_LINES);
  if (text.length > kept.length) kept.push(`… ${text.length - kept.length} more lines in the TAP`);
  return kept.map((line) => `    ${line}`);
}

/** The text printed after the run, from what the tally saw. */
export function summary(tally: Tally): string {
  const out: string[] = [''];
  for (const result of tally.skips) {
    const reason = typeof result.skip === 'string' && result.skip ? result.skip : 'no reason given';
    out.push(`SKIP ${result.fullname}: ${reason}`);
  }
  if (tally.skips.length > 0) out.push('');
  for (const result of tally.failures) {
    out.push(`FAIL ${result.fullname}`, ...diagnostics(result), '');
  }
  const slowest = [...tally.files].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST);
  if (slowest.length > 0) {
    const line = (ms: number, what: string): string =>
      `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${what}`;
    out.push('slowest files:');
    for (const file of slowest) out.push(line(file.ms, file.name));
    // The files' times added up: on a shared machine, steadier than the run's wall time.
    const total = tally.files.reduce((sum, file) => sum + file.ms, 0);
    out.push(line(total, 'all files added up (they run side by side)'), '');
  }
  const failedFiles = tally.files.filter((file) => !file.ok).length;
  out.push(
    `${tally.files.length} test files, ${failedFiles} failed. Success is 0 failed.`,
    'A skip names the need that was not met; in CI (CI=true) a missing need fails instead.',
    'Full TAP: npm run test:tap',
  );
  const { passed, failed, skipped } = tally.totals;
  out.push(`${passed} passed, ${failed} failed, ${skipped} skipped`, '');
  return out.join('\n');
}

/** A writable stream class, as tap's `--reporter` takes: TAP in, the summary out. */
export default class Report extends Transform {
  private readonly parser = new Parser();
  private readonly tally = new Tally();

  constructor() {
    super();
    this.tally.follow(this.parser, true);
    // A file's name is printed as it ends, so a long run shows progress, one line per file.
    this.parser.on('assert', (result: Result) => {
      const file = this.tally.files.at(-1)?.name ?? result.name;
      const mark = result.skip !== false ? 'skip' : result.ok ? 'ok  ' : 'FAIL';
      this.push(
        `${mark} ${file}${result.time === null ? '' : ` (${(result.time / 1000).toFixed(1)} s)`}\n`,
      );
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.parser.write(chunk.toString());
    done();
  }

  override _flush(done: TransformCallback): void {
    this.parser.end();
    this.push(summary(this.tally));
    done();
  }
}
