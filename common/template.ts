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

/** An isolated environment: helpers registered here do not leak into other users of Handlebars. */
export function templateEnvironment(handlebars: TemplateEngine): TemplateEngine {
  const hb = handlebars.create();
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
