/**
 * docs/limits.md states the injector's bounds; each is declared once in the code, and this keeps
 * the two in step: every row's bound is the constant's value, written as the docs write numbers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MAX_ERROR_ANSWER, MAX_PATCH_BYTES, MAX_UID_LENGTH } from '../injector/admission.ts';
import { MAX_ENV_ANNOTATIONS, MAX_OWN_ANNOTATIONS } from '../injector/annotations.ts';
import { MAX_DENIAL_LENGTH } from '../injector/inject.ts';
import { MAX_BUILT_LIST_ITEMS } from '../injector/partial-json.ts';
import { MAX_PROBLEMS } from '../injector/problems.ts';
import { POD_BOUNDS } from '../injector/types.ts';
import { MAX_LOG_LINE, MAX_LOG_STRING } from '../common/log.ts';

const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'limits.md'), 'utf8');

/** The bound column of the table row whose first cell is `name`. */
function row(name: string): string {
  const line = doc.split('\n').find((l) => l.startsWith(`| ${name} `));
  if (line === undefined) throw new Error(`docs/limits.md has no row ${name}`);
  return line.split('|')[2]?.trim() ?? '';
}

const n = (value: number): string => value.toLocaleString('en-US');

t.test('each bound the injector declares is the one docs/limits.md states', (t) => {
  for (const [field, bound] of Object.entries(POD_BOUNDS)) {
    const unit = field === 'metadata.annotations' ? 'characters' : 'items';
    t.match(row(`\`${field}\``), new RegExp(`^${n(bound)} ${unit}`), field);
  }
  t.match(row('a list inside a value read whole'), `${n(MAX_BUILT_LIST_ITEMS)} items`);
  t.match(row('`secrets-agent.io/` annotations'), `${n(MAX_OWN_ANNOTATIONS)} per pod`);
  t.match(row('`secrets-agent.io/env-` annotations'), `${n(MAX_ENV_ANNOTATIONS)} per pod`);
  t.match(row('`request.uid`'), `${n(MAX_UID_LENGTH)} characters`);
  t.match(row('problems kept for one pod'), new RegExp(`^${MAX_PROBLEMS};`));
  t.equal(MAX_ERROR_ANSWER, MAX_DENIAL_LENGTH, 'an error is as long as a denial');
  t.match(row('a denial, a 400’s error'.replace('’', "'")), `${n(MAX_DENIAL_LENGTH)} characters`);
  t.match(row('a patch'), `${n(MAX_PATCH_BYTES)} bytes`);
  t.match(row('a log line'), `${n(MAX_LOG_LINE)} characters; a string in it ${n(MAX_LOG_STRING)}`);
  t.end();
});
