/**
 * The per-secret annotations: each sets one field of a secret's configuration (`secret-`,
 * `param-`, `path-` and `find-` name the source, one per file name), and options whose source
 * annotation is missing are reported with the likely typo.
 */
import type { SecretInput } from '../common/config.ts';
import {
  SECRET_ANNOTATIONS,
  SECRET_FIELD_PREFIX,
  type SecretPrefix,
  type SecretRow,
} from '../common/contract.ts';
import { type Collector, parseBoolean } from './problems.ts';
import { closest } from './suggest.ts';
import { ANNOTATION_PREFIX } from './types.ts';

/** One secret's annotations: the configuration fields, as written. */
export type SecretDraft = Partial<Omit<SecretInput, 'name'>> & {
  /** The annotation that named the source, when one did. */
  from?: SecretPrefix;
};

type SecretFieldParser = (value: string, draft: SecretDraft, out: Collector, key: string) => void;

/** Each per-secret annotation sets its field of the contract, as written (booleans parsed). */
export const SECRET_FIELD_PARSERS = Object.fromEntries(
  (Object.entries(SECRET_ANNOTATIONS) as [SecretPrefix, SecretRow][]).map(([prefix, row]) => [
    prefix,
    fieldParser(prefix, row),
  ]),
) as Readonly<Record<SecretPrefix, SecretFieldParser>>;

function fieldParser(prefix: SecretPrefix, row: SecretRow): SecretFieldParser {
  if (row.field === 'id') return sourceParser(prefix, row.source);
  if (row.parse === 'boolean')
    return (v, d, out, k) => {
      const b = parseBoolean(v, k, out);
      if (b !== undefined) Object.assign(d, { [row.field]: b });
    };
  return (v, d) => {
    Object.assign(d, { [row.field]: v });
  };
}

/**
 * `secret-`, `param-`, `path-`, `find-`: each names the source of one file name; two of them for
 * the same name are one file from two places.
 */
function sourceParser(prefix: SecretPrefix, source: string | undefined): SecretFieldParser {
  // A Secrets Manager secret is the default source: its configuration names none.
  const named = source === 'secretsmanager' ? undefined : source;
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
    if (named !== undefined) d.source = named;
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
