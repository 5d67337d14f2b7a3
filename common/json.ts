/** Narrowing unknown input (parsed JSON or YAML) at a boundary. */

export type JsonObject = Readonly<Record<string, unknown>>;

/** A plain object: not null, not an array. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
