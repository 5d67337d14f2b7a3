/**
 * The canary check itself: a leak is found whatever surrounds the canary and however the whole
 * value was encoded on its way out (JSON, base64 at any of the three byte alignments, base64url,
 * hex, URL-encoding, and those nested), and text without the canary is never flagged.
 */
import fc from 'fast-check';
import t from 'tap';
import { CANARY, canaryForms, findCanary } from './helpers/canary.ts';

const SEED = 20_261_207;

/** How a value that holds a secret could leave the process, each applied to the whole value. */
const ENCODINGS: Readonly<Record<string, (value: string) => string>> = {
  plain: (v) => v,
  JSON: (v) => JSON.stringify(v),
  'JSON field': (v) => JSON.stringify({ password: v }),
  'JSON twice': (v) => JSON.stringify(JSON.stringify({ password: v })),
  'URL-encoded': (v) => encodeURIComponent(v),
  'form-encoded': (v) => new URLSearchParams({ v }).toString(),
  base64: (v) => Buffer.from(v).toString('base64'),
  base64url: (v) => Buffer.from(v).toString('base64url'),
  'base64 of a JSON field': (v) => Buffer.from(JSON.stringify({ password: v })).toString('base64'),
  hex: (v) => Buffer.from(v).toString('hex'),
  HEX: (v) => Buffer.from(v).toString('hex').toUpperCase(),
  'hex of JSON': (v) => Buffer.from(JSON.stringify(v)).toString('hex'),
};

const text = fc.string({ unit: 'grapheme', maxLength: 40 });

t.test('the canary is found in every encoding, at every alignment, inside any value', (t) => {
  for (const [name, encode] of Object.entries(ENCODINGS)) {
    const result = fc.check(
      fc.property(text, text, (before, after) => {
        const encoded = encode(`${before}${CANARY}${after}`);
        return findCanary(encoded) !== undefined;
      }),
      { seed: SEED, numRuns: 300 },
    );
    t.notOk(result.failed, `${name}: found (${result.numRuns} values, seed ${SEED})`, {
      counterexample: result.counterexample,
    });
  }
  t.end();
});

t.test('every byte alignment of base64 is covered, not only the canary at a group start', (t) => {
  for (const pad of ['', 'x', 'xy']) {
    const encoded = Buffer.from(`${pad}${CANARY}`).toString('base64');
    t.equal(
      findCanary(encoded),
      `base64 at offset ${pad.length}`,
      `${pad.length} bytes before it: the form for that offset finds it`,
    );
  }
  t.end();
});

t.test('text without the canary is never flagged', (t) => {
  // The canary with one character changed stands for near misses; random text for the rest.
  const nearMiss = fc
    .nat({ max: CANARY.length - 1 })
    .map((i) => `${CANARY.slice(0, i)}${CANARY[i] === 'X' ? 'Y' : 'X'}${CANARY.slice(i + 1)}`);
  const result = fc.check(
    fc.property(
      fc.oneof(text, nearMiss),
      fc.constantFrom(...Object.values(ENCODINGS)),
      (v, enc) => {
        return findCanary(enc(v)) === undefined;
      },
    ),
    { seed: SEED, numRuns: 1000 },
  );
  t.notOk(result.failed, `no false alarm (${result.numRuns} values)`, {
    counterexample: result.counterexample,
  });
  t.end();
});

t.test('each form is long enough not to match by chance', (t) => {
  for (const [name, form] of canaryForms()) t.ok(form.length >= 24, `${name}: ${form.length}`);
  t.end();
});
