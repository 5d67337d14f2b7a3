/**
 * Turns a fetched secret into file bytes (`key-`, `template-`, `format-`) and into Kubernetes
 * Secret keys (`extract-`). Pure and synchronous: the agent calls it on every refresh.
 *
 * Errors are AgentError RENDER_FAILED and name the secret (id and file name) and the option,
 * never any part of the value: no parser message (JSON.parse quotes its input), no `cause`.
 */
import type { JSONValue } from '@jmespath-community/jmespath';
import type { stringify as StringifyYaml } from 'yaml';
import { needsJmesPath, needsTemplateEngine, type SecretSpec } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { secretFieldPath } from '../common/source-ids.ts';
import { isObject } from '../common/json.ts';
import { loadJmesPath, type JmesPath } from '../common/jmespath.ts';
import { plainKeyPath, selectPath } from '../common/key-path.ts';
import { BudgetError, checkExpandedSize, checkRenderedSize, withinTime } from './budget.ts';
import { boundJmesPathFunctions } from './jmespath-bounds.ts';
import { isSecretKey, SECRET_KEY_RULE } from '../common/kube.ts';
import { compileTemplate, loadTemplateEngine, TemplateError } from './template.ts';
import type { CompiledTemplate } from './template.ts';
import type { SecretValue } from './types.ts';
import { loadYaml } from '../common/yaml.ts';

// ---- engines loaded on demand ----

/**
 * Handlebars (`template-`), JMESPath (`key-`) and the YAML writer (`format-yaml`) cost start-up
 * and heap (bench/startup.ts), and most pods need none of them: plain templates and plain keys
 * are applied without their engine. prepareRenderer loads the ones the specs need, once, before
 * the first render. Rendering a spec it was not given fails, and says why.
 */
let yamlStringify: typeof StringifyYaml | undefined;
let jmespath: JmesPath | undefined;

/** Loads the engines `specs` need. The agent calls it once, before its first cycle. */
export async function prepareRenderer(specs: readonly SecretSpec[]): Promise<void> {
  // The questions the configuration check asked of the same secrets, answered the same way.
  if (needsTemplateEngine({ secrets: specs })) await loadTemplateEngine();
  if (needsJmesPath({ secrets: specs })) {
    jmespath ??= await loadJmesPath();
    boundJmesPathFunctions(jmespath);
  }
  if (specs.some((s) => s.format === 'yaml')) {
    yamlStringify ??= (await loadYaml()).stringify;
  }
}

function jmesPathEngine(spec: SecretSpec): JmesPath {
  if (jmespath !== undefined) return jmespath;
  throw fail(spec, 'key', 'cannot apply: the JMESPath engine was not loaded (prepareRenderer)');
}

function yamlWriter(spec: SecretSpec): typeof StringifyYaml {
  if (yamlStringify !== undefined) return yamlStringify;
  throw fail(spec, 'format', 'cannot apply: the YAML writer was not loaded (prepareRenderer)');
}

/** Whether any object in the value has a field named `<<`. */
function hasMergeKey(value: Json): boolean {
  if (Array.isArray(value)) return value.some(hasMergeKey);
  if (value === null || typeof value !== 'object') return false;
  return Object.hasOwn(value, '<<') || Object.values(value).some(hasMergeKey);
}

function stringifyYaml(spec: SecretSpec, value: Json): string {
  // YAML 1.1 readers take a `<<` key for a merge key, and the writer cannot quote it: refuse
  // rather than write a file those readers misread.
  if (hasMergeKey(value)) {
    throw fail(
      spec,
      'format',
      'cannot write a field named "<<": YAML 1.1 reads it as a merge key; use json',
    );
  }
  const stringify = yamlWriter(spec);
  // YAML 1.1 quoting (`"yes"`, `"on"`, `"0777"`) so 1.1 readers (PyYAML, SnakeYAML) agree;
  // no line folding, so long values (certificates, tokens) stay on their lines.
  return stringify(value, { version: '1.1', lineWidth: 0 });
}

type Json = JSONValue;
type ExpressionNode = ReturnType<JmesPath['compile']>;
type JsonObject = { [field: string]: Json };
type Option = 'key' | 'template' | 'format' | 'extract';

/** The file content for one secret: UTF-8 text, or the secret's bytes for a raw binary secret. */
export function renderFile(spec: SecretSpec, value: SecretValue): Uint8Array {
  const text = secretText(spec, value, renderOption(spec));
  if (text === undefined) return Uint8Array.from(value.binary ?? []);
  if (spec.template !== undefined) return utf8(renderTemplate(spec, spec.template, text));
  if (spec.key !== undefined)
    return utf8(bounded(spec, 'format', formatSelected(spec, select(spec, spec.key, text))));
  if (spec.format === 'raw') return utf8(text);
  return utf8(bounded(spec, 'format', formatValue(spec, parseJson(spec, text, 'format'))));
}

/**
 * The Kubernetes Secret keys for `extract-<name>`: each top-level field of the JSON object (of the
 * value `key` selects, when set: ESO's `extract` with `property`). Strings as their UTF-8 bytes,
 * numbers, booleans, objects and arrays as compact JSON, null as empty.
 */
export function extractFields(
  spec: SecretSpec,
  value: SecretValue,
): ReadonlyMap<string, Uint8Array> {
  const text = secretText(spec, value, 'extract');
  if (text === undefined)
    throw fail(spec, 'extract', 'needs a JSON object, and the secret is binary');
  const selected =
    spec.key === undefined ? parseJson(spec, text, 'extract') : select(spec, spec.key, text);
  const object = requireObject(
    spec,
    selected,
    'extract',
    spec.key === undefined ? 'the secret' : 'the key',
  );
  const fields = new Map<string, Uint8Array>();
  for (const [field, fieldValue] of Object.entries(object)) {
    if (!isSecretKey(field)) {
      throw fail(
        spec,
        'extract',
        `field "${field}" is not a valid Kubernetes Secret key (${SECRET_KEY_RULE})`,
      );
    }
    fields.set(field, utf8(scalarText(fieldValue)));
  }
  return fields;
}

/** The option a binary secret would be rejected for; undefined when raw bytes are fine. */
function renderOption(spec: SecretSpec): Option | undefined {
  if (spec.template !== undefined) return 'template';
  if (spec.key !== undefined) return 'key';
  if (spec.format !== 'raw') return 'format';
  return undefined;
}

/** The SecretString, or undefined for a binary secret that `option` does not need as text. */
function secretText(
  spec: SecretSpec,
  value: SecretValue,
  option: Option | undefined,
): string | undefined {
  if (value.string !== undefined) return value.string;
  if (value.binary === undefined) {
    throw new AgentError(
      'RENDER_FAILED',
      `${sourceName(spec)} ${spec.id} (file ${spec.name}) has neither a string nor a binary value`,
    );
  }
  if (option === 'extract' || option === undefined) return undefined;
  throw fail(spec, option, `cannot apply: the secret is binary (only raw output is possible)`);
}

/** A formatted text within MAX_RENDERED_BYTES (formats add quoting and indentation). */
function bounded(spec: SecretSpec, option: Option, text: string): string {
  try {
    return checkRenderedSize(text);
  } catch (err) {
    throw fail(spec, option, errorMessage(err));
  }
}

function fail(spec: SecretSpec, option: Option, problem: string): AgentError {
  return new AgentError(
    'RENDER_FAILED',
    `${sourceName(spec)} ${spec.id}: ${optionName(spec, option)} ${problem}`,
  );
}

/** In the configuration's terms (common/source-ids.ts says why the agent names no annotation). */
function optionName(spec: SecretSpec, option: Option): string {
  const path = secretFieldPath(spec.name, option);
  return option === 'format' ? `${path} (${spec.format})` : path;
}

const encoder = new TextEncoder();
function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Parses the SecretString. The SyntaxError is dropped on purpose: its message quotes the value. */
function parseJson(spec: SecretSpec, text: string, option: Option): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw new AgentError(
      'RENDER_FAILED',
      `${sourceName(spec)} ${spec.id} is not JSON, so ${optionName(spec, option)} cannot apply`,
    );
  }
}

function requireObject(spec: SecretSpec, value: Json, option: Option, what: string): JsonObject {
  if (isObject(value)) return value;
  throw fail(spec, option, `needs a JSON object, and ${what} gave ${jsonType(value)}`);
}

/** The type of a JSON value: something safe to name in an error, unlike the value. */
function jsonType(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

// ---- key: JMESPath ----

/** Compiled expressions by source text: specs are fixed at start, and every refresh renders. */
const expressions = new Map<string, CompiledKey>();

/**
 * An expression compiled: what it selects from the data, and whether it runs without the
 * timeout (a plain key, or isLinearExpression).
 */
interface CompiledKey {
  readonly search: (data: Json) => Json;
  readonly linear: boolean;
}

function compileKey(spec: SecretSpec, expression: string): CompiledKey {
  const cached = expressions.get(expression);
  if (cached !== undefined) return cached;
  const path = plainKeyPath(expression);
  if (path !== undefined) {
    const plain = { search: (data: Json) => selectPath(data, path) as Json, linear: true };
    expressions.set(expression, plain);
    return plain;
  }
  const engine = jmesPathEngine(spec);
  let node: ExpressionNode;
  try {
    node = engine.compile(expression);
  } catch (err) {
    // Lexer and parser messages quote only the expression, which is configuration.
    throw fail(
      spec,
      'key',
      `"${expression}" is not a valid JMESPath expression: ${errorMessage(err)}`,
    );
  }
  const compiled = {
    search: (data: Json) => engine.TreeInterpreter.search(node, data),
    linear: isLinearExpression(node),
  };
  expressions.set(expression, compiled);
  return compiled;
}

/**
 * Whether an expression only walks down the data (`password`, `a.b.c`, `a[0]`, `@`): its result
 * is a part of the secret, found in time linear in the expression, so it needs no execution
 * timeout. Anything else (projections, functions, filters, multi-selects) runs under one.
 */
export function isLinearExpression(node: ExpressionNode): boolean {
  const n = node as { type: string; left?: ExpressionNode; right?: ExpressionNode };
  switch (n.type) {
    case 'Field':
    case 'Current':
    case 'Index':
      return true;
    case 'Subexpression':
    case 'IndexExpression':
      return (
        n.left !== undefined &&
        n.right !== undefined &&
        isLinearExpression(n.left) &&
        isLinearExpression(n.right)
      );
    default:
      return false;
  }
}

/** Runtime messages of the JMESPath library that name only types and functions, never values. */
const SAFE_JMESPATH_ERROR =
  /^(?:Invalid type|Invalid arity|Unknown function|Invalid value: slice step|invalid-value|invalid-type|not-a-number|Error referencing undefined variable)/;

function select(spec: SecretSpec, expression: string, text: string): Json {
  const compiled = compileKey(spec, expression);
  const data = parseJson(spec, text, 'key');
  let result: Json;
  try {
    const search = (): Json => compiled.search(data);
    result = compiled.linear ? search() : withinTime(search);
    checkExpandedSize(result);
  } catch (err) {
    if (err instanceof BudgetError) throw fail(spec, 'key', `"${expression}" ${err.message}`);
    const message = errorMessage(err);
    const detail = SAFE_JMESPATH_ERROR.test(message)
      ? message
      : `evaluation failed (${errorName(err)})`;
    throw fail(spec, 'key', `"${expression}": ${detail}`);
  }
  if (result === null) throw fail(spec, 'key', `"${expression}" selected nothing`);
  return result;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

// ---- template: Handlebars ----

const templates = new Map<string, CompiledTemplate>();

function renderTemplate(spec: SecretSpec, source: string, text: string): string {
  let template = templates.get(source);
  if (template === undefined) {
    try {
      template = compileTemplate(source);
    } catch (err) {
      throw fail(spec, 'template', errorMessage(err));
    }
    templates.set(source, template);
  }
  const data = requireObject(spec, parseJson(spec, text, 'template'), 'template', 'the secret');
  try {
    const render = (): string => template.render(data);
    return checkRenderedSize(template.linear ? render() : withinTime(render));
  } catch (err) {
    // TemplateError and BudgetError messages are built from the template alone; anything else
    // is not shown.
    throw fail(
      spec,
      'template',
      err instanceof TemplateError || err instanceof BudgetError
        ? err.message
        : `rendering failed (${errorName(err)})`,
    );
  }
}

// ---- format ----

/** A key's result: a string is written as it is with format raw; anything else goes to the format. */
function formatSelected(spec: SecretSpec, selected: Json): string {
  if (spec.format === 'raw')
    return typeof selected === 'string' ? selected : JSON.stringify(selected);
  return formatValue(spec, selected);
}

function formatValue(spec: SecretSpec, value: Json): string {
  switch (spec.format) {
    case 'raw':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'json':
      return `${JSON.stringify(value, null, 2)}\n`;
    case 'yaml':
      return stringifyYaml(spec, value);
    case 'dotenv':
      return lines(spec, value, (name, text) => `${name}=${dotenvValue(spec, name, text)}`, true);
    case 'env':
      return lines(spec, value, (name, text) => `export ${name}=${shellQuote(text)}`, true);
    case 'properties':
      return lines(
        spec,
        value,
        (name, text) => `${propertiesEscape(name, true)}=${propertiesEscape(text, false)}`,
        false,
      );
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One line per field of an object, in the object's order, each ended by a newline. */
function lines(
  spec: SecretSpec,
  value: Json,
  line: (name: string, text: string) => string,
  variables: boolean,
): string {
  const object = requireObject(
    spec,
    value,
    'format',
    spec.key === undefined ? 'the secret' : 'the key',
  );
  let out = '';
  for (const [name, fieldValue] of Object.entries(object)) {
    const text = scalarText(fieldValue);
    if (variables) {
      if (!IDENTIFIER.test(name)) {
        throw fail(
          spec,
          'format',
          `needs variable names like [A-Za-z_][A-Za-z0-9_]*; field "${name}" is not one`,
        );
      }
      if (text.includes('\0')) {
        throw fail(
          spec,
          'format',
          `cannot write field "${name}": its value holds a NUL character, which variables cannot`,
        );
      }
    }
    out += `${line(name, text)}\n`;
  }
  return out;
}

/** A field's text: strings as they are, null as empty, everything else as compact JSON. */
function scalarText(value: Json): string {
  if (typeof value === 'string') return value;
  if (value === null) return '';
  return JSON.stringify(value);
}

/** POSIX shell single quotes: everything literal; a `'` ends the quote, is escaped, and reopens. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Bare where every dotenv reader agrees; otherwise the quotes the dotenv npm package reads back. */
const DOTENV_BARE = /^[A-Za-z0-9_.,:/@%+=^~-]+$/;

/**
 * The dotenv npm package unescapes nothing but `\n` and `\r` inside double quotes, and nothing at
 * all inside single quotes or backticks (which may span lines); a backslash right before the
 * closing quote reads as an escaped quote. So: single quotes when the value has no `'` and no
 * line break; double quotes (line breaks as `\n`, `\r`) when it has no `"` and no literal `\n` or
 * `\r` text; backticks (line breaks literal) when it has no backtick and no CR; none of them when
 * it ends with a backslash. Last, bare when dotenv reads it back whole: one line, no `#`, no
 * surrounding space, no opening quote.
 */
function dotenvValue(spec: SecretSpec, name: string, text: string): string {
  if (text === '' || DOTENV_BARE.test(text)) return text;
  if (!text.endsWith('\\')) {
    const hasBreak = /[\r\n]/.test(text);
    if (!hasBreak && !text.includes("'")) return `'${text}'`;
    if (!text.includes('"') && !/\\[nr]/.test(text)) {
      return `"${text.replaceAll('\n', '\\n').replaceAll('\r', '\\r')}"`;
    }
    if (!text.includes('`') && !text.includes('\r')) return `\`${text}\``;
  }
  if (!/[#\r\n]/.test(text) && text === text.trim() && !/^['"`]/.test(text)) return text;
  throw fail(
    spec,
    'format',
    `cannot write field "${name}": dotenv has no quoting for its mix of quotes, line breaks, "#" and backslashes; use format env or json`,
  );
}

/**
 * Java properties escaping (as `Properties.store` does): `\`, `=`, `:`, `#`, `!`, control
 * characters, and spaces (in keys all of them, in values the leading ones). Non-ASCII as `\uXXXX`,
 * which both `load(InputStream)` (ISO-8859-1) and `load(Reader)` (UTF-8) read back correctly.
 */
function propertiesEscape(text: string, isKey: boolean): string {
  let out = '';
  let leading = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (ch !== ' ') leading = false;
    if (ch === ' ') out += isKey || leading ? '\\ ' : ' ';
    else out += PROPERTIES_ESCAPES[ch] ?? unicodeEscape(ch);
  }
  return out;
}

const PROPERTIES_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '=': '\\=',
  ':': '\\:',
  '#': '\\#',
  '!': '\\!',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\f': '\\f',
};

/** Printable ASCII as it is; anything else as `\uXXXX` (one UTF-16 unit, as Java reads it). */
function unicodeEscape(ch: string): string {
  const code = ch.charCodeAt(0);
  return code >= 0x20 && code <= 0x7e ? ch : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** What a spec reads, for messages: secret, parameter, path or find. */
function sourceName(spec: SecretSpec): string {
  const source = spec.source ?? 'secretsmanager';
  return source === 'secretsmanager' ? 'secret' : source;
}
