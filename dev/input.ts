/**
 * Typed readers for awsJson1_1 request bodies. A body that is not a JSON object, or a member of
 * the wrong type, is a SerializationException (as AWS's JSON services answer); a member out of
 * range or missing is an InvalidParameterException.
 */
import { invalidParameter, serialization } from './aws-error.ts';

export type JsonObject = Readonly<Record<string, unknown>>;

export function parseJsonBody(body: string): JsonObject {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw serialization('Start of structure or map found where not expected.');
  }
  if (!isObject(parsed)) throw serialization('Start of structure or map found where not expected.');
  return parsed;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function optString(input: JsonObject, key: string): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw serialization(`${key} must be a string.`);
  return v;
}

export function reqString(input: JsonObject, key: string, max = 2048): string {
  const v = optString(input, key);
  if (v === undefined || v.length === 0) {
    throw invalidParameter(
      `1 validation error detected: Value at '${lowerFirst(key)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (v.length > max) {
    throw invalidParameter(
      `1 validation error detected: Value at '${lowerFirst(key)}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    );
  }
  return v;
}

export function optBoolean(input: JsonObject, key: string): boolean | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw serialization(`${key} must be a boolean.`);
  return v;
}

export function optInteger(
  input: JsonObject,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw serialization(`${key} must be an integer.`);
  if (v < min || v > max) {
    throw invalidParameter(
      `1 validation error detected: Value '${v}' at '${lowerFirst(key)}' failed to satisfy constraint: Member must have value between ${min} and ${max}`,
    );
  }
  return v;
}

export function optStringList(input: JsonObject, key: string): string[] | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw serialization(`${key} must be a list of strings.`);
  }
  return v;
}

export function optObjectList(input: JsonObject, key: string): JsonObject[] | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every(isObject))
    throw serialization(`${key} must be a list of structures.`);
  return v;
}

/** `SecretBinary` travels base64-encoded in JSON. */
export function optBlob(input: JsonObject, key: string): Buffer | undefined {
  const v = optString(input, key);
  if (v === undefined) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
    throw serialization(`${key} is not valid base64.`);
  }
  return Buffer.from(v, 'base64');
}

export interface Tag {
  readonly Key: string;
  readonly Value: string;
}

export function optTags(input: JsonObject, key: string): Tag[] | undefined {
  const list = optObjectList(input, key);
  if (list === undefined) return undefined;
  return list.map((t) => ({ Key: reqString(t, 'Key', 128), Value: optString(t, 'Value') ?? '' }));
}

export interface Filter {
  readonly Key: string;
  readonly Values: readonly string[];
}

const FILTER_KEYS = [
  'description',
  'name',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
];

export function optFilters(input: JsonObject): Filter[] | undefined {
  const list = optObjectList(input, 'Filters');
  if (list === undefined) return undefined;
  return list.map((f) => {
    const k = optString(f, 'Key');
    if (k === undefined || !FILTER_KEYS.includes(k)) {
      throw invalidParameter(
        `1 validation error detected: Value '${String(k)}' at 'filters.member.key' failed to satisfy constraint: Member must satisfy enum value set: [${FILTER_KEYS.join(', ')}]`,
      );
    }
    const values = optStringList(f, 'Values') ?? [];
    if (values.length === 0 || values.length > 10) {
      throw invalidParameter('Filter values must have between 1 and 10 items.');
    }
    return { Key: k, Values: values };
  });
}

/** A secret value from SecretString / SecretBinary, at most one. */
export type SecretValue =
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'binary'; readonly bytes: Buffer };

export function optSecretValue(input: JsonObject): SecretValue | undefined {
  const text = optString(input, 'SecretString');
  const bytes = optBlob(input, 'SecretBinary');
  if (text !== undefined && bytes !== undefined) {
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (text !== undefined) {
    if (text.length > 65536)
      throw invalidParameter('SecretString must be at most 65536 characters.');
    return { kind: 'string', text };
  }
  if (bytes !== undefined) {
    if (bytes.length === 0 || bytes.length > 65536)
      throw invalidParameter('SecretBinary must be 1 to 65536 bytes.');
    return { kind: 'binary', bytes };
  }
  return undefined;
}

export function sameValue(a: SecretValue, b: SecretValue): boolean {
  if (a.kind === 'string' && b.kind === 'string') return a.text === b.text;
  if (a.kind === 'binary' && b.kind === 'binary') return a.bytes.equals(b.bytes);
  return false;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
