/**
 * Hostile templates and expressions, generated: nested `#each` blocks over a secret's lists
 * repeating a long field, `[@,@]` doubling a selection and then `join`, `to_string`, `replace`
 * or `pad_*` writing it out. Each render ends within its budget, with a result or
 * RENDER_FAILED, and the process's peak RSS grows by less than 40 MiB (the agent's default
 * limit is 64Mi, its working set ~23 MiB once ready; measured growth ≤ ~14 MiB): the output is
 * counted as it grows, so no
 * intermediate value outgrows MAX_RENDERED_BYTES. Each case runs in a process of its own (peak
 * RSS is the process's).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { MAX_RENDERED_BYTES, RENDER_TIMEOUT_MS } from '../agent/budget.ts';
import type { RenderCase, RenderPeak } from './helpers/render-peak.ts';
import { SEED } from './helpers/seed.ts';

const PEAK_GROWTH_MIB = 40;

/** `{{#each a}}` nested `depth` deep, repeating the field `s` innermost. */
const nestedEach: fc.Arbitrary<RenderCase> = fc
  .record({
    depth: fc.integer({ min: 1, max: 4 }),
    items: fc.integer({ min: 1, max: 400 }),
    field: fc.integer({ min: 1, max: 64 * 1024 }),
  })
  .map(({ depth, items, field }) => {
    let template = '{{@root.s}}';
    for (let level = 0; level < depth; level++) template = `{{#each @root.a}}${template}{{/each}}`;
    return {
      template,
      data: { a: Array.from({ length: items }, (_, i) => i), s: 'x'.repeat(field) },
    };
  });

/** `[s,s]` doubled `times` times, then written out by a string function. */
const doubling: fc.Arbitrary<RenderCase> = fc
  .record({
    times: fc.integer({ min: 0, max: 24 }),
    field: fc.integer({ min: 1, max: 64 * 1024 }),
    writer: fc.constantFrom(
      "join('', @)",
      'to_string(@)',
      "replace(join('', @), 'x', 'xxxxxxxxxxxxxxxx')",
      'length(to_string(@))',
    ),
  })
  .map(({ times, field, writer }) => ({
    key: `[s, s]${' | [@, @][]'.repeat(times)} | ${writer}`,
    data: { s: 'x'.repeat(field) },
  }));

const padding: fc.Arbitrary<RenderCase> = fc
  .record({
    width: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    side: fc.constantFrom('left', 'right'),
  })
  .map(({ width, side }) => ({ key: `pad_${side}(s, \`${width}\`)`, data: { s: 'x' } }));

function renderAlone(cases: readonly RenderCase[]): Promise<RenderPeak> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, 'helpers', 'render-peak.ts')],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as RenderPeak) : reject(new Error(`exited ${code}`)),
    );
    child.stdin.end(JSON.stringify(cases));
  });
}

/** Each case's outcome, two processes at a time (each mostly starting up), in the cases' order. */
async function renderEachAlone(cases: readonly RenderCase[]): Promise<RenderPeak[]> {
  const peaks: RenderPeak[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < cases.length; i = next++) {
      const c = cases[i];
      if (c !== undefined) peaks[i] = await renderAlone([c]);
    }
  };
  await Promise.all([worker(), worker()]);
  return peaks;
}

t.test('generated exploding renders stay within their bounds on the way', async (t) => {
  const cases = fc.sample(fc.oneof(nestedEach, doubling, padding), {
    numRuns: 24,
    // The suite's seed (test/helpers/seed.ts, FUZZ_SEED): a failure reproduces as it was seen.
    seed: Number(process.env['RENDER_PEAK_SEED'] ?? SEED),
  });
  // One process per case: a process's peak RSS only grows, so each case gets its own.
  const peaks = await renderEachAlone(cases);
  for (const [i, c] of cases.entries()) {
    const what = (c.template ?? c.key ?? '?').slice(0, 80);
    const peak = peaks[i];
    if (peak === undefined) throw new Error(`no outcome for ${what}`);
    const { peakGrowthMiB, results } = peak;
    const r = results[0];
    if (r?.code !== undefined) t.equal(r.code, 'RENDER_FAILED', `${what}: refused`);
    else t.ok((r?.bytes ?? Infinity) <= MAX_RENDERED_BYTES, `${what}: within the bound`);
    // The budget's timeout, with room for a shared machine: nothing is flattened after it.
    t.ok((r?.ms ?? Infinity) < RENDER_TIMEOUT_MS * 4, `${what}: ${Math.round(r?.ms ?? 0)} ms`);
    t.ok(
      peakGrowthMiB < PEAK_GROWTH_MIB,
      `${what}: peak RSS growth ${peakGrowthMiB.toFixed(1)} MiB`,
    );
  }
});
