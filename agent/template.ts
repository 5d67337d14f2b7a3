/**
 * `{{ field }}` templates (Handlebars) for the `template-<name>` option, kept apart from the
 * renderer so the one module that loads Handlebars is easy to find.
 *
 * The rules: a missing field is an error (strict mode); nothing is HTML-escaped (a password with
 * `<&>"` stays as it is); only the built-in helpers plus `json` may be called, and `log` may not
 * (it would print data to the console). Errors never carry the data: Handlebars' own messages
 * quote it (`"x" not defined in <parent>`, `Cannot use 'in' operator to search for 'x' in <value>`),
 * so every message here is rebuilt from the template text alone.
 */
import {
  isLinearTemplate,
  loadTemplateEngine as loadEngine,
  inMissingValue,
  missingField,
  notAnObject,
  placeText,
  plainTemplate,
  renderPlain,
  TEMPLATE_OPTIONS,
  TemplateError,
  templateProblem,
  type TemplateEngine,
} from '../common/template.ts';

import { BudgetError, checkLength } from './budget.ts';

export { TemplateError };

export interface CompiledTemplate {
  /** Renders with `data` as the root context. Throws TemplateError. */
  render(data: Readonly<Record<string, unknown>>): string;
  /** Text and plain field references only (common/template.ts): nothing to stop in time. */
  readonly linear: boolean;
}

type Environment = TemplateEngine;

/**
 * Handlebars is loaded on demand (about 10 ms of start-up, and most pods have no template): the
 * agent awaits loadTemplateEngine() (through prepareRenderer) before its first render when a
 * secret has a template. Compiling before it fails, and says why.
 */
let hb: Environment | undefined;

export async function loadTemplateEngine(): Promise<void> {
  hb ??= boundEach(await loadEngine());
}

type HelperOptions = { fn: (context: unknown, options?: unknown) => string };
type Helper = (this: unknown, context: unknown, options: HelperOptions) => string;

/**
 * `#each` counts what it builds as it goes: nested blocks multiply, and a block's text is built
 * of shared pieces, cheap until something flattens it. Past MAX_RENDERED_BYTES the render stops
 * (BudgetError) before the next piece, so no intermediate text outgrows the bound.
 */
function boundEach(engine: Environment): Environment {
  const each = engine.helpers['each'] as Helper | undefined;
  if (each === undefined) throw new TemplateError('Handlebars has no #each to bound');
  engine.registerHelper('each', function (this: unknown, context: unknown, options: HelperOptions) {
    let length = 0;
    const fn = (item: unknown, itemOptions?: unknown): string => {
      const text = options.fn(item, itemOptions);
      length += text.length;
      checkLength(length);
      return text;
    };
    return each.call(this, context, { ...options, fn });
  });
  return engine;
}

function engine(): Environment {
  if (hb !== undefined) return hb;
  throw new TemplateError('the template engine was not loaded (loadTemplateEngine)');
}

/** Compiles a template once; syntax errors (and unknown helpers) are thrown now, not at first use. */
export function compileTemplate(source: string): CompiledTemplate {
  const plain = plainTemplate(source);
  if (plain !== undefined) return { linear: true, render: (data) => renderPlain(plain, data) };
  return compileWithEngine(source);
}

/** compileTemplate through Handlebars, whatever the template (a plain one included). */
export function compileWithEngine(source: string): CompiledTemplate {
  const hb = engine();
  const problem = templateProblem(hb, source);
  if (problem !== undefined) throw new TemplateError(`invalid template: ${problem}`);
  const delegate = hb.compile<Readonly<Record<string, unknown>>>(source, TEMPLATE_OPTIONS);
  return {
    linear: isLinearTemplate(hb, source),
    render(data) {
      try {
        return delegate(data);
      } catch (err) {
        if (err instanceof BudgetError) throw err;
        throw safeRenderError(err, source);
      }
    },
  };
}

const MISSING_FIELD = /^"(.+?)" not defined in /;
const NOT_AN_OBJECT = /^Cannot use 'in' operator to search for '(.+?)' in /;
const IN_MISSING = /^Cannot read properties of (?:null|undefined) \(reading '(.+?)'\)/;
const HELPER_MISUSE =
  /^(?:Must pass iterator to #each|#\w+ requires exactly one argument|The partial [\w.-]+ could not be found|json takes exactly one value, as in \{\{json field\}\})/;

/** Turns a render-time error into one that names the template's field, never the data. */
function safeRenderError(err: unknown, source: string): TemplateError {
  const message = err instanceof Error ? err.message : '';
  // A field name is only repeated when the template itself contains it: then it is template text.
  const missing = MISSING_FIELD.exec(message)?.[1];
  if (missing !== undefined && source.includes(missing)) {
    const { line, column } = location(err);
    return missingField(missing, line, column);
  }
  const notObject = NOT_AN_OBJECT.exec(message)?.[1];
  if (notObject !== undefined && source.includes(notObject)) return notAnObject(notObject);
  const inMissing = IN_MISSING.exec(message)?.[1];
  if (inMissing !== undefined && source.includes(inMissing)) return inMissingValue(inMissing);
  const misuse = HELPER_MISUSE.exec(message)?.[0];
  if (misuse !== undefined) return new TemplateError(`${misuse}${where(err)}`);
  const kind = err instanceof Error ? err.name : typeof err;
  return new TemplateError(`rendering failed (${kind})`);
}

/** Where Handlebars says it failed: line from 1, column from 1 (it counts columns from 0). */
function location(err: unknown): { line?: number; column?: number } {
  if (typeof err !== 'object' || err === null) return {};
  const { lineNumber, column } = err as { lineNumber?: unknown; column?: unknown };
  return typeof lineNumber === 'number' && typeof column === 'number'
    ? { line: lineNumber, column: column + 1 }
    : {};
}

function where(err: unknown): string {
  const { line, column } = location(err);
  return placeText(line, column);
}
