/**
 * The suite's reporter (test/report.ts) counts what CI decides on: a failure anywhere, however
 * deep or however it happened (an assertion, a throw, a crashed file), is counted and printed;
 * skips are listed with their reasons; and its closing line is the one `.ci/run` reads.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Parser } from 'tap-parser';
import { ROOT } from './helpers/agent-process.ts';
import Report, { summary, Tally } from './report.ts';

/** TAP as the runner prints it: one subtest per file, nested subtests inside. */
const RUN = `TAP version 14
1..4
# Subtest: test/a.test.ts
    # Subtest: group
        ok 1 - fine
        not ok 2 - one is two
          ---
          found: 1
          wanted: 2
          at:
            fileName: test/a.test.ts
            lineNumber: 3
          ...
        1..2
    not ok 1 - group # time=2ms
    # Subtest: throws
        not ok 1 - boom
          ---
          at:
            fileName: test/a.test.ts
            lineNumber: 8
          ...
        1..1
    not ok 2 - throws # time=1ms
    ok 3 - later # TODO not yet
    1..3
not ok 1 - test/a.test.ts # time=120ms
# Subtest: test/b.test.ts
    1..0 # needs kubectl: kubectl on PATH
ok 2 - test/b.test.ts # SKIP needs kubectl: kubectl on PATH
# Subtest: test/c.test.ts
    ok 1 - one
    ok 2 - two
    1..2
not ok 3 - test/c.test.ts # time=30ms
  ---
  exitCode: 3
  ...
# Subtest: test/d.test.ts
    ok 1 - fast
    # Subtest: skipped inside
        1..0 # needs root
    ok 2 - skipped inside # SKIP needs root
    1..2
ok 4 - test/d.test.ts # time=4000ms
`;

/** A file the runner stopped at its timeout: its result line is named after the timeout. */
const TIMED_OUT = `TAP version 14
1..1
# Subtest: test/slow.test.ts
    # Subtest: slow
        not ok 1 - timeout!
        1..1
    not ok 1 - slow # time=1991ms
    1..1
not ok 1 - timeout!
  ---
  signal: SIGALRM
  ...
`;

function tally(tap: string): Tally {
  const parser = new Parser();
  const result = new Tally();
  result.follow(parser, true);
  parser.end(tap);
  return result;
}

t.test('every failure is counted once, at the deepest level it shows', (t) => {
  const seen = tally(RUN);
  t.same(seen.totals, { passed: 4, failed: 3, skipped: 2 });
  t.same(
    seen.failures.map((f) => f.fullname),
    ['test/a.test.ts > group > one is two', 'test/a.test.ts > throws > boom', 'test/c.test.ts'],
    'the assertions, and a file that crashed after passing ones',
  );
  t.same(
    seen.files.map((f) => [f.name, f.ok]),
    [
      ['test/a.test.ts', false],
      ['test/b.test.ts', true],
      ['test/c.test.ts', false],
      ['test/d.test.ts', true],
    ],
  );
  t.end();
});

t.test('the summary: skips with reasons, failures with where and what, the closing line', (t) => {
  const text = summary(tally(RUN));
  t.match(text, /^SKIP test\/b\.test\.ts: needs kubectl: kubectl on PATH$/m);
  t.match(text, /^SKIP test\/d\.test\.ts > skipped inside: needs root$/m);
  t.match(
    text,
    /^FAIL test\/a\.test\.ts > group > one is two\n {4}found: 1\n {4}wanted: 2\n {4}at: test\/a\.test\.ts:3$/m,
  );
  t.match(text, /^FAIL test\/c\.test\.ts\n {4}exitCode: 3$/m);
  t.match(text, /^ {5}4\.0 s {2}test\/d\.test\.ts$/m, 'the slowest file first');
  t.match(text, /^ {5}4\.2 s {2}all files added up/m, "and every file's time, added up");
  t.match(text, /^4 test files, 2 failed\. Success is 0 failed\.$/m);
  t.equal(text.trimEnd().split('\n').at(-1), '4 passed, 3 failed, 2 skipped');
  t.end();
});

t.test('a file stopped at its timeout is named, not called "timeout!"', (t) => {
  const seen = tally(TIMED_OUT);
  t.same(
    seen.files.map((f) => f.name),
    ['test/slow.test.ts'],
  );
  t.same(
    seen.failures.map((f) => f.fullname),
    ['test/slow.test.ts > slow > timeout!'],
  );
  t.equal(seen.totals.failed, 1, 'one failure: the timeout, where it happened');
  t.end();
});

t.test(".ci/run reads the reporter's closing line", (t) => {
  const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
  const pattern = /grep -E '([^']+)' "\$log"/.exec(ci)?.[1];
  t.ok(pattern !== undefined, '.ci/run greps the log for the summary');
  const last = summary(tally(RUN)).trimEnd().split('\n').at(-1) ?? '';
  t.match(last, new RegExp(pattern ?? '^$'), 'its pattern matches the closing line');
  t.end();
});

t.test('as a stream: a line per file as it ends, the summary at the end', async (t) => {
  const report = new Report();
  let out = '';
  report.on('data', (d: Buffer) => (out += d.toString()));
  const ended = new Promise((resolve) => report.once('end', resolve));
  report.end(RUN);
  await ended;
  t.match(
    out,
    /^FAIL test\/a\.test\.ts \(0\.1 s\)\nskip test\/b\.test\.ts\nFAIL test\/c\.test\.ts/m,
  );
  t.match(out, /4 passed, 3 failed, 2 skipped\n$/);
});
