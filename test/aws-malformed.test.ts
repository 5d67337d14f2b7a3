/**
 * A malformed answer from the AWS endpoint (a proxy, a truncated body) must not leak the
 * secret: the SDK's parse error quotes the body it could not parse, and the body holds the
 * value. The agent's error says what failed, never that text.
 */
import t from 'tap';
import { stubbedAwsSource } from './helpers/aws-stub.ts';
import { assertNoCanary, CANARY } from './helpers/canary.ts';

const BODIES = {
  // A truncated answer: the value is inside, the JSON never closes.
  truncated: `{"SecretValues":[{"Name":"db","SecretString":"${CANARY} and more of the value`,
  // Junk in front: JSON.parse quotes the start of its input.
  garbled: `${CANARY}{"SecretValues":[{"Name":"db","SecretString":"${CANARY}"}]}`,
  // Junk behind.
  trailing: `{"SecretValues":[{"Name":"db","SecretString":"x"}]}${CANARY}`,
};

for (const [name, body] of Object.entries(BODIES))
  t.test(`a body that is not JSON (${name}) is reported without quoting it`, async (t) => {
    const source = await stubbedAwsSource(t, () => body);
    const outcomes = await source.fetch([{ id: 'db' }], AbortSignal.timeout(10_000));
    const outcome = outcomes.values().next().value;
    t.equal(outcome?.ok, false, 'the read failed');
    const error = outcome?.ok === false ? outcome.error : undefined;
    t.ok(error !== undefined);
    t.match(error?.message, /db: SyntaxError: the response was not valid JSON/);
    t.equal(error?.code, 'AWS_UNAVAILABLE', 'retried like a server error');
    // Not even the start of the value (a parser quotes about ten characters).
    t.notMatch(error?.message ?? '', /canary/i);
    assertNoCanary(
      t,
      `${error?.message ?? ''} ${JSON.stringify(error?.cause ?? null)}`,
      'the error',
    );
  });
