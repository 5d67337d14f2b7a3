/**
 * Plain `key-` expressions: a JMESPath expression that only names fields, one after another
 * (`password`, `db.host`, `"api-key".value`), which is what most pods write. The agent checks
 * and applies these without loading the JMESPath engine (69 KB of code that every agent start
 * would compile and keep on its heap), with the engine's own result: test/key-path.test.ts holds
 * the two to each other over generated expressions and data. Anything else (indexes, wildcards,
 * functions, filters, spaces between tokens, escapes in a quoted name) goes to the engine.
 */
import { isObject } from './json.ts';

/** An unquoted JMESPath identifier. */
const UNQUOTED = /^[A-Za-z_][A-Za-z0-9_]*/;
/** A quoted identifier without escapes or control characters: its name is the text inside. */
const QUOTED = /^"([^"\\\p{Cc}]*)"/u;

/**
 * The field names of a plain expression, in order, or undefined when the expression is not
 * plain. The expression is already bounded by the key length limit (common/contract.ts).
 */
export function plainKeyPath(expression: string): readonly string[] | undefined {
  const names: string[] = [];
  let rest = expression;
  for (;;) {
    const unquoted = UNQUOTED.exec(rest);
    const quoted = unquoted === null ? QUOTED.exec(rest) : null;
    const name = unquoted?.[0] ?? quoted?.[1];
    if (name === undefined) return undefined;
    names.push(name);
    rest = rest.slice((unquoted ?? quoted)?.[0].length ?? rest.length);
    if (rest === '') return names;
    if (!rest.startsWith('.')) return undefined;
    rest = rest.slice(1);
  }
}

/**
 * What a plain expression selects: each name looked up among the object's own fields, null as
 * soon as a name is missing or the value is not an object (an array included), as JMESPath does.
 */
export function selectPath(data: unknown, names: readonly string[]): unknown {
  let value = data;
  for (const name of names) {
    if (!isObject(value) || !Object.hasOwn(value, name)) return null;
    value = value[name];
  }
  return value ?? null;
}
