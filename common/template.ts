/**
 * `{{ field }}` templates: the one Handlebars environment and the one compile check, for the
 * agent (which renders templates) and its configuration schema (which refuses a template that
 * does not compile, so the injector denies it at admission with the same words).
 *
 * The rules: a missing field is an error (strict mode); nothing is HTML-escaped (a password with
 * `<&>"` stays as it is); only the built-in helpers plus `json` may be called, and `log` may not
 * (it would print data to the console).
 */
import type HandlebarsNamespace from 'handlebars';

export type TemplateEngine = typeof HandlebarsNamespace;

export const TEMPLATE_OPTIONS = {
  strict: true,
  noEscape: true,
  knownHelpersOnly: true,
  knownHelpers: { log: false, json: true },
} as const;

/** A template problem whose message names the template's parts, never the data. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/** The part of Handlebars' code generator that joins a template's pieces (not in its typings). */
type CompilerClass = new () => {
  appendToBuffer(source: unknown, location: unknown, explicit: unknown): unknown;
};

/**
 * Handlebars joins a template's pieces with `+` and, without escaping, nothing makes them text
 * first: `{{a}}{{b}}` with numbers 1 and 2 renders "3", and `{{port}}{{suffix}}` a sum
 * (handlebars.js#1838, fixed after 4.7). Each piece is made text before it is joined, here and
 * in every block's body (the class's `compiler`), so templates write what they show.
 */
function joinAsText(hb: TemplateEngine): void {
  const env = hb as unknown as { JavaScriptCompiler: CompilerClass };
  const Base = env.JavaScriptCompiler;
  class TextJoiningCompiler extends Base {
    override appendToBuffer(source: unknown, location: unknown, explicit: unknown): unknown {
      return super.appendToBuffer(['"" + (', source, ')'], location, explicit);
    }
  }
  (TextJoiningCompiler.prototype as unknown as { compiler: CompilerClass }).compiler =
    TextJoiningCompiler;
  env.JavaScriptCompiler = TextJoiningCompiler;
}

/** An isolated environment: helpers registered here do not leak into other users of Handlebars. */
export function templateEnvironment(handlebars: TemplateEngine): TemplateEngine {
  const hb = handlebars.create();
  joinAsText(hb);
  hb.unregisterHelper('log');
  hb.registerHelper('json', function json(...args: unknown[]): string {
    // The last argument is Handlebars' options object (which holds the whole context): never print it.
    if (args.length !== 2)
      throw new TemplateError('json takes exactly one value, as in {{json field}}');
    return JSON.stringify(args[0]) ?? '';
  });
  return hb;
}

let loading: Promise<TemplateEngine> | undefined;

/**
 * Handlebars is loaded on demand (most pods have no template, and it is a noticeable part of
 * start-up): the agent loads it when its configuration holds a template, before checking it.
 */
export function loadTemplateEngine(): Promise<TemplateEngine> {
  loading ??= import('handlebars').then((m) => templateEnvironment(m.default));
  return loading;
}

/**
 * Why `source` does not compile, or undefined when it does. precompile() runs the whole compiler
 * (compile() is lazy), so every template-only error (syntax, unknown helper) surfaces here; its
 * messages quote only the template.
 */
export function templateProblem(engine: TemplateEngine, source: string): string | undefined {
  try {
    engine.precompile(source, TEMPLATE_OPTIONS);
    return undefined;
  } catch (err) {
    return oneLine(err instanceof Error ? err.message : String(err));
  }
}

/**
 * templateProblem for one configuration's check: a template named by many secrets is compiled
 * once. Made per check, so what it remembers is bounded by that configuration (a webhook checks
 * every pod's templates: nothing is kept from one pod to the next).
 */
export function templateChecker(engine: TemplateEngine): (source: string) => string | undefined {
  const known = new Map<string, string | undefined>();
  return (source) => {
    if (!known.has(source)) known.set(source, templateProblem(engine, source));
    return known.get(source);
  };
}

/**
 * At most this many field references make a template "linear" (below): its output is at most
 * the template plus this many copies of the secret's largest field.
 */
export const LINEAR_TEMPLATE_FIELDS = 16;

/**
 * Whether `source` (which compiles) only writes text and plain field references
 * (`{{username}}`, `{{a.b}}`, `{{@root.x}}`), at most LINEAR_TEMPLATE_FIELDS of them: no block,
 * helper, parameter or partial. Such a template renders in time linear in its size and the
 * secret's, with no loop to bound, so it needs no execution timeout.
 */
export function isLinearTemplate(engine: TemplateEngine, source: string): boolean {
  let fields = 0;
  for (const statement of engine.parse(source).body) {
    if (statement.type === 'ContentStatement' || statement.type === 'CommentStatement') continue;
    if (statement.type !== 'MustacheStatement') return false;
    const m = statement as hbs.AST.MustacheStatement;
    if (m.params.length > 0 || m.hash !== undefined || m.path.type !== 'PathExpression')
      return false;
    const path = m.path as hbs.AST.PathExpression;
    if (path.parts.length === 1 && path.parts[0] !== undefined && path.parts[0] in engine.helpers)
      return false;
    fields += 1;
  }
  return fields <= LINEAR_TEMPLATE_FIELDS;
}

/**
 * A plain template: text and at most LINEAR_TEMPLATE_FIELDS `{{ field }}` references of simple
 * names (`{{username}}`, `{{ db.host }}`), nothing else. It is recognised, checked and rendered
 * without loading Handlebars, with Handlebars' own result and errors (test/template-plain.test.ts
 * holds the two to each other on generated templates and data). Anything else goes to Handlebars.
 */
export interface PlainTemplate {
  /** Text and references, in order. */
  readonly parts: readonly (string | PlainField)[];
}

interface PlainField {
  /** The names from the root down (`db.host` → ['db', 'host']). */
  readonly path: readonly string[];
  /** Where the name starts, as Handlebars reports it: line from 1, column from 1. */
  readonly line: number;
  readonly column: number;
}

/** `{{`, spaces, a dotted name, spaces, `}}` (not followed by a third brace: checked apart). */
const PLAIN_TAG = /^\{\{ *([A-Za-z_$][\w$-]*(?:\.[A-Za-z_$][\w$-]*)*) *\}\}/;

/** A plain tag is short; one longer than this goes to Handlebars (and the scan stays linear). */
const LIMIT_TAG_LENGTH = 256;

/** Handlebars reads `{{else` followed by anything but a letter, digit or `_` as `{{else …}}`. */
const ELSE_CHAIN = /^else(?![A-Za-z0-9_])/;

/**
 * Names a plain template may not use: Handlebars' keywords and helpers (a helper call is not a
 * field), and anything a JSON value inherits (`length`, `constructor`, `__proto__`): Handlebars
 * answers those by its prototype rules, not as fields.
 */
function reservedName(name: string): boolean {
  return (
    ['this', 'else', 'true', 'false', 'null', 'undefined', 'log', 'json'].includes(name) ||
    HELPER_NAMES.has(name) ||
    INHERITING.some((v) => name in v)
  );
}

/** What a JSON value inherits from: an object, an array, a string, a number, a boolean. */
const INHERITING: readonly object[] = [{}, [], Object(''), Object(0), Object(false)];

/** The helpers every Handlebars environment starts with. */
const HELPER_NAMES: ReadonlySet<string> = new Set([
  'blockHelperMissing',
  'each',
  'helperMissing',
  'if',
  'lookup',
  'unless',
  'with',
]);

/** The parts of `source` when it is a plain template; undefined when Handlebars must read it. */
export function plainTemplate(source: string): PlainTemplate | undefined {
  // A NUL, a carriage return (its own line count) or an escaped `\{{` is Handlebars' to read.
  if (/[\0\r]|\\\{\{/.test(source)) return undefined;
  const parts: (string | PlainField)[] = [];
  let line = 1;
  let lineStart = 0;
  let at = 0;
  let fields = 0;
  while (at < source.length) {
    const open = source.indexOf('{{', at);
    const text = source.slice(at, open === -1 ? source.length : open);
    if (text !== '') parts.push(text);
    if (open === -1) break;
    const tag = PLAIN_TAG.exec(source.slice(open, open + LIMIT_TAG_LENGTH));
    const name = tag?.[1];
    if (tag === null || name === undefined || source[open + tag[0].length] === '}')
      return undefined;
    const path = name.split('.');
    if (ELSE_CHAIN.test(name) || path.some(reservedName)) return undefined;
    for (let i = source.indexOf('\n', lineStart); i !== -1 && i < open;) {
      line += 1;
      lineStart = i + 1;
      i = source.indexOf('\n', lineStart);
    }
    const nameAt = open + tag[0].indexOf(name);
    parts.push({ path, line, column: nameAt - lineStart + 1 });
    fields += 1;
    if (fields > LINEAR_TEMPLATE_FIELDS) return undefined;
    at = open + tag[0].length;
  }
  return { parts };
}

/**
 * Renders a plain template as Handlebars does in strict mode: each name but the last is looked
 * up inside what the one before found (nothing inside a missing or null value), the last must
 * exist; null writes nothing and anything else its text. Errors name the template's field, never the data.
 */
export function renderPlain(template: PlainTemplate, data: unknown): string {
  let out = '';
  for (const part of template.parts) {
    // As Handlebars writes a value: JavaScript's own string conversion (`1,2`, `[object Object]`).
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    out += typeof part === 'string' ? part : String(fieldValue(part, data) ?? '');
  }
  return out;
}

function fieldValue(field: PlainField, data: unknown): unknown {
  let value = data;
  const last = field.path.length - 1;
  for (const name of field.path.slice(0, last)) {
    if (value === null || value === undefined) throw inMissingValue(name);
    value = (value as Record<string, unknown>)[name];
  }
  const name = field.path[last] ?? '';
  if (!value) throw missingField(name, field.line, field.column);
  if (typeof value !== 'object') throw notAnObject(name);
  if (!(name in value)) throw missingField(name, field.line, field.column);
  return (value as Record<string, unknown>)[name];
}

/** A field the secret does not have, where the template names it. */
export function missingField(name: string, line?: number, column?: number): TemplateError {
  return new TemplateError(`field "${name}"${placeText(line, column)} is not in the secret`);
}

/** ` (line L, column C)`, both counted from 1, or nothing when the place is not known. */
export function placeText(line?: number, column?: number): string {
  return line === undefined || column === undefined ? '' : ` (line ${line}, column ${column})`;
}

/** A field looked up inside one the secret does not have, or that is null. */
export function inMissingValue(name: string): TemplateError {
  return new TemplateError(`field "${name}" is looked up inside a value that is missing or null`);
}

/** A field looked up in a string, a number or a boolean. */
export function notAnObject(name: string): TemplateError {
  return new TemplateError(`field "${name}" is looked up inside a value that is not an object`);
}

/**
 * What the parser's token names mean to someone who wrote the template: "(unexpected INVALID)"
 * says nothing to a user; the usual causes do.
 */
const TOKEN_WORDS: Readonly<Record<string, string>> = {
  INVALID: 'a tag is not closed: each {{ needs a matching }}',
  EOF: 'the template ends inside a tag or block: close it ({{#if x}} needs {{/if}})',
  OPEN_ENDBLOCK: 'a closing {{/...}} with no block open, or one that does not match its {{#...}}',
  CLOSE: 'a }} where it does not fit: {{{ ... }}} needs three closing braces, {{ ... }} two',
  CLOSE_UNESCAPED: 'a }}} where }} was expected',
  OPEN: 'a {{ inside another tag',
};

/**
 * Handlebars parse errors span four lines (heading, excerpt, caret, a long "Expecting" list);
 * errors end up in one-line termination messages, logs and denials, so keep the heading, the
 * excerpt and what the unexpected token means.
 */
function oneLine(message: string): string {
  const [heading, excerpt, , expecting] = message.split('\n');
  if (heading === undefined || excerpt === undefined || expecting === undefined)
    return message.replaceAll('\n', ' ');
  const got = /got '([^']*)'$/.exec(expecting)?.[1];
  const why = got === undefined ? '' : `: ${TOKEN_WORDS[got] ?? `unexpected ${got.toLowerCase()}`}`;
  return `${heading.replace(/:$/, '')} near ${JSON.stringify(excerpt)}${why}`;
}
