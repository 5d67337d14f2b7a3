/**
 * JSON text read only where it is read. An AdmissionReview carries a whole pod (up to the API
 * server's 3 MiB), and the injector reads a few parts of it: the annotations, the containers'
 * names, env, mounts and ports, the volumes' names (POD_SHAPE in types.ts). `parsePartial` checks the whole text is JSON (what
 * `JSON.parse` accepts, nesting bounded) but builds values only along a shape; every other
 * object or array stays a `RawJson`, its text, and travels into the patch as that text. So a
 * pod holding a million `tolerations: [{}, …]` costs one pass over its bytes and no objects.
 */

/**
 * JSON text read only where it is read. An AdmissionReview carries a whole pod (up to the API
 * server's 3 MiB), and the injector reads a few parts of it: the annotations, the containers'
 * names, env, mounts and ports, the volumes' names (POD_SHAPE in types.ts). `parsePartial`
 * checks the whole text is JSON (what `JSON.parse` accepts, nesting bounded) but builds values
 * only along a shape; every other object or array stays a `RawJson`, its text, and travels into
 * the patch as that text. So a pod holding a million `tolerations: [{}, …]` costs one pass over
 * its bytes and no objects.
 *
 * What it builds, it builds within bounds given by the shape, checked before the item that would
 * pass them is built: a list shape's `maxItems`, a map shape's `maxLength`, and
 * MAX_BUILT_LIST_ITEMS for any list inside a value built whole. Past a bound it throws a
 * JsonBoundError naming the field, so no input makes it build more than the shape allows.
 */

/** An object or array the reader was not asked to build: its JSON text, verbatim. */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  /**
   * What `JSON.stringify` writes for it, when a caller other than stringifyJson meets one: the
   * value its text holds (stringifyJson writes the text itself, without building it).
   */
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/** A plain object: not null, not an array, not a RawJson. */
export function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof RawJson)
  );
}

/**
 * What to build. `'all'`: the whole value (any list in it at most MAX_BUILT_LIST_ITEMS long).
 * An object shape: a plain object whose members named in `fields` follow their shape, the others
 * built when they are strings, numbers, booleans or null and kept as RawJson when they are
 * objects or arrays; `whole` decides, once the object is read, to build all of it after all. A
 * list shape: an array of at most `maxItems` items, each following `items`. A map shape: an
 * object whose members all follow `values`, their names and string values (or text) at most
 * `maxLength` characters together. A value whose type does not match its shape (an array where
 * an object was expected) stays RawJson, which the shape checks after this reject as the wrong
 * type.
 */
export type Shape = 'all' | ObjectShape | ListShape | MapShape;

export interface ObjectShape {
  readonly fields: ReadonlyMap<string, Shape>;
  readonly whole?: (value: Readonly<Record<string, unknown>>) => boolean;
}

export interface ListShape {
  readonly items: Shape;
  readonly maxItems: number;
}

export interface MapShape {
  readonly values: Shape;
  readonly maxLength: number;
}

/** Deeper than this is refused (Go's encoding/json, which the API server writes with, stops at 10,000). */
export const MAX_JSON_DEPTH = 10_000;

/**
 * The longest list inside a value built whole (`'all'`, or an object shape's `whole`): a
 * container's `args`, a security context's capabilities, an env var's parts. Lists the
 * injector reads item by item have their own bound (a list shape's `maxItems`).
 */
export const MAX_BUILT_LIST_ITEMS = 1024;

/** The text is not JSON. The message says where, never what the text holds (a pod's content). */
export class JsonSyntaxError extends Error {
  readonly code = 'JSON_SYNTAX';
  readonly offset: number;
  constructor(offset: number, reason = 'unexpected character') {
    super(`${reason} at offset ${offset}`);
    this.name = 'JsonSyntaxError';
    this.offset = offset;
  }
}

/**
 * A value the shape asks to build is past its bound: `path` names the field as JSON paths are
 * written (`request.object.spec.containers[0].env`); the message says which bound.
 */
export class JsonBoundError extends Error {
  readonly code = 'JSON_BOUND';
  readonly path: string;
  constructor(path: string, bound: string) {
    super(`${path} ${bound}`);
    this.name = 'JsonBoundError';
    this.path = path;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** The escapes JSON allows after a backslash (`u` is followed by four hex digits). */
function isEscape(c: number): boolean {
  // " \ / b f n r t u
  return (
    c === QUOTE ||
    c === BACKSLASH ||
    c === 0x2f ||
    c === 0x62 ||
    c === 0x66 ||
    c === 0x6e ||
    c === 0x72 ||
    c === 0x74 ||
    c === 0x75
  );
}

/** Thrown where the text stops being JSON; `reason` never quotes the text. */
function fail(t: string, i: number, reason = 'unexpected character'): never {
  throw new JsonSyntaxError(i, i >= t.length ? 'unexpected end' : reason);
}

// The scanners below take the text and a position and return the position past what they
// scanned: plain loops over char codes, nothing built.

/** Past JSON whitespace (space, tab, line feed, carriage return). */
function skipWs(t: string, i: number): number {
  for (;;) {
    const c = t.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/**
 * What one read keeps while it scans: whether the last string passed held an escape (so decoding
 * it needs JSON.parse), the objects and arrays open around the position, and the longest list a
 * scan passed. Each Reader has its own: nothing is shared between reads.
 */
class ScanState {
  escaped = false;
  longestList = 0;
  readonly nesting = new Nesting();
}

/** Past a string, from its opening quote; `state.escaped` says whether it held an escape. */
function skipString(t: string, i: number, state: ScanState): number {
  if (t.charCodeAt(i) !== QUOTE) fail(t, i);
  i++;
  let escaped = false;
  for (;;) {
    const c = t.charCodeAt(i);
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      escaped = true;
      const e = t.charCodeAt(i + 1);
      if (!isEscape(e)) fail(t, i + 1, 'bad escape');
      if (e === 0x75) {
        for (let k = 2; k < 6; k++) if (!isHex(t.charCodeAt(i + k))) fail(t, i + k, 'bad escape');
        i += 6;
      } else i += 2;
    } else if (c >= 0x20) i++;
    // A control character must be escaped; NaN (past the end) is an unterminated string.
    else fail(t, i, Number.isNaN(c) ? 'unterminated string' : 'control character in string');
  }
  state.escaped = escaped;
  return i + 1;
}

function skipDigits(t: string, i: number): number {
  if (!isDigit(t.charCodeAt(i))) fail(t, i, 'bad number');
  while (isDigit(t.charCodeAt(i))) i++;
  return i;
}

function skipNumber(t: string, i: number): number {
  if (t.charCodeAt(i) === MINUS) i++;
  if (t.charCodeAt(i) === ZERO) i++;
  else i = skipDigits(t, i);
  if (t.charCodeAt(i) === DOT) i = skipDigits(t, i + 1);
  const e = t.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    i++;
    const sign = t.charCodeAt(i);
    if (sign === PLUS || sign === MINUS) i++;
    i = skipDigits(t, i);
  }
  return i;
}

/** Past a string, number, true, false or null. */
function skipScalar(t: string, i: number, state: ScanState): number {
  const c = t.charCodeAt(i);
  if (c === QUOTE) return skipString(t, i, state);
  if (c === 0x74) return skipWord(t, i, 'true');
  if (c === 0x66) return skipWord(t, i, 'false');
  if (c === 0x6e) return skipWord(t, i, 'null');
  return skipNumber(t, i);
}

function skipWord(t: string, i: number, word: string): number {
  if (!t.startsWith(word, i)) fail(t, i);
  return i + word.length;
}

/** Past a member name and its colon, up to the value. */
function skipMemberName(t: string, i: number, state: ScanState): number {
  i = skipWs(t, skipString(t, i, state));
  if (t.charCodeAt(i) !== COLON) fail(t, i);
  return skipWs(t, i + 1);
}

/** Past whitespace, if any: the common case (none) without a call. */
function ws(t: string, i: number): number {
  return t.charCodeAt(i) <= 0x20 ? skipWs(t, i) : i;
}

/**
 * The objects and arrays open around a position: a stack of 1 (object) and 2 (array), and for
 * each the items passed so far (arrays' lengths, for the longest list).
 */
class Nesting {
  private stack = new Uint8Array(64);
  private items = new Uint32Array(64);
  depth = 0;

  push(isObject: boolean, t: string, i: number): void {
    if (this.depth >= MAX_JSON_DEPTH) fail(t, i, `nested deeper than ${MAX_JSON_DEPTH} levels`);
    if (this.depth === this.stack.length) {
      const grown = new Uint8Array(this.stack.length * 2);
      grown.set(this.stack);
      this.stack = grown;
      const items = new Uint32Array(this.items.length * 2);
      items.set(this.items);
      this.items = items;
    }
    this.items[this.depth] = 1;
    this.stack[this.depth++] = isObject ? 1 : 2;
  }

  inObject(): boolean {
    return this.stack[this.depth - 1] === 1;
  }

  /** One more item in the innermost array; returns how many it has passed. */
  next(): number {
    const at = this.depth - 1;
    const n = (this.items[at] ?? 0) + 1;
    this.items[at] = n;
    return n;
  }
}

/**
 * Past an object or array, its grammar checked: a loop over what is open (Nesting), never
 * recursion, so no depth overflows the call stack. Empty ones (`{}`, `[]`) are passed as one
 * token, never pushed. The longest array passed is left in `state.longestList`.
 */
function skipComposite(t: string, i: number, state: ScanState): number {
  const open = state.nesting;
  open.depth = 0;
  let longest = 0;
  for (;;) {
    // At the start of a value.
    const c = t.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const isObject = c === OPEN_BRACE;
      i = ws(t, i + 1);
      if (t.charCodeAt(i) === (isObject ? CLOSE_BRACE : CLOSE_BRACKET)) i++;
      else {
        open.push(isObject, t, i);
        if (isObject) i = skipMemberName(t, i, state);
        else if (longest === 0) longest = 1;
        continue;
      }
    } else i = skipScalar(t, i, state);
    // After a value: close what is complete, or go on to the next item.
    for (;;) {
      if (open.depth === 0) {
        state.longestList = longest;
        return i;
      }
      i = ws(t, i);
      const next = t.charCodeAt(i);
      const inObject = open.inObject();
      if (next === COMMA) {
        i = ws(t, i + 1);
        if (inObject) i = skipMemberName(t, i, state);
        else {
          const n = open.next();
          if (n > longest) longest = n;
        }
        break;
      }
      if (next !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) fail(t, i);
      i++;
      open.depth--;
    }
  }
}

/** A path of member names and indexes as JSON paths are written: `spec.containers[0].env`. */
function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      // A member name is the sender's: shown short.
      const name = part.length > 64 ? `${part.slice(0, 63)}…` : part;
      out += out === '' ? name : `.${name}`;
    }
  }
  return out === '' ? 'the document' : out;
}

/** Builds along a shape; what it does not build, it skips with the scanners above. */
class Reader {
  private i = 0;
  private readonly text: string;
  private readonly state = new ScanState();
  /** Where the value being built is: member names and indexes from the document down. */
  private readonly path: (string | number)[] = [];

  constructor(text: string) {
    this.text = text;
  }

  document(shape: Shape): unknown {
    this.i = skipWs(this.text, 0);
    const value = this.value(shape);
    this.i = skipWs(this.text, this.i);
    if (this.i !== this.text.length) fail(this.text, this.i);
    return value;
  }

  private bound(bound: string): never {
    throw new JsonBoundError(formatPath(this.path), bound);
  }

  private value(shape: Shape | undefined): unknown {
    const t = this.text;
    const start = this.i;
    const c = t.charCodeAt(start);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) return this.composite(shape, c === OPEN_BRACE);
    if (c === QUOTE) {
      this.i = skipString(t, start, this.state);
      return this.state.escaped
        ? JSON.parse(t.slice(start, this.i))
        : t.slice(start + 1, this.i - 1);
    }
    // A literal, or a number read as JSON.parse reads it (skipNumber checked its grammar).
    if (c === 0x74) {
      this.i = skipWord(t, start, 'true');
      return true;
    }
    if (c === 0x66) {
      this.i = skipWord(t, start, 'false');
      return false;
    }
    if (c === 0x6e) {
      this.i = skipWord(t, start, 'null');
      return null;
    }
    this.i = skipNumber(t, start);
    return Number(t.slice(start, this.i));
  }

  /** An object or array: built along its shape, built whole, or kept as its text. */
  private composite(shape: Shape | undefined, isObject: boolean): unknown {
    if (shape !== undefined && shape !== 'all') {
      if (isObject && 'fields' in shape) return this.object(shape);
      if (isObject && 'values' in shape) return this.map(shape);
      if (!isObject && 'items' in shape) return this.list(shape);
    }
    const start = this.i;
    this.i = skipComposite(this.text, start, this.state);
    const text = this.text.slice(start, this.i);
    if (shape !== 'all') return new RawJson(text);
    this.checkBuiltLists();
    return JSON.parse(text);
  }

  /** After a scan, before the value scanned is built whole: no list in it past the bound. */
  private checkBuiltLists(): void {
    if (this.state.longestList > MAX_BUILT_LIST_ITEMS)
      this.bound(`holds a list of more than ${MAX_BUILT_LIST_ITEMS} items`);
  }

  /** A member name, decoded. */
  private memberName(): string {
    const t = this.text;
    const keyStart = this.i;
    const keyEnd = skipString(t, keyStart, this.state);
    const key = this.state.escaped
      ? (JSON.parse(t.slice(keyStart, keyEnd)) as string)
      : t.slice(keyStart + 1, keyEnd - 1);
    this.i = skipWs(t, keyEnd);
    if (t.charCodeAt(this.i) !== COLON) fail(t, this.i);
    this.i = skipWs(t, this.i + 1);
    return key;
  }

  /** Past a member's value: true at the object's end, false before the next member. */
  private afterMember(): boolean {
    const t = this.text;
    this.i = skipWs(t, this.i);
    const c = t.charCodeAt(this.i);
    if (c === CLOSE_BRACE) {
      this.i++;
      return true;
    }
    if (c !== COMMA) fail(t, this.i);
    this.i = skipWs(t, this.i + 1);
    return false;
  }

  /** Members of an object from its `{`, each value read by `member`. */
  private members(member: (key: string) => unknown): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i = skipWs(this.text, this.i + 1);
    if (this.text.charCodeAt(this.i) === CLOSE_BRACE) {
      this.i++;
      return out;
    }
    do {
      const key = this.memberName();
      this.path.push(key);
      const value = member(key);
      this.path.pop();
      // As JSON.parse does: an own "__proto__" member, never the prototype; the last of
      // duplicate keys wins.
      if (key === '__proto__')
        Object.defineProperty(out, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else out[key] = value;
    } while (!this.afterMember());
    return out;
  }

  private object(shape: ObjectShape): Record<string, unknown> {
    const start = this.i;
    const out = this.members((key) => this.value(shape.fields.get(key)));
    if (shape.whole?.(out) !== true) return out;
    // Built whole after all: scanned again first, so no list in it is built past the bound.
    const text = this.text.slice(start, this.i);
    skipComposite(text, 0, this.state);
    this.checkBuiltLists();
    return JSON.parse(text) as Record<string, unknown>;
  }

  /** An object of members of one shape, names and values within `maxLength` characters. */
  private map(shape: MapShape): Record<string, unknown> {
    let length = 0;
    return this.members((key) => {
      const start = this.i;
      const value = this.value(shape.values);
      length += key.length + (typeof value === 'string' ? value.length : this.i - start);
      if (length > shape.maxLength) {
        this.path.pop(); // the map's own path names the bound
        this.bound(`holds more than ${shape.maxLength} characters`);
      }
      return value;
    });
  }

  private list(shape: ListShape): unknown[] {
    const t = this.text;
    const out: unknown[] = [];
    this.i = skipWs(t, this.i + 1);
    if (t.charCodeAt(this.i) === CLOSE_BRACKET) {
      this.i++;
      return out;
    }
    for (;;) {
      // The bound is checked before the item past it is built.
      if (out.length === shape.maxItems) this.bound(`has more than ${shape.maxItems} items`);
      this.path.push(out.length);
      out.push(this.value(shape.items));
      this.path.pop();
      this.i = skipWs(t, this.i);
      const c = t.charCodeAt(this.i);
      if (c === CLOSE_BRACKET) {
        this.i++;
        return out;
      }
      if (c !== COMMA) fail(t, this.i);
      this.i = skipWs(t, this.i + 1);
    }
  }
}

/**
 * Builds `text` along `shape`; throws JsonSyntaxError when the text is not JSON, JsonBoundError
 * when what the shape builds is past one of its bounds.
 */
export function parsePartial(text: string, shape: Shape): unknown {
  return new Reader(text).document(shape);
}

/** An object shape from a plain record of member shapes. */
export function objectShape(
  fields: Readonly<Record<string, Shape>>,
  whole?: ObjectShape['whole'],
): ObjectShape {
  return { fields: new Map(Object.entries(fields)), ...(whole === undefined ? {} : { whole }) };
}

/**
 * A value as JSON text, as `JSON.stringify` writes it, with each RawJson written as its text.
 * Only plain data is expected: objects, arrays, strings, numbers, booleans, null.
 */
export function stringifyJson(value: unknown): string {
  return holdsRaw(value) ? withRaw(value) : (JSON.stringify(value) ?? 'null');
}

/**
 * Whether a RawJson is anywhere in the value: a walk with a stack of its own (values built
 * whole may be nested thousands deep), over what the reader built (never a RawJson's text).
 */
function holdsRaw(value: unknown): boolean {
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const v = todo.pop();
    if (v instanceof RawJson) return true;
    if (typeof v !== 'object' || v === null) continue;
    for (const item of Array.isArray(v) ? v : Object.values(v)) todo.push(item);
  }
  return false;
}

function withRaw(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (typeof value !== 'object' || value === null || !holdsRaw(value))
    return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    const items = value.map((v: unknown) =>
      v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 'null' : withRaw(v),
    );
    return `[${items.join(',')}]`;
  }
  const members: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    members.push(`${JSON.stringify(k)}:${withRaw(v)}`);
  }
  return `{${members.join(',')}}`;
}
