/**
 * docs/annotations.md's two tables are the contract (common/contract.ts) written out: this
 * renders them from it, as prettier lays tables out, and compares them with the docs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  ENV_ANNOTATION,
  POD_ANNOTATIONS,
  POD_KEYS,
  SECRET_ANNOTATIONS,
  type SecretPrefix,
} from '../common/contract.ts';
import { markdownTable, tableAfter } from './helpers/markdown-table.ts';

const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'annotations.md'), 'utf8');
const HEADER = ['annotation', 'default', 'in short'];

t.test('the pod-level table is the contract', (t) => {
  const rows = POD_KEYS.map((key) => {
    const row = POD_ANNOTATIONS[key];
    return [`\`${key}\``, row.default, row.doc];
  });
  t.equal(tableAfter(doc, '## Pod-level annotations'), markdownTable(HEADER, rows));
  t.end();
});

t.test('the per-secret table is the contract', (t) => {
  const rows = (Object.keys(SECRET_ANNOTATIONS) as SecretPrefix[]).map((prefix) => {
    const row = SECRET_ANNOTATIONS[prefix];
    return [`\`${prefix}<name>\``, row.default, row.doc];
  });
  rows.push([`\`${ENV_ANNOTATION.prefix}<VAR>\``, ENV_ANNOTATION.default, ENV_ANNOTATION.doc]);
  t.equal(tableAfter(doc, '## Per-secret annotations'), markdownTable(HEADER, rows));
  t.end();
});

t.test('a table differing in one cell is told apart', (t) => {
  const table = markdownTable(HEADER, [['`a`', '—', 'one']]);
  t.not(table, markdownTable(HEADER, [['`a`', '—', 'two']]));
  t.equal(tableAfter(`# x\n\n${table}\n\ntext\n`, '# x'), table);
  t.end();
});
