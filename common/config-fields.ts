/**
 * The checks of single fields the configuration schema (config.ts) is made of: each reads one
 * field of a document, reports what is wrong with it (kind, path, words) and returns the value.
 */
import { saidOf, type ConfigProblem, type ProblemSink, type Said } from './config-problem.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { child, ROOT, type FieldPath, type ProblemKind } from './field.ts';
import type { JsonObject } from './json.ts';
import { parseFileMode, quote } from './values.ts';

/** What every field check gets: where its problems go. */
export interface FieldCtx {
  readonly problems: ProblemSink;
}

/** Collects every problem, so one error lists them all. */
export class Problems implements ProblemSink {
  readonly list: ConfigProblem[] = [];
  add(kind: ProblemKind, path: FieldPath, said: Said, ...refs: FieldPath[]): void {
    const { message, badValue } = typeof said === 'string' ? { message: said } : said;
    this.list.push({
      kind,
      path,
      message,
      ...(badValue === undefined ? {} : { badValue }),
      ...(refs.length === 0 ? {} : { refs }),
    });
  }
}

export function checkKeys(
  obj: JsonObject,
  allowed: readonly string[],
  path: FieldPath,
  ctx: FieldCtx,
): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      ctx.problems.add('unknown', child(path, key), `unknown field (known: ${allowed.join(', ')})`);
    }
  }
}

/**
 * An optional string field, at most `max` characters long and matching `check` (which
 * returns what is wrong, or undefined).
 */
export function optString(
  obj: JsonObject,
  key: string,
  path: FieldPath,
  ctx: FieldCtx,
  max: number,
  check?: (value: string) => string | undefined,
  kind: ProblemKind = 'invalid',
): string | undefined {
  const value = obj[key];
  const where = child(path, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    ctx.problems.add('invalid', where, 'must be a non-empty string');
    return undefined;
  }
  if (value.length > max) {
    ctx.problems.add(
      'too-long',
      where,
      saidOf(`is ${value.length} characters long; at most ${max} are allowed`, value),
    );
    return undefined;
  }
  const problem = check?.(value);
  if (problem === undefined) return value;
  ctx.problems.add(kind, where, saidOf(problem, value));
  return undefined;
}

export function oneOf(allowed: readonly string[]) {
  return (value: string): string | undefined =>
    allowed.includes(value)
      ? undefined
      : `must be one of ${allowed.join(', ')}; got ${quote(value)}`;
}

export function optEnum<T extends string>(
  obj: JsonObject,
  key: string,
  allowed: readonly T[],
  path: FieldPath,
  ctx: FieldCtx,
): T | undefined {
  return optString(obj, key, path, ctx, 64, oneOf(allowed), 'not-supported') as T | undefined;
}

export function optDuration(
  obj: JsonObject,
  key: string,
  ctx: FieldCtx,
  bounds: { readonly min: number; readonly max: number },
  why = '',
): number | undefined {
  let ms: number | undefined;
  optString(obj, key, ROOT, ctx, 64, (value) => {
    ms = parseDuration(value);
    if (ms === undefined) return `must be a duration such as 30s, 5m or 1h; got ${quote(value)}`;
    if (ms < bounds.min || ms > bounds.max) {
      const range = `from ${formatDuration(bounds.min)} to ${formatDuration(bounds.max)}`;
      ms = undefined;
      return `must be ${range}${why}; got ${quote(value)}`;
    }
    return undefined;
  });
  return ms;
}

/** A file mode; owner read is required so the files are usable. */
export function optFileMode(
  obj: JsonObject,
  key: string,
  path: FieldPath,
  ctx: FieldCtx,
): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  const mode = typeof value === 'string' ? parseFileMode(value) : undefined;
  const where = child(path, key);
  if (mode === undefined) {
    ctx.problems.add(
      'invalid',
      where,
      saidOf(`must be an octal file mode such as "0400" or "0644"; got ${quote(value)}`, value),
    );
    return undefined;
  }
  if ((mode & 0o444) === 0) {
    ctx.problems.add(
      'invalid',
      where,
      saidOf(`must let someone read the file (e.g. 0400); got ${quote(value)}`, value),
    );
    return undefined;
  }
  return mode;
}
