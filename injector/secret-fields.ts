/**
 * The per-secret annotations: each sets one field of a secret's configuration (`secret-`,
 * `param-`, `path-` and `find-` name the source, one per file name), and options whose source
 * annotation is missing are reported with the likely typo.
 */
import type { SecretInput } from '../common/config.ts';
import { type Collector, parseBoolean } from './problems.ts';
import type { SecretPrefix } from './keys.ts';
import { closest } from './suggest.ts';
import { ANNOTATION_PREFIX } from './types.ts';

/** One secret's annotations: the configuration fields, as written. */
export type SecretDraft = Partial<Omit<SecretInput, 'name'>> & {
  /** The annotation that named the source, when one did. */
  from?: SecretPrefix;
};

/** The configuration field each annotation sets, for naming the schema's problems. */
export const SECRET_FIELD_PREFIX: Readonly<Record<keyof SecretInput, SecretPrefix>> = {
  name: 'secret-',
  source: 'secret-',
  id: 'secret-',
  tag: 'find-tag-',
  key: 'key-',
  template: 'template-',
  format: 'format-',
  versionStage: 'version-stage-',
  versionId: 'version-id-',
  mode: 'perms-',
  extract: 'extract-',
};

type SecretFieldParser = (value: string, draft: SecretDraft, out: Collector, key: string) => void;

/** Each per-secret annotation sets one configuration field, as written (booleans parsed). */
export const SECRET_FIELD_PARSERS: Readonly<Record<SecretPrefix, SecretFieldParser>> = {
  'secret-': sourceParser('secret-', undefined),
  'param-': sourceParser('param-', 'parameter'),
  'path-': sourceParser('path-', 'path'),
  'find-': sourceParser('find-', 'find'),
  'find-tag-': asWritten('tag'),
  'key-': asWritten('key'),
  'template-': asWritten('template'),
  'format-': asWritten('format'),
  'version-stage-': asWritten('versionStage'),
  'version-id-': asWritten('versionId'),
  'perms-': asWritten('mode'),
  'extract-': (v, d, out, k) => {
    const b = parseBoolean(v, k, out);
    if (b !== undefined) d.extract = b;
  },
};

/** An option that sets its field to the annotation's value, as written. */
function asWritten(
  field: 'tag' | 'key' | 'template' | 'format' | 'versionStage' | 'versionId' | 'mode',
): SecretFieldParser {
  return (v, d) => {
    d[field] = v;
  };
}

/**
 * `secret-`, `param-`, `path-`, `find-`: each names the source of one file name; two of them for
 * the same name are one file from two places.
 */
function sourceParser(prefix: SecretPrefix, source: string | undefined): SecretFieldParser {
  return (v, d, out, k) => {
    if (d.from !== undefined) {
      const name = k.slice(prefix.length);
      out.add(
        'duplicate',
        k,
        `"${name}" is already named by ${ANNOTATION_PREFIX}${d.from}${name}: one name, one source`,
      );
      return;
    }
    d.from = prefix;
    d.id = v;
    if (source !== undefined) d.source = source;
  };
}

/** The secrets in file-name order; options whose source annotation is missing are reported. */
export function finishSecrets(
  secrets: ReadonlyMap<string, SecretDraft>,
  out: Collector,
): SecretInput[] {
  const list: SecretInput[] = [];
  const named = [...secrets.keys()].filter((n) => secrets.get(n)?.id !== undefined);
  for (const [name, draft] of secrets) {
    const s = withoutFrom(draft);
    if (s.id === undefined) reportOrphan(name, s, named, out);
    else list.push({ name, ...s, id: s.id });
  }
  return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The draft's fields but `from`, in their order: built, not deleted (which slows every read). */
function withoutFrom(draft: SecretDraft): Omit<SecretDraft, 'from'> {
  const s: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(draft)) if (key !== 'from') s[key] = value;
  return s;
}

/** Options for a secret that no `secret-<name>` names: say which key, and the likely typo. */
function reportOrphan(
  name: string,
  s: SecretDraft,
  known: readonly string[],
  out: Collector,
): void {
  for (const field of Object.keys(s) as (keyof SecretInput)[]) {
    const prefix = SECRET_FIELD_PREFIX[field];
    const missing =
      prefix === 'find-tag-'
        ? `${ANNOTATION_PREFIX}find-${name}`
        : `${ANNOTATION_PREFIX}secret-${name}`;
    // The suggestion is looked for only if the problem is kept (Collector.add).
    out.add('required', `${prefix}${name}`, () => {
      const near = closest(name, known);
      const hint = near === undefined ? '' : `; did you mean "${near}"?`;
      return `no ${missing} names the secret "${name}"${hint}`;
    });
  }
}
