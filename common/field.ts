/**
 * Problems as data, as Kubernetes' own validation has them (`field.Path`, `field.Error{Type,
 * Field, Detail}`): each problem has a kind from a small vocabulary and the path of the field it
 * is about, a list of segments built with `child`, `index` and `key`. Paths are rendered to text
 * only where a person reads them (a denial, a log line, a termination message), and tests
 * compare kinds and paths, not wording.
 */

/** What is wrong, whatever the words: the kinds of Kubernetes' field.ErrorType that we need. */
export const PROBLEM_KINDS = [
  /** A value that must be given is missing. */
  'required',
  /** A value of the wrong type or syntax, or outside its range. */
  'invalid',
  /** A value outside a closed list (a mode, a format). */
  'not-supported',
  /** A value that must be unique is used twice (a file name, a port, a source for one name). */
  'duplicate',
  /** A value longer than its bound. */
  'too-long',
  /** A list, or a number of annotations, past its bound. */
  'too-many',
  /** A valid value that is not allowed here, or not with another one. */
  'forbidden',
  /** A field or annotation that does not exist. */
  'unknown',
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

/** A field's name, a list's index, or a map's key (an annotation key, a label). */
export type Segment = string | number | { readonly key: string };
export type FieldPath = readonly Segment[];

/** The document itself. */
export const ROOT: FieldPath = [];

/** The field `name` of the object at `path` (several names: a field of a field). */
export function child(path: FieldPath, ...names: readonly string[]): FieldPath {
  return [...path, ...names];
}

/** Item `i` of the list at `path`. */
export function index(path: FieldPath, i: number): FieldPath {
  return [...path, i];
}

/** The entry `k` of the map at `path`. */
export function key(path: FieldPath, k: string): FieldPath {
  return [...path, { key: k }];
}

/** `secrets[2].format`, `metadata.annotations[secrets-agent.io/mode]`; the root is ``. */
export function renderPath(path: FieldPath): string {
  let text = '';
  for (const s of path) {
    if (typeof s === 'number') text += `[${s}]`;
    else if (typeof s === 'string') text += text === '' ? s : `.${s}`;
    else text += `[${s.key}]`;
  }
  return text;
}

/** Whether two paths name the same field. */
export function samePath(a: FieldPath, b: FieldPath): boolean {
  return a.length === b.length && a.every((s, i) => sameSegment(s, b[i]));
}

function sameSegment(a: Segment, b: Segment | undefined): boolean {
  if (typeof a === 'object') return typeof b === 'object' && a.key === b.key;
  return a === b;
}
