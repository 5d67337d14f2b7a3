/**
 * docs/limits.md states the injector's bounds; each is declared once in the code, and this keeps
 * the two in step: every row's bound is the constant's value, written as the docs write numbers.
 * The schema's tables are rendered whole from the contract (common/contract.ts), which states
 * the schema's LIMITS.
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
import {
  CONFIG_ONLY_BOUNDS,
  POD_ANNOTATIONS,
  POD_KEYS,
  SECRET_ANNOTATIONS,
  type SecretPrefix,
} from '../common/contract.ts';
import { renderPath } from '../common/field.ts';
import { markdownTable, tableAfter } from './helpers/markdown-table.ts';

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

/** The annotations the schema bounds: name, the field it sets, the bound, from the contract. */
function annotationBounds(): string[][] {
  const rows: string[][] = [];
  for (const key of POD_KEYS) {
    const row = POD_ANNOTATIONS[key];
    if ('bound' in row && row.reach === 'config')
      rows.push([`\`${key}\``, `\`${renderPath(row.config)}\``, row.bound]);
  }
  for (const prefix of Object.keys(SECRET_ANNOTATIONS) as SecretPrefix[]) {
    const row = SECRET_ANNOTATIONS[prefix];
    if (!('bound' in row)) continue;
    rows.push([`\`${prefix}<name>\``, `\`secrets[].${row.field}\``, row.bound]);
  }
  return rows;
}

t.test("the schema's tables are the contract's bounds", (t) => {
  const schema = doc.slice(doc.indexOf('## The schema'));
  t.equal(
    tableAfter(schema, '## The schema (at admission and in the agent)'),
    markdownTable(['annotation', 'agent field', 'bound'], annotationBounds()),
    'the annotations',
  );
  t.equal(
    tableAfter(schema, 'Set in the configuration only:'),
    markdownTable(['agent field', 'bound'], CONFIG_ONLY_BOUNDS),
    'the fields no annotation sets',
  );
  t.end();
});
