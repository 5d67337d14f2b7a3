/**
 * JMESPath's functions that build a string (`join`, `pad_left`, `pad_right`, `replace`,
 * `to_string`) checked before they build it: `[@,@]` repeated doubles a selection for free
 * (shared references), and one `join` or `to_string` of it would then allocate gigabytes
 * before any check after the search could see it. Each is replaced, once, by the library's own
 * function behind a size check (BudgetError past MAX_RENDERED_BYTES); and every list the
 * interpreter builds is checked as it is built (MAX_ARRAY_LENGTH). And a field is looked up
 * among an object's own fields only: the library reads `value[name]`, so `constructor` or
 * `__proto__` on a secret without such a field selected what every object inherits.
 */
import type { JSONValue, registerFunction } from '@jmespath-community/jmespath';
import type { JmesPath } from '../common/jmespath.ts';
import { isObject } from '../common/json.ts';
import { BudgetError, checkExpandedSize, checkLength } from './budget.ts';
import { UPSTREAM_LIMITS } from './source/upstream.ts';

type Args = unknown[];
interface Entry {
  readonly _func: (args: Args) => JSONValue;
  readonly _signature: Parameters<typeof registerFunction>[2];
}

/** Occurrences of `needle` in `text` (an empty needle: between every two units, and at the ends). */
function occurrences(text: string, needle: string, most: number): number {
  if (needle === '') return Math.min(text.length + 1, most);
  let count = 0;
  for (
    let at = text.indexOf(needle);
    at !== -1 && count < most;
    at = text.indexOf(needle, at + needle.length)
  )
    count += 1;
  return count;
}

const CHECKS: Readonly<Record<string, (args: Args) => void>> = {
  join: ([separator, list]) => {
    const items = list as string[];
    let length = Math.max(0, items.length - 1) * String(separator).length;
    for (const item of items) {
      length += item.length;
      checkLength(length, 'joins');
    }
  },
  pad_left: ([, width]) => checkLength(Number(width), 'pads'),
  pad_right: ([, width]) => checkLength(Number(width), 'pads'),
  replace: ([subject, old, by, count]) => {
    const text = String(subject);
    const grows = String(by).length - String(old).length;
    if (grows <= 0) return;
    const most = typeof count === 'number' ? count : Number.MAX_SAFE_INTEGER;
    checkLength(text.length + occurrences(text, String(old), most) * grows, 'replaces');
  },
  to_string: ([value]) => {
    if (typeof value !== 'string') checkExpandedSize(value);
  },
};

/**
 * The most items a list may have at any step: as many as the largest value AWS answers has
 * bytes (a `split('', s)` of it), so no honest selection comes near it; an expression that
 * builds a longer one in between (a flatten of a doubled selection) is stopped there, with a
 * few MiB of lists, not at the end of its time budget with tens.
 */
export const MAX_ARRAY_LENGTH = UPSTREAM_LIMITS.secretBytes;

type Visit = (node: unknown, value: unknown) => JSONValue;

/**
 * Every node the interpreter visits (its own recursion included) checked for its array size; a
 * field that is not the object's own selects nothing (null), as common/key-path.ts selects.
 */
function boundVisits(engine: JmesPath): void {
  const prototype = Object.getPrototypeOf(engine.TreeInterpreter) as { visit: Visit };
  const visit = prototype.visit;
  prototype.visit = function (this: unknown, node: unknown, value: unknown): JSONValue {
    const field = node as { type?: unknown; name?: unknown };
    if (
      field.type === 'Field' &&
      typeof field.name === 'string' &&
      isObject(value) &&
      !Object.hasOwn(value, field.name)
    )
      return null;
    const result = visit.call(this, node, value);
    if (Array.isArray(result) && result.length > MAX_ARRAY_LENGTH)
      throw new BudgetError(`builds a list of more than ${MAX_ARRAY_LENGTH} items`);
    return result;
  };
}

let installed = false;

/** Puts the checks in front of the library's functions; once per process. */
export function boundJmesPathFunctions(engine: JmesPath): void {
  if (installed) return;
  const table = (
    engine.TreeInterpreter as unknown as { runtime: { _functionTable: Record<string, Entry> } }
  ).runtime._functionTable;
  for (const [name, check] of Object.entries(CHECKS)) {
    const original = table[name];
    if (original === undefined) throw new Error(`JMESPath has no ${name}() to bound`);
    const bounded = (args: Args): JSONValue => {
      check(args);
      return original._func(args);
    };
    engine.registerFunction(name, bounded, original._signature, { override: true });
  }
  boundVisits(engine);
  installed = true;
}
