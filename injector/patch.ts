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
 * fast-json-patch's `compare` does, in its order (the golden patches were made with it). Any
 * other object or array (a container's `command`, `args`, `resources`…) is one value: kept, or replaced whole when its JSON differs,
 * never looked into. So an init container moved one place down by the agent's costs one
 * replacement per field, however large, and a review read as text (where those parts stay
 * RawJson, partial-json.ts) gets the same patch as one parsed whole.
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

declare const BASE64: unique symbol;
/** Base64 text, as encodePatch writes it: JSON holds it as it is, with nothing to escape. */
export type Base64 = string & { readonly [BASE64]: true };

/** The patch as the `patch` field of an AdmissionResponse wants it. */
export function encodePatch(patch: readonly PatchOperation[]): Base64 {
  return Buffer.from(stringifyJson(patch)).toString('base64') as Base64;
}
