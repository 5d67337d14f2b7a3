/**
 * Rules declared once and used everywhere they apply: the opt-in rule (injector/opt-in.ts), the
 * one "true"/"false" reader, the `mode` annotation checked by the agent's schema, and the bound
 * on annotation values derived from the schema's own. Each over generated values, so two
 * readings of one rule cannot drift apart unnoticed.
 */
import fc from 'fast-check';
import t from 'tap';
import { annotationOf } from '../injector/problems.ts';
import { checkAgentConfig, configProblemMessage, LIMITS } from '../common/config.ts';
import { admit } from '../injector/admission.ts';
import { MAX_VALUE_LENGTH, parseAnnotations } from '../injector/annotations.ts';
import { concernsInjector, optInOf } from '../injector/opt-in.ts';
import type { Pod } from '../injector/types.ts';
import { reviewFor } from './injector-support.ts';

const P = 'secrets-agent.io/';
const SECRET = { [`${P}secret-db`]: 'prod/db' };

/** Strings people write for yes and no, their near misses, long ones, and anything at all. */
const words = fc.oneof(
  fc.constantFrom('true', 'false', 'True', 'FALSE', 'yes', '', ' true', 'true ', '1', '0'),
  fc.string({ maxLength: 12 }),
  fc.string({ minLength: 81, maxLength: 300 }),
);

function pod(annotations: Record<string, string>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'shop', annotations },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  };
}

function problemsOn(annotations: Record<string, string>, key: string): string[] {
  const result = parseAnnotations(annotations);
  if (result.ok) return [];
  return result.problems.filter((p) => annotationOf(p) === `${P}${key}`).map((p) => p.message);
}

t.test('the opt-in rule: the parser and the admission filter read it alike', (t) => {
  fc.assert(
    fc.property(fc.option(words, { nil: undefined }), (value) => {
      const annotations =
        value === undefined ? { ...SECRET } : { ...SECRET, [`${P}inject`]: value };
      const parsed = parseAnnotations(annotations);
      const rule = optInOf(value);
      const skipped = admit(reviewFor(pod(annotations))).reason === 'not-opted-in';
      // `out`: left alone; `in`: injected; anything else: a problem naming the annotation.
      if (skipped !== (rule === 'out') || concernsInjector(annotations) === skipped) return false;
      if (rule === 'out') return parsed.ok && !parsed.value.inject;
      if (rule === 'in') return parsed.ok && parsed.value.inject;
      return !parsed.ok && parsed.problems.some((p) => annotationOf(p) === `${P}inject`);
    }),
  );
  t.end();
});

t.test('every yes/no annotation reads "true" and "false" alone, and says so alike', (t) => {
  fc.assert(
    fc.property(words, (value) => {
      const said = ['native-sidecar', 'local-api', 'inject'].map((key) =>
        problemsOn({ [`${P}inject`]: 'true', ...SECRET, [`${P}${key}`]: value }, key),
      );
      const valid = value === 'true' || value === 'false';
      const [first] = said;
      return said.every((messages) =>
        valid ? messages.length === 0 : JSON.stringify(messages) === JSON.stringify(first),
      );
    }),
  );
  t.end();
});

t.test('the mode annotation is checked by the schema, with the rest of the configuration', (t) => {
  const secrets = [{ name: 'db', id: 'prod/db' }];
  fc.assert(
    fc.property(words, (mode) => {
      const schema = checkAgentConfig({ mode, secrets });
      const messages = problemsOn(
        { [`${P}inject`]: 'true', ...SECRET, [`${P}mode`]: mode },
        'mode',
      );
      if (schema.ok) return messages.length === 0;
      return (
        JSON.stringify(messages) ===
        JSON.stringify(schema.problems.map((p) => configProblemMessage(p)))
      );
    }),
  );
  // A rule of the schema that involves the mode applies to the annotation at once.
  t.match(
    problemsOn(
      { [`${P}inject`]: 'true', ...SECRET, [`${P}mode`]: 'init', [`${P}local-api`]: 'true' },
      'local-api',
    ),
    [/sidecar mode only/],
  );
  t.end();
});

t.test('an annotation value may be as long as the longest value the schema takes', (t) => {
  t.equal(MAX_VALUE_LENGTH, LIMITS.templateLength, 'the template bound is the annotation bound');
  t.ok(
    [LIMITS.keyLength, LIMITS.secretIdLength, LIMITS.pathLength, LIMITS.urlLength].every(
      (n) => n <= MAX_VALUE_LENGTH,
    ),
    'every string bound of the schema fits in an annotation value',
  );
  const template = `${'x'.repeat(LIMITS.templateLength - 12)}{{username}}`;
  t.same(
    problemsOn({ [`${P}inject`]: 'true', ...SECRET, [`${P}template-db`]: template }, 'template-db'),
    [],
    `a ${template.length}-character template is accepted`,
  );
  t.end();
});
