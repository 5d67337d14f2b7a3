/**
 * docs/agent.md's tables of the configuration's fields are the schema written out: this renders
 * them from common/config-doc.ts, in the schema's field order, as prettier lays tables out, and
 * compares them with the doc.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CONFIG_FIELDS, SECRET_FIELDS } from '../common/config.ts';
import { CONFIG_FIELD_DOCS, SECRET_FIELD_DOCS, type FieldDoc } from '../common/config-doc.ts';
import { markdownTable, tableAfter } from './helpers/markdown-table.ts';

const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'agent.md'), 'utf8');
const HEADER = ['field', 'default', 'meaning'];

function table(fields: readonly string[], docs: Readonly<Record<string, FieldDoc>>): string {
  return markdownTable(
    HEADER,
    fields.map((field) => {
      const row = docs[field];
      return [`\`${field}\``, row?.default ?? '?', row?.doc ?? '?'];
    }),
  );
}

t.test('the configuration table is the schema', (t) => {
  t.same(Object.keys(CONFIG_FIELD_DOCS), CONFIG_FIELDS, "every field, in the schema's order");
  t.equal(tableAfter(doc, '## Agent configuration'), table(CONFIG_FIELDS, CONFIG_FIELD_DOCS));
  t.end();
});

t.test("the table of a secret's fields is the schema", (t) => {
  t.same(Object.keys(SECRET_FIELD_DOCS), SECRET_FIELDS, "every field, in the schema's order");
  t.equal(tableAfter(doc, 'Each entry of `secrets`:'), table(SECRET_FIELDS, SECRET_FIELD_DOCS));
  t.end();
});
