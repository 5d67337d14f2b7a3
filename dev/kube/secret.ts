/**
 * The Secret wire type, the stored form (data as bytes), decoding a request body into a typed
 * input (with the decoder's 400 messages), and JSON merge patch (RFC 7386).
 */
import type { OwnerReference, SecretShape } from './validation.ts';

export type { OwnerReference } from './validation.ts';

export interface SecretMetadata {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly creationTimestamp: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly OwnerReference[];
}

/** A Secret as the API returns it. */
export interface Secret {
  readonly apiVersion: 'v1';
  readonly kind: 'Secret';
  readonly metadata: SecretMetadata;
  readonly immutable?: boolean;
  readonly data?: Readonly<Record<string, string>>;
  readonly type: string;
}

/** What the server keeps: data as bytes. */
export interface StoredSecret extends SecretShape {
  readonly namespace: string;
  readonly resourceVersion: string;
  readonly creationTimestamp: string;
}

/** A decoded request body (stringData already merged into data, type defaulted). */
export interface SecretInput extends SecretShape {
  readonly namespace: string | undefined;
  readonly resourceVersion: string;
}

export type Decoded<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const CANNOT = 'Secret in version "v1" cannot be handled as a Secret: ';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

class DecodeError extends Error {}

function mismatch(v: unknown, field: string, goType: string): DecodeError {
  return new DecodeError(
    `json: cannot unmarshal ${jsonType(v)} into Go struct field ${field} of type ${goType}`,
  );
}

function optString(obj: Record<string, unknown>, key: string, field: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw mismatch(v, field, 'string');
  return v;
}

function stringMap(v: unknown, field: string, goType = 'string'): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw mismatch(v, field, `map[string]${goType}`);
  const out: Record<string, string> = {};
  for (const [k, item] of Object.entries(v)) {
    if (item === null) continue;
    if (typeof item !== 'string') throw mismatch(item, field, goType);
    out[k] = item;
  }
  return out;
}

const B64_ALPHABET = /[A-Za-z0-9+/]/;

/**
 * Go's base64.StdEncoding: padded, CR/LF ignored. Returns the bytes, or the input offset Go's
 * CorruptInputError would name (approximately: first bad character, else the short quantum).
 */
export function decodeBase64(text: string): Buffer | number {
  const chars: { c: string; i: number }[] = [];
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charAt(i);
    if (c !== '\r' && c !== '\n') chars.push({ c, i });
  }
  const firstPad = chars.findIndex(({ c }) => c === '=');
  const body = firstPad === -1 ? chars : chars.slice(0, firstPad);
  const bad = body.find(({ c }) => !B64_ALPHABET.test(c));
  if (bad !== undefined) return bad.i;
  if (firstPad !== -1) {
    const pads = chars.slice(firstPad);
    const stray = pads.find(({ c }) => c !== '=');
    if (stray !== undefined || pads.length > 2) return (stray ?? pads[2] ?? pads[0])?.i ?? 0;
  }
  if (chars.length % 4 !== 0) return chars[chars.length - (chars.length % 4)]?.i ?? 0;
  return Buffer.from(chars.map(({ c }) => c).join(''), 'base64');
}

function decodeData(v: unknown): Record<string, Buffer> {
  const encoded = stringMap(v, 'Secret.data', '[]uint8');
  const out: Record<string, Buffer> = {};
  for (const [key, text] of Object.entries(encoded)) {
    const bytes = decodeBase64(text);
    if (typeof bytes === 'number')
      throw new DecodeError(`illegal base64 data at input byte ${bytes}`);
    out[key] = bytes;
  }
  return out;
}

function decodeMetadata(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw mismatch(v, 'Secret.metadata', 'v1.ObjectMeta');
  return v;
}

function decodeOwnerReferences(v: unknown): OwnerReference[] {
  if (v === undefined || v === null) return [];
  const field = 'Secret.metadata.ownerReferences';
  if (!Array.isArray(v)) throw mismatch(v, field, '[]v1.OwnerReference');
  return v.map((item: unknown) => {
    if (!isRecord(item)) throw mismatch(item, field, 'v1.OwnerReference');
    const flag = (key: string): boolean | undefined => {
      const b = item[key];
      if (b === undefined || b === null) return undefined;
      if (typeof b !== 'boolean') throw mismatch(b, `${field}.${key}`, 'bool');
      return b;
    };
    const [controller, blockOwnerDeletion] = [flag('controller'), flag('blockOwnerDeletion')];
    return {
      apiVersion: optString(item, 'apiVersion', `${field}.apiVersion`) ?? '',
      kind: optString(item, 'kind', `${field}.kind`) ?? '',
      name: optString(item, 'name', `${field}.name`) ?? '',
      uid: optString(item, 'uid', `${field}.uid`) ?? '',
      ...(controller === undefined ? {} : { controller }),
      ...(blockOwnerDeletion === undefined ? {} : { blockOwnerDeletion }),
    };
  });
}

function decodeInput(body: unknown): SecretInput {
  if (!isRecord(body)) throw mismatch(body, 'Secret', 'v1.Secret');
  const kind = optString(body, 'kind', 'Secret.kind');
  if (kind !== undefined && kind !== 'Secret')
    throw new DecodeError(`the object provided is a ${kind}, not a Secret`);
  const meta = decodeMetadata(body.metadata);
  const immutable = body.immutable;
  if (immutable !== undefined && immutable !== null && typeof immutable !== 'boolean')
    throw mismatch(immutable, 'Secret.immutable', 'bool');
  const data = decodeData(body.data);
  for (const [k, text] of Object.entries(stringMap(body.stringData, 'Secret.stringData')))
    data[k] = Buffer.from(text, 'utf8');
  return {
    name: optString(meta, 'name', 'Secret.metadata.name') ?? '',
    namespace: optString(meta, 'namespace', 'Secret.metadata.namespace'),
    uid: optString(meta, 'uid', 'Secret.metadata.uid') ?? '',
    resourceVersion: optString(meta, 'resourceVersion', 'Secret.metadata.resourceVersion') ?? '',
    labels: stringMap(meta.labels, 'Secret.metadata.labels'),
    annotations: stringMap(meta.annotations, 'Secret.metadata.annotations'),
    ownerReferences: decodeOwnerReferences(meta.ownerReferences),
    type: optString(body, 'type', 'Secret.type') || 'Opaque',
    data,
    immutable: typeof immutable === 'boolean' ? immutable : undefined,
  };
}

/** Parsed JSON → typed input, or the decoder's BadRequest message. */
export function decodeSecret(body: unknown): Decoded<SecretInput> {
  try {
    return { ok: true, value: decodeInput(body) };
  } catch (err) {
    if (err instanceof DecodeError) return { ok: false, message: CANNOT + err.message };
    throw err;
  }
}

export function parseJson(text: string): Decoded<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, message: `${CANNOT}invalid JSON: ${(err as Error).message}` };
  }
}

const nonEmpty = <T>(record: Readonly<Record<string, T>>): boolean =>
  Object.keys(record).length > 0;

export function toWire(s: StoredSecret): Secret {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data)) data[k] = v.toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: s.name,
      namespace: s.namespace,
      uid: s.uid,
      resourceVersion: s.resourceVersion,
      creationTimestamp: s.creationTimestamp,
      ...(nonEmpty(s.labels) ? { labels: { ...s.labels } } : {}),
      ...(nonEmpty(s.annotations) ? { annotations: { ...s.annotations } } : {}),
      ...(s.ownerReferences.length > 0
        ? { ownerReferences: s.ownerReferences.map((r) => ({ ...r })) }
        : {}),
    },
    ...(s.immutable === undefined ? {} : { immutable: s.immutable }),
    ...(nonEmpty(data) ? { data } : {}),
    type: s.type,
  };
}

/** RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, the rest replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) Reflect.deleteProperty(out, key);
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

const sameMap = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([k, v]) => b[k] === v);

/** Whether an update would store nothing new (the API then keeps the resourceVersion). */
export function unchanged(next: SecretShape, old: SecretShape, sameData: boolean): boolean {
  return (
    sameData &&
    next.type === old.type &&
    next.immutable === old.immutable &&
    sameMap(next.labels, old.labels) &&
    sameMap(next.annotations, old.annotations) &&
    JSON.stringify(next.ownerReferences) === JSON.stringify(old.ownerReferences)
  );
}
