/**
 * Upstream answers AWS would never give, generated: a SecretString, SecretBinary or parameter
 * Value of another type (an object, an array, a number, a boolean) or larger than AWS stores. The
 * agent's AWS adapter refuses each at the edge, before the value is kept, with VALUE_INVALID
 * naming the secret and never quoting the value; an answer within AWS's bounds is kept as is.
 * The answers come over the wire (a loopback endpoint speaking AWS's JSON protocol, which the
 * dev endpoint cannot be made to misspeak), through the real SDK.
 */
import fc from 'fast-check';
import t from 'tap';
import type { SecretRef } from '../agent/source/source.ts';
import { UPSTREAM_LIMITS } from '../agent/source/upstream.ts';
import { stubbedAwsSource } from './helpers/aws-stub.ts';

const NAME = 'app/db';
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf';
/** In every generated value, so no error may quote one. */
const MARK = 'UPSTREAM-MARK-';

/** The field's value, and whether AWS could have answered it. */
interface Answer {
  readonly field: 'SecretString' | 'SecretBinary' | 'Value';
  readonly json: unknown;
  readonly valid: boolean;
}

const wrongType = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 5 }), fc.constant(MARK), { minKeys: 1, maxKeys: 3 }),
  fc.array(fc.constant(MARK), { minLength: 1, maxLength: 3 }),
  fc.integer(),
  fc.boolean(),
);

/** A string of `bytes` UTF-8 bytes or so, starting with MARK, of generated characters. */
const text = (min: number, max: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.integer({ min, max }), fc.constantFrom('x', 'é', '€', '😀'))
    .map(([bytes, ch]) =>
      (MARK + ch.repeat(Math.ceil(bytes / Buffer.byteLength(ch)))).slice(0, Math.max(bytes, 16)),
    );

function answers(field: Answer['field'], max: number): fc.Arbitrary<Answer> {
  const sized = (s: string): Answer => ({
    field,
    json: field === 'SecretBinary' ? Buffer.from(s).toString('base64') : s,
    valid: Buffer.byteLength(s) <= max,
  });
  return fc.oneof(
    text(16, max - 4).map(sized),
    text(max + 1, max * 4).map(sized),
    wrongType.map((json) => ({ field, json, valid: false })),
  );
}

/** The answer's field in the shape of the operation called. */
function answerBody(target: string, a: Answer): string {
  const body = target.endsWith('GetParameters')
    ? { Parameters: [{ Name: NAME, Type: 'String', Version: 1, [a.field]: a.json }] }
    : target.endsWith('BatchGetSecretValue')
      ? { SecretValues: [{ Name: NAME, ARN, VersionId: 'v1', [a.field]: a.json }], Errors: [] }
      : { Name: NAME, ARN, VersionId: 'v1', [a.field]: a.json };
  return JSON.stringify(body);
}

const cases: readonly [string, SecretRef, fc.Arbitrary<Answer>][] = [
  ['SecretString', { id: NAME }, answers('SecretString', UPSTREAM_LIMITS.secretBytes)],
  ['SecretBinary', { id: NAME }, answers('SecretBinary', UPSTREAM_LIMITS.secretBytes)],
  [
    'an SSM Value',
    { kind: 'parameter', id: NAME },
    answers('Value', UPSTREAM_LIMITS.parameterBytes),
  ],
];

for (const [name, ref, arbitrary] of cases)
  t.test(`${name}: what AWS could not answer is refused by name, the rest kept`, async (t) => {
    let current: Answer | undefined;
    const source = await stubbedAwsSource(t, (target) => {
      if (current === undefined) throw new Error('no answer set');
      return answerBody(target, current);
    });
    await fc.assert(
      fc.asyncProperty(arbitrary, async (answer) => {
        current = answer;
        const outcome = (await source.fetch([ref], AbortSignal.timeout(10_000)))
          .values()
          .next().value;
        if (outcome === undefined) throw new Error('no outcome');
        if (answer.valid) {
          if (!outcome.ok || !('value' in outcome)) throw new Error('a valid value was refused');
          const kept = outcome.value.string ?? Buffer.from(outcome.value.binary ?? []).toString();
          const sent =
            answer.field === 'SecretBinary'
              ? Buffer.from(answer.json as string, 'base64').toString()
              : answer.json;
          if (kept !== sent) throw new Error('a valid value was not kept as sent');
          return;
        }
        if (outcome.ok) throw new Error(`kept what AWS could not answer: ${typeof answer.json}`);
        const { code, message } = outcome.error;
        if (code !== 'VALUE_INVALID') throw new Error(`code ${code}: ${message}`);
        if (!message.includes(NAME)) throw new Error(`the secret is not named: ${message}`);
        if (message.includes(MARK)) throw new Error('the error quotes the value');
      }),
      { numRuns: 40 },
    );
    t.pass('every generated answer was kept or refused by name, never quoted');
  });
