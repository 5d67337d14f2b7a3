/**
 * The JSON patch between the admitted pod and the mutated one, computed by diffing (never built
 * by hand: hand-built patches get array indexes wrong once other webhooks have been at work).
 *
 * Only what the injector touches is diffed: the annotations, the containers, the init
 * containers and the volumes. The rest of the mutated pod is the admitted pod's own objects,
 * passed through by reference, so it cannot differ; and within the touched parts, a subtree
 * the mutation kept is the same object on both sides and is skipped without a look.
 *
 * The diff goes into what the injector reads (POD_SHAPE: the annotations, the containers' env,
 * mounts, ports and security contexts, its own containers and volumes whole) as
 * fast-json-patch's `compare` does, in its order, with one difference: a list of named items
 * (containers, init containers, volumes, env vars) is matched by name, not by index. So the
 * agent's init container put first is one `add` at index 0, and each app init container it
 * moves down is matched with itself: nothing, however large, not one operation per field or
 * item. Any other object or array (a container's `command`, `args`, `resources`…) is one value:
 * kept, or replaced whole when its JSON differs, never looked into; a review read as text
 * (where those parts stay RawJson, partial-json.ts) gets the same patch as one parsed whole.
 *
 * The patch is therefore bounded by what the injector changes: an `add` per part it adds (its
 * containers, volumes, the status annotation), per env var and mount it adds to a target
 * container, and a `replace` or `remove` per part of its own it repairs; never by the size of
 * the parts it leaves alone.
 */
import { RawJson, stringifyJson, type Shape } from './partial-json.ts';
import { POD_SHAPE } from './types.ts';
import type { Pod } from './types.ts';

export type PatchOperation =
  | { readonly op: 'add' | 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** The parts of a pod the injector may change, by path: metadata.annotations, and the spec lists. */
const TOUCHED: Readonly<Partial<Record<string, readonly string[]>>> = {
  metadata: ['annotations'],
  spec: ['containers', 'initContainers', 'volumes'],
};

/**
 * The touched parts of a pod, in the pod's own key order (the patch's order follows it). The
 * mutation spreads the admitted objects, so the mutated pod keeps the admitted pod's order, with
 * fields it added last.
 */
function touched(pod: Pod): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(pod)) {
    const part = pod[key];
    const fields = TOUCHED[key];
    if (fields === undefined || !isObjectNode(part)) continue;
    const picked: Record<string, unknown> = {};
    for (const field of Object.keys(part)) if (fields.includes(field)) picked[field] = part[field];
    out[key] = picked;
  }
  return out;
}

/** The patch that turns `original` into `mutated`, a mutation of it by the injector. */
export function computePatch(original: Pod, mutated: Pod): readonly PatchOperation[] {
  const ops: PatchOperation[] = [];
  diff(touched(original), touched(mutated), ops, '', POD_SHAPE);
  return ops;
}

type Node = Record<string, unknown> | unknown[];

function isObjectNode(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object or array; a RawJson is a leaf. */
function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !(value instanceof RawJson);
}

function keysOf(node: Node): string[] {
  return Array.isArray(node) ? node.map((_, i) => String(i)) : Object.keys(node);
}

function at(node: Node, key: string): unknown {
  return (node as Record<string, unknown>)[key];
}

function escapeKey(key: string): string {
  if (!key.includes('/') && !key.includes('~')) return key;
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * A value as the patch carries it: the mutated pod's own (nothing writes to either), undefined
 * as null, as JSON writes an array's holes.
 */
function carried(v: unknown): unknown {
  return v === undefined ? null : v;
}

/**
 * How to diff the members of `old` and `now` under `shape`: `'all'` all the way down, an object
 * shape's fields, a list shape's items; undefined for a member the shape does not name (a leaf).
 * An object shape's `whole` parts (the injector's own containers and volumes) are diffed all the
 * way down when both sides are such parts.
 */
function memberShape(shape: Shape, old: Node, now: Node, key: string): Shape | undefined {
  if (shape === 'all') return 'all';
  if ('items' in shape) return shape.items;
  if ('values' in shape) return shape.values;
  const whole =
    shape.whole !== undefined &&
    !Array.isArray(old) &&
    !Array.isArray(now) &&
    shape.whole(old) &&
    shape.whole(now);
  return whole ? 'all' : shape.fields.get(key);
}

/** Two values compared as one: the same JSON text (a RawJson is its text). */
function sameLeaf(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!(typeof a === 'object' && a !== null && typeof b === 'object' && b !== null)) return false;
  return stringifyJson(a) === stringifyJson(b);
}

/** fast-json-patch's `_generate` along a shape: old keys last to first, then new keys. */
function diff(old: Node, now: Node, ops: PatchOperation[], path: string, shape: Shape): void {
  if (old === now) return;
  if (Array.isArray(old) && Array.isArray(now) && isNamedList(old) && isNamedList(now)) {
    diffNamed(old, now, ops, path, shape);
    return;
  }
  const oldKeys = keysOf(old);
  const newKeys = keysOf(now);
  const nowIsArray = Array.isArray(now);
  let deleted = false;
  for (let t = oldKeys.length - 1; t >= 0; t--) {
    const key = oldKeys[t] as string;
    if (kept(old, now, key)) diffMember(old, now, key, ops, path, shape);
    else if (Array.isArray(old) === nowIsArray) {
      ops.push({ op: 'remove', path: `${path}/${escapeKey(key)}` });
      deleted = true;
    } else ops.push({ op: 'replace', path, value: carried(now) });
  }
  if (!deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    if (!Object.hasOwn(old, key) && at(now, key) !== undefined)
      ops.push({ op: 'add', path: `${path}/${escapeKey(key)}`, value: carried(at(now, key)) });
  }
}

/** The key is still there (an object member set to undefined counts as gone). */
function kept(old: Node, now: Node, key: string): boolean {
  if (!Object.hasOwn(now, key)) return false;
  return !(at(now, key) === undefined && at(old, key) !== undefined && !Array.isArray(now));
}

/**
 * One member both sides have: diffed into along its shape, or compared as one value. The same
 * value on both sides (most of a pod) is passed without building its path.
 */
function diffMember(
  old: Node,
  now: Node,
  key: string,
  ops: PatchOperation[],
  path: string,
  shape: Shape,
): void {
  const oldValue = at(old, key);
  const newValue = at(now, key);
  if (oldValue === newValue) return;
  const here = `${path}/${escapeKey(key)}`;
  const inner = memberShape(shape, old, now, key);
  if (inner === undefined) {
    if (!sameLeaf(oldValue, newValue))
      ops.push({ op: 'replace', path: here, value: carried(newValue) });
  } else if (
    isNode(oldValue) &&
    isNode(newValue) &&
    Array.isArray(oldValue) === Array.isArray(newValue)
  )
    diff(oldValue, newValue, ops, here, inner);
  else if (oldValue !== newValue) ops.push({ op: 'replace', path: here, value: carried(newValue) });
}

type Named = Readonly<Record<string, unknown>> & { readonly name: string };

function isNamedList(list: readonly unknown[]): list is readonly Named[] {
  return list.every(
    (item) =>
      typeof item === 'object' &&
      item !== null &&
      !Array.isArray(item) &&
      !(item instanceof RawJson) &&
      typeof (item as Record<string, unknown>)['name'] === 'string',
  );
}

/**
 * Two lists of named items, matched by name (matchByName): the matched pairs diffed into at
 * their old index, last to first; then the old items left unmatched removed, last to first;
 * then the new ones added at their index, first to last. Each step's paths hold where it runs:
 * the diffs and removals on the old list, each addition on a list whose items before it are
 * final.
 */
function diffNamed(
  old: readonly Named[],
  now: readonly Named[],
  ops: PatchOperation[],
  path: string,
  shape: Shape,
): void {
  const pairs = matchByName(old, now);
  const oldMatched = new Set<number>();
  const newMatched = new Set<number>();
  for (let p = pairs.length - 1; p >= 0; p--) {
    const [o, n] = pairs[p] as readonly [number, number];
    oldMatched.add(o);
    newMatched.add(n);
    const before = old[o] as Named;
    const after = now[n] as Named;
    if (before === after) continue;
    const inner = memberShape(shape, old as Node, now as Node, String(o));
    if (inner === undefined) {
      if (!sameLeaf(before, after)) ops.push({ op: 'replace', path: `${path}/${o}`, value: after });
    } else diff(before, after, ops, `${path}/${o}`, inner);
  }
  for (let o = old.length - 1; o >= 0; o--)
    if (!oldMatched.has(o)) ops.push({ op: 'remove', path: `${path}/${o}` });
  for (let n = 0; n < now.length; n++)
    if (!newMatched.has(n)) ops.push({ op: 'add', path: `${path}/${n}`, value: now[n] });
}

/** The most cells the matching of two lists' middles may take; past it, nothing is matched there. */
const MAX_MATCH_CELLS = 1 << 16;

/**
 * Pairs of indexes (old, new) of items with the same name, in order, as many as can be: the
 * common head and tail, then the longest common subsequence of the rest (the mutation removes
 * and inserts items, and never reorders the others, so the rest is small: the agent's own).
 * A middle too large to match (MAX_MATCH_CELLS) is removed and added whole: still one
 * operation per item the injector touched there, never one per field.
 */
function matchByName(old: readonly Named[], now: readonly Named[]): (readonly [number, number])[] {
  const pairs: (readonly [number, number])[] = [];
  let head = 0;
  while (head < old.length && head < now.length && old[head]?.name === now[head]?.name) {
    pairs.push([head, head]);
    head++;
  }
  let tail = 0;
  while (
    tail < old.length - head &&
    tail < now.length - head &&
    old[old.length - 1 - tail]?.name === now[now.length - 1 - tail]?.name
  )
    tail++;
  const m = old.length - head - tail;
  const n = now.length - head - tail;
  if (m > 0 && n > 0 && (m + 1) * (n + 1) <= MAX_MATCH_CELLS)
    pairs.push(...commonSubsequence(old, now, head, m, n));
  for (let k = tail; k > 0; k--) pairs.push([old.length - k, now.length - k]);
  return pairs;
}

/** The longest common subsequence, by name, of old[head, head+m) and now[head, head+n). */
function commonSubsequence(
  old: readonly Named[],
  now: readonly Named[],
  head: number,
  m: number,
  n: number,
): (readonly [number, number])[] {
  // lengths[i * (n + 1) + j]: the longest common subsequence of the suffixes from i and j.
  const lengths = new Uint16Array((m + 1) * (n + 1));
  const at = (i: number, j: number): number => lengths[i * (n + 1) + j] ?? 0;
  for (let i = m - 1; i >= 0; i--)
    for (let j = n - 1; j >= 0; j--)
      lengths[i * (n + 1) + j] =
        old[head + i]?.name === now[head + j]?.name
          ? at(i + 1, j + 1) + 1
          : Math.max(at(i + 1, j), at(i, j + 1));
  const pairs: (readonly [number, number])[] = [];
  for (let i = 0, j = 0; i < m && j < n;) {
    if (old[head + i]?.name === now[head + j]?.name) {
      pairs.push([head + i, head + j]);
      i++;
      j++;
    } else if (at(i + 1, j) >= at(i, j + 1)) i++;
    else j++;
  }
  return pairs;
}

declare const BASE64: unique symbol;
/** Base64 text, as encodePatch writes it: JSON holds it as it is, with nothing to escape. */
export type Base64 = string & { readonly [BASE64]: true };

/** The patch as the `patch` field of an AdmissionResponse wants it. */
export function encodePatch(patch: readonly PatchOperation[]): Base64 {
  return Buffer.from(stringifyJson(patch)).toString('base64') as Base64;
}
