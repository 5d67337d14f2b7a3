import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import type { Format, SecretSpec } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { extractFields, prepareRenderer, renderFile } from '../agent/render.ts';
import type { SecretValue } from '../agent/types.ts';

type SpecOptions = { key?: string; template?: string; format?: Format; extract?: boolean };

function spec(options: SpecOptions = {}): SecretSpec {
  return { name: 'app', id: 'prod/app', format: 'raw', extract: false, ...options };
}

function text(value: string): SecretValue {
  return {
    string: value,
    versionId: 'v1',
    arn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/app-AbCdEf',
  };
}

function json(value: unknown): SecretValue {
  return text(JSON.stringify(value));
}

function binary(bytes: number[]): SecretValue {
  return {
    binary: Uint8Array.from(bytes),
    versionId: 'v1',
    arn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:bin',
  };
}

// As the agent does before its first cycle: load the engines (YAML writer, templates, JMESPath).
await prepareRenderer([
  spec({ format: 'yaml' }),
  spec({ template: '{{#if x}}{{x}}{{/if}}' }),
  spec({ key: 'a[0]' }),
]);

const decoder = new TextDecoder('utf-8', { fatal: true });
function render(options: SpecOptions, value: SecretValue): string {
  return decoder.decode(renderFile(spec(options), value));
}

/** Runs `fn`, expecting a RENDER_FAILED AgentError, and returns it. */
function renderError(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AgentError && err.code === 'RENDER_FAILED') return err;
    throw err;
  }
  throw new Error('expected RENDER_FAILED, but rendering succeeded');
}

const tricky = {
  plain: 'abc',
  spaced: 'two words',
  quotes: `it's "quoted"`,
  newline: 'line1\nline2',
  equals: 'a=b',
  hash: 'x#y',
  unicode: 'pässwörd ☃ 🔑',
  empty: '',
  number: 42,
  float: 1.5,
  yes: true,
  nothing: null,
  nested: { a: [1, 'two'], b: { c: null } },
  list: ['x', 'y'],
};

t.test('formats', (t) => {
  const cases: { name: string; format: Format; value: SecretValue; want: string }[] = [
    {
      name: 'raw is byte-exact',
      format: 'raw',
      value: text('  not json\r\n'),
      want: '  not json\r\n',
    },
    {
      name: 'raw JSON stays as written',
      format: 'raw',
      value: text('{"b":1,  "a":2}'),
      want: '{"b":1,  "a":2}',
    },
    { name: 'raw empty', format: 'raw', value: text(''), want: '' },
    {
      name: 'json pretty',
      format: 'json',
      value: text('{"b":1,"a":{"c":[true,null]}}'),
      want: '{\n  "b": 1,\n  "a": {\n    "c": [\n      true,\n      null\n    ]\n  }\n}\n',
    },
    { name: 'json scalar', format: 'json', value: text('"x"'), want: '"x"\n' },
    {
      name: 'yaml',
      format: 'yaml',
      value: json({ user: 'bob', port: 5432, multi: 'a\nb' }),
      want: 'user: bob\nport: 5432\nmulti: |-\n  a\n  b\n',
    },
    {
      name: 'yaml quotes what YAML would misread',
      format: 'yaml',
      value: json({ a: 'yes', b: '0777', c: 'null', d: '' }),
      want: 'a: "yes"\nb: "0777"\nc: "null"\nd: ""\n',
    },
    {
      name: 'dotenv plain',
      format: 'dotenv',
      value: json({ USER: 'bob', URL: 'postgres://h:5432/db?x=1' }),
      want: "USER=bob\nURL='postgres://h:5432/db?x=1'\n",
    },
    {
      name: 'dotenv spaces and #',
      format: 'dotenv',
      value: json({ A: 'two words', B: 'x#y', C: 'a=b' }),
      want: "A='two words'\nB='x#y'\nC=a=b\n",
    },
    {
      name: 'dotenv single quote inside',
      format: 'dotenv',
      value: json({ A: "it's" }),
      want: 'A="it\'s"\n',
    },
    {
      name: 'dotenv newline',
      format: 'dotenv',
      value: json({ K: 'line1\nline2' }),
      want: 'K="line1\\nline2"\n',
    },
    {
      name: 'dotenv newline and double quote',
      format: 'dotenv',
      value: json({ K: 'say "hi"\nbye' }),
      want: 'K=`say "hi"\nbye`\n',
    },
    {
      name: 'dotenv non-scalars',
      format: 'dotenv',
      value: json({ N: 42, B: false, Z: null, O: { a: [1] }, E: '' }),
      want: 'N=42\nB=false\nZ=\nO=\'{"a":[1]}\'\nE=\n',
    },
    { name: 'dotenv unicode', format: 'dotenv', value: json({ U: 'é☃' }), want: "U='é☃'\n" },
    { name: 'dotenv empty object', format: 'dotenv', value: json({}), want: '' },
    {
      name: 'env',
      format: 'env',
      value: json({ A: "it's", B: 'x\ny', C: '$HOME `id`', N: 1 }),
      want: "export A='it'\\''s'\nexport B='x\ny'\nexport C='$HOME `id`'\nexport N='1'\n",
    },
    {
      name: 'properties',
      format: 'properties',
      value: json({ 'a.b': 'x=y:z', 'k y': '  lead # !', nl: 'a\nb\\c', u: 'é', '#k': 1, n: null }),
      want: 'a.b=x\\=y\\:z\nk\\ y=\\ \\ lead \\# \\!\nnl=a\\nb\\\\c\nu=\\u00e9\n\\#k=1\nn=\n',
    },
    {
      name: 'keeps the object order',
      format: 'dotenv',
      value: text('{"Z":"1","A":"2","M":"3"}'),
      want: 'Z=1\nA=2\nM=3\n',
    },
  ];
  for (const c of cases) t.equal(render({ format: c.format }, c.value), c.want, c.name);
  t.end();
});

t.test('every text format ends with a newline; raw is untouched', (t) => {
  for (const format of ['json', 'yaml', 'dotenv', 'env', 'properties'] as const) {
    t.ok(render({ format }, json(tricky)).endsWith('\n'), format);
  }
  const bytes = renderFile(spec(), text('no newline'));
  t.same([...bytes], [...new TextEncoder().encode('no newline')]);
  t.end();
});

t.test('key', (t) => {
  const secret = json({
    username: 'admin',
    password: 'p@ss"w\'rd',
    db: { host: 'h', port: 5432 },
    tags: ['a', 'b'],
    n: 7,
    on: false,
    empty: '',
  });
  const cases: { name: string; options: SpecOptions; want: string }[] = [
    { name: 'string result as-is', options: { key: 'password' }, want: 'p@ss"w\'rd' },
    { name: 'empty string result', options: { key: 'empty' }, want: '' },
    {
      name: 'object result, raw: compact JSON',
      options: { key: 'db' },
      want: '{"host":"h","port":5432}',
    },
    { name: 'number result, raw', options: { key: 'n' }, want: '7' },
    { name: 'false result, raw', options: { key: 'on' }, want: 'false' },
    { name: 'array result, raw', options: { key: 'tags' }, want: '["a","b"]' },
    { name: 'nested path', options: { key: 'db.host' }, want: 'h' },
    { name: 'function', options: { key: "join(',', tags)" }, want: 'a,b' },
    {
      name: 'object + json',
      options: { key: 'db', format: 'json' },
      want: '{\n  "host": "h",\n  "port": 5432\n}\n',
    },
    {
      name: 'object + yaml',
      options: { key: 'db', format: 'yaml' },
      want: 'host: h\nport: 5432\n',
    },
    {
      name: 'object + dotenv',
      options: { key: 'db', format: 'dotenv' },
      want: 'host=h\nport=5432\n',
    },
    {
      name: 'object + env',
      options: { key: 'db', format: 'env' },
      want: "export host='h'\nexport port='5432'\n",
    },
    {
      name: 'object + properties',
      options: { key: 'db', format: 'properties' },
      want: 'host=h\nport=5432\n',
    },
    {
      name: 'multi-select hash + dotenv',
      options: { key: '{USER: username, PASS: password}', format: 'dotenv' },
      want: 'USER=admin\nPASS=`p@ss"w\'rd`\n',
    },
    { name: 'string + json', options: { key: 'username', format: 'json' }, want: '"admin"\n' },
  ];
  for (const c of cases) t.equal(render(c.options, secret), c.want, c.name);

  const errors: { name: string; options: SpecOptions; value: SecretValue; message: RegExp }[] = [
    {
      name: 'no match',
      options: { key: 'nope' },
      value: secret,
      message: /^secret prod\/app: secrets\[name=app\]\.key "nope" selected nothing$/,
    },
    {
      name: 'explicit null',
      options: { key: 'x' },
      value: json({ x: null }),
      message: /selected nothing/,
    },
    {
      name: 'invalid expression',
      options: { key: 'a[' },
      value: secret,
      message:
        /^secret prod\/app: secrets\[name=app\]\.key "a\[" is not a valid JMESPath expression: /,
    },
    {
      name: 'non-JSON secret',
      options: { key: 'a' },
      value: text('plain text'),
      message: /^secret prod\/app is not JSON, so secrets\[name=app\]\.key cannot apply$/,
    },
    {
      name: 'runtime type error',
      options: { key: 'abs(username)' },
      value: secret,
      message:
        /secrets\[name=app\]\.key "abs\(username\)": Invalid type: abs\(\) expected argument 1/,
    },
    {
      name: 'string result + dotenv',
      options: { key: 'username', format: 'dotenv' },
      value: secret,
      message:
        /secrets\[name=app\]\.format \(dotenv\) needs a JSON object, and the key gave a string/,
    },
  ];
  for (const c of errors)
    t.match(renderError(() => renderFile(spec(c.options), c.value)).message, c.message, c.name);
  t.end();
});

t.test('template', (t) => {
  const secret = json({
    user: 'bob',
    pass: '<&>"\'',
    db: { host: 'db.local', port: 5432 },
    list: [1, 2],
    none: null,
  });
  const cases: { name: string; template: string; want: string }[] = [
    {
      name: 'fields',
      template: 'postgres://{{user}}:{{pass}}@{{db.host}}',
      want: 'postgres://bob:<&>"\'@db.local',
    },
    {
      name: 'spaces inside braces, nested',
      template: '{{ db.host }}:{{ db.port }}',
      want: 'db.local:5432',
    },
    { name: 'no HTML escaping', template: '{{pass}}', want: '<&>"\'' },
    { name: 'null renders empty', template: '[{{none}}]', want: '[]' },
    {
      name: 'json helper',
      template: '{{json db}} {{json list}}',
      want: '{"host":"db.local","port":5432} [1,2]',
    },
    {
      name: 'each',
      template: '{{#each db}}{{@key}}={{this}}\n{{/each}}',
      want: 'host=db.local\nport=5432\n',
    },
    {
      name: 'if on a missing field is false, not an error',
      template: '{{#if nope}}x{{else}}y{{/if}}',
      want: 'y',
    },
    { name: 'no trailing newline added', template: 'x', want: 'x' },
  ];
  for (const c of cases) t.equal(render({ template: c.template }, secret), c.want, c.name);

  const errors: { name: string; template: string; value?: SecretValue; message: RegExp }[] = [
    {
      name: 'missing field',
      template: 'a {{nope}}',
      message:
        /^secret prod\/app: secrets\[name=app\]\.template field "nope" \(line 1, column 5\) is not in the secret$/,
    },
    {
      name: 'missing nested field',
      template: '{{db.nope}}',
      message: /field "nope" .*is not in the secret/,
    },
    {
      name: 'lookup into a string',
      template: '{{user.x}}',
      message: /field "x" is looked up inside a value that is not an object/,
    },
    {
      name: 'syntax error',
      template: '{{#if user}}',
      message:
        /^secret prod\/app: secrets\[name=app\]\.template invalid template: Parse error on line 1/,
    },
    {
      name: 'mismatched block',
      template: '{{#if user}}{{/each}}',
      message: /invalid template: if doesn't match each/,
    },
    { name: 'unknown helper', template: '{{shout user}}', message: /unknown helper shout/ },
    { name: 'log is not allowed', template: '{{log user}}', message: /unknown helper log/ },
    {
      name: 'partials do not exist',
      template: '{{> other}}',
      message: /The partial other could not be found/,
    },
    {
      name: 'not JSON',
      template: '{{a}}',
      value: text('nope'),
      message: /^secret prod\/app is not JSON, so secrets\[name=app\]\.template cannot apply$/,
    },
    {
      name: 'not an object',
      template: '{{a}}',
      value: json(['a']),
      message: /secrets\[name=app\]\.template needs a JSON object, and the secret gave an array/,
    },
  ];
  for (const c of errors) {
    const options: SpecOptions = { template: c.template };
    t.match(
      renderError(() => renderFile(spec(options), c.value ?? secret)).message,
      c.message,
      c.name,
    );
  }
  t.end();
});

t.test(
  'a compiled template is reused, and a second render of a bad one fails the same way',
  (t) => {
    const s = spec({ template: '{{user}}' });
    t.equal(decoder.decode(renderFile(s, json({ user: 'a' }))), 'a');
    t.equal(decoder.decode(renderFile(s, json({ user: 'b' }))), 'b');
    const bad = spec({ key: 'a[' });
    t.equal(
      renderError(() => renderFile(bad, json({}))).message,
      renderError(() => renderFile(bad, json({}))).message,
    );
    t.end();
  },
);

t.test('binary secrets', (t) => {
  const bytes = [0, 255, 10, 13, 128];
  t.same([...renderFile(spec(), binary(bytes))], bytes, 'raw: the bytes');
  for (const options of [
    { key: 'a' },
    { template: 'x' },
    { format: 'json' },
    { format: 'dotenv' },
  ] as const) {
    const option = Object.keys(options)[0] as string;
    t.match(
      renderError(() => renderFile(spec(options), binary(bytes))).message,
      new RegExp(`secrets\\[name=app\\]\\.${option}.* the secret is binary`),
      option,
    );
  }
  t.match(
    renderError(() => extractFields(spec({ extract: true }), binary(bytes))).message,
    /secrets\[name=app\]\.extract needs a JSON object, and the secret is binary/,
  );
  t.match(
    renderError(() => renderFile(spec(), { versionId: 'v', arn: 'a' })).message,
    /neither a string nor a binary value/,
  );
  t.end();
});

t.test('extractFields', (t) => {
  const fields = extractFields(spec({ extract: true }), json(tricky));
  const decoded = Object.fromEntries([...fields].map(([k, v]) => [k, decoder.decode(v)]));
  t.same(decoded, {
    plain: 'abc',
    spaced: 'two words',
    quotes: `it's "quoted"`,
    newline: 'line1\nline2',
    equals: 'a=b',
    hash: 'x#y',
    unicode: 'pässwörd ☃ 🔑',
    empty: '',
    number: '42',
    float: '1.5',
    yes: 'true',
    nothing: '',
    nested: '{"a":[1,"two"],"b":{"c":null}}',
    list: '["x","y"]',
  });
  t.same([...fields.keys()], Object.keys(tricky), 'in the object order');
  const viaKey = extractFields(spec({ extract: true, key: 'nested.b' }), json(tricky));
  t.same([...viaKey.keys()], ['c'], 'key selects the object to extract');
  t.match(
    renderError(() => extractFields(spec({ extract: true }), json(['a']))).message,
    /secrets\[name=app\]\.extract needs a JSON object, and the secret gave an array/,
  );
  t.match(
    renderError(() => extractFields(spec({ extract: true }), text('x'))).message,
    /is not JSON, so secrets\[name=app\]\.extract cannot apply/,
  );
  t.match(
    renderError(() => extractFields(spec({ extract: true }), json({ 'a b': 'x' }))).message,
    /field "a b" is not a valid Kubernetes Secret key/,
  );
  t.end();
});

t.test('variable names for env and dotenv', (t) => {
  for (const format of ['env', 'dotenv'] as const) {
    for (const name of ['a-b', '1A', 'a b', '', 'é']) {
      t.match(
        renderError(() => renderFile(spec({ format }), json({ [name]: 'x' }))).message,
        `secrets[name=app].format (${format}) needs variable names like [A-Za-z_][A-Za-z0-9_]*; field "${name}" is not one`,
      );
    }
    t.match(
      renderError(() => renderFile(spec({ format }), json({ A: 'a\0b' }))).message,
      /field "A": its value holds a NUL/,
    );
    t.match(
      renderError(() => renderFile(spec({ format }), json(['x']))).message,
      new RegExp(
        `secrets\\[name=app\\]\\.format \\(${format}\\) needs a JSON object, and the secret gave an array`,
      ),
    );
    t.match(
      renderError(() => renderFile(spec({ format }), text('x'))).message,
      /is not JSON, so secrets\[name=app\]\.format/,
    );
  }
  t.equal(
    render({ format: 'properties' }, json({ 'a-b': 'x' })),
    'a-b=x\n',
    'properties take any key',
  );
  t.end();
});

// ---- secret values never reach an error ----

const CANARY = 'CANARY-7f3a9';

/** Every string an error could show: messages, stacks and String() along the cause chain. */
function errorTexts(err: unknown): string[] {
  const out: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 10; depth++) {
    if (current instanceof Error) {
      out.push(
        String(current),
        current.message,
        current.stack ?? '',
        JSON.stringify(current),
        JSON.stringify(Object.entries(current)),
      );
      current = current.cause;
    } else {
      out.push(JSON.stringify(current) ?? typeof current);
      current = undefined;
    }
  }
  return out;
}

t.test('no error shows any part of the secret value', (t) => {
  const c = CANARY;
  const cases: { options: SpecOptions; value: SecretValue }[] = [
    { options: { key: 'a' }, value: text(c) },
    { options: { key: 'a' }, value: text(`{"a": "${c}"`) },
    { options: { key: 'a' }, value: text(`{"a": ${c}}`) },
    { options: { key: 'a' }, value: text(`${c}{}`) },
    { options: { key: 'nope' }, value: json({ a: c }) },
    { options: { key: 'abs(a)' }, value: json({ a: c }) },
    { options: { key: 'a.b' }, value: json({ a: c }) },
    { options: { key: 'a', format: 'dotenv' }, value: json({ a: c }) },
    { options: { key: 'a', format: 'dotenv' }, value: json({ a: [c] }) },
    { options: { key: 'to_number(a) + `1`' }, value: json({ a: c }) },
    { options: { key: 'a[0:10:0]' }, value: json({ a: [c] }) },
    { options: { key: 'sort(a)' }, value: json({ a: [c, 1] }) },
    { options: { template: '{{a}}' }, value: text(c) },
    { options: { template: '{{a}}' }, value: text(`{"a":"${c}"`) },
    { options: { template: '{{a}}' }, value: json([c]) },
    { options: { template: '{{a}}' }, value: json(c) },
    { options: { template: '{{nope}}' }, value: json({ a: c }) },
    { options: { template: '{{a.x}}' }, value: json({ a: c }) },
    { options: { template: '{{a.x}}' }, value: json({ a: [c] }) },
    { options: { template: '{{a.x.y}}' }, value: json({ a: { b: c } }) },
    { options: { template: '{{#each a}}{{x}}{{/each}}' }, value: json({ a: [{ y: c }] }) },
    { options: { template: '{{#with a}}{{x}}{{/with}}' }, value: json({ a: { y: c } }) },
    { options: { template: '{{#each}}{{/each}}' }, value: json({ a: c }) },
    { options: { template: '{{#if a b}}{{/if}}' }, value: json({ a: c, b: c }) },
    { options: { template: '{{json a a}}' }, value: json({ a: c }) },
    { options: { template: '{{json}}' }, value: json({ a: c }) },
    { options: { template: '{{a' }, value: json({ a: c }) },
    ...(['json', 'yaml', 'dotenv', 'env', 'properties'] as const).map((format) => ({
      options: { format },
      value: text(c),
    })),
    ...(['json', 'yaml', 'dotenv', 'env', 'properties'] as const).map((format) => ({
      options: { format },
      value: text(`{"k":"${c}`),
    })),
    ...(['dotenv', 'env', 'properties'] as const).map((format) => ({
      options: { format },
      value: json([c]),
    })),
    ...(['dotenv', 'env', 'properties'] as const).map((format) => ({
      options: { format },
      value: json(c),
    })),
    { options: { format: 'dotenv' }, value: json({ 'bad-name': c }) },
    { options: { format: 'env' }, value: json({ A: `${c}\0` }) },
    { options: { format: 'dotenv' }, value: json({ A: `'"\`${c}\n\\n` }) },
    { options: { format: 'dotenv' }, value: json({ A: `${c} # \\` }) },
    { options: { format: 'json' }, value: binary([...new TextEncoder().encode(c)]) },
    { options: { extract: true }, value: text(c) },
    { options: { extract: true }, value: json([c]) },
    { options: { extract: true }, value: json(c) },
    { options: { extract: true, key: 'a' }, value: json({ a: c }) },
  ];
  let failures = 0;
  for (const [i, { options, value }] of cases.entries()) {
    let err: unknown;
    try {
      if (options.extract === true) extractFields(spec(options), value);
      else renderFile(spec(options), value);
    } catch (caught) {
      err = caught;
    }
    if (err === undefined) {
      t.fail(`case ${i} (${JSON.stringify(options)}) did not fail`);
      continue;
    }
    failures++;
    t.ok(err instanceof AgentError && err.code === 'RENDER_FAILED', `case ${i} is RENDER_FAILED`);
    t.equal((err as Error).cause, undefined, `case ${i} has no cause`);
    const leaked = errorTexts(err).filter((s) => s.includes(c) || s.includes(c.slice(0, 6)));
    t.same(
      leaked,
      [],
      `case ${i} (${JSON.stringify(options)}) shows no value: ${(err as Error).message}`,
    );
  }
  t.equal(failures, cases.length);
  t.end();
});

// ---- parsers the outputs must round-trip through ----

/** The dotenv npm package's parse() (lib/main.js), transcribed: the reader dotenv output targets. */
function parseDotenv(src: string): Record<string, string> {
  const LINE =
    /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;
  const obj = Object.create(null) as Record<string, string>;
  const lines = src.replace(/\r\n?/gm, '\n');
  let match: RegExpExecArray | null;
  while ((match = LINE.exec(lines)) !== null) {
    const key = match[1] ?? '';
    let value = (match[2] ?? '').trim();
    const maybeQuote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, '$2');
    if (maybeQuote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
    obj[key] = value;
  }
  return obj;
}

/** java.util.Properties.load, for the escapes properties output uses. */
function parseProperties(src: string): Record<string, string> {
  // No prototype: a field named __proto__ must read back as a field.
  const out = Object.create(null) as Record<string, string>;
  const physical = src.split(/\r\n|\r|\n/);
  for (let i = 0; i < physical.length; i++) {
    let line = (physical[i] ?? '').replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (/(?:^|[^\\])(?:\\\\)*\\$/.test(line) && i + 1 < physical.length) {
      line = line.slice(0, -1) + (physical[++i] ?? '').replace(/^[ \t\f]+/, '');
    }
    let k = 0;
    while (k < line.length && !'=: \t\f'.includes(line.charAt(k)))
      k += line.charAt(k) === '\\' ? 2 : 1;
    const key = line.slice(0, k);
    let rest = line.slice(k).replace(/^[ \t\f]*/, '');
    if (rest.startsWith('=') || rest.startsWith(':')) rest = rest.slice(1);
    out[unescapeProperties(key)] = unescapeProperties(rest.replace(/^[ \t\f]*/, ''));
  }
  return out;
}

function unescapeProperties(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
    if (e.startsWith('u') && e.length === 5)
      return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    return ({ t: '\t', n: '\n', r: '\r', f: '\f' } as Record<string, string>)[e] ?? e;
  });
}

const identifier = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/);
// Whole code points (🔑 is two UTF-16 units): values are valid Unicode, as Secrets Manager's are.
const specialChars = fc.constantFrom(
  ...[
    "'",
    '"',
    '`',
    '\\',
    '#',
    '=',
    ':',
    '!',
    ' ',
    '\n',
    '\r',
    '\t',
    '$',
    '\u2028',
    'é',
    '☃',
    '🔑',
    'n',
    'r',
  ],
);
const nastyString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: specialChars, maxLength: 12 }),
  fc.string({ unit: fc.oneof(specialChars, fc.constantFrom('x', 'y')), maxLength: 8 }),
);
const flatObject = fc.dictionary(identifier, nastyString, { maxKeys: 6 });

t.test('dotenv output reads back through dotenv, or is refused naming the field', (t) => {
  let refused = 0;
  fc.assert(
    fc.property(flatObject, (object) => {
      let out: string;
      try {
        out = render({ format: 'dotenv' }, json(object));
      } catch (err) {
        if (!(err instanceof AgentError) || !/cannot write field "\w+"/.test(err.message))
          throw err;
        if (/NUL/.test(err.message)) return Object.values(object).some((v) => v.includes('\0'));
        refused++;
        return true;
      }
      return JSON.stringify(parseDotenv(out)) === JSON.stringify(object);
    }),
    { numRuns: 2000 },
  );
  t.ok(refused < 400, `refused ${refused} of 2000 random objects`);
  t.end();
});

t.test('properties output reads back through Properties.load', (t) => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.string({ unit: 'binary', minLength: 1 }), nastyString, { maxKeys: 6 }),
      (object) => {
        const out = render({ format: 'properties' }, json(object));
        return (
          out
            .split('\n')
            .slice(0, -1)
            .every((l) => /^[\x20-\x7e]*$/.test(l)) &&
          JSON.stringify(parseProperties(out)) === JSON.stringify(object)
        );
      },
    ),
    { numRuns: 1000 },
  );
  t.pass('1000 random objects read back');
  t.end();
});

const jsonValue = fc
  .jsonValue({ maxDepth: 3 })
  .map((v) => JSON.parse(JSON.stringify(v)) as unknown);

t.test('json and yaml outputs parse back to the same value', (t) => {
  fc.assert(
    fc.property(jsonValue, (value) => {
      const asJson = render({ format: 'json' }, json(value));
      const want = JSON.stringify(value);
      if (/"<<":/.test(want)) {
        // A "<<" field is refused for yaml (a YAML 1.1 merge key), naming the reason.
        t.throws(() => render({ format: 'yaml' }, json(value)), { message: /merge key/ });
        return JSON.stringify(JSON.parse(asJson)) === want;
      }
      const asYaml = render({ format: 'yaml' }, json(value));
      return (
        JSON.stringify(JSON.parse(asJson)) === want &&
        JSON.stringify(parseYaml(asYaml)) === want &&
        JSON.stringify(parseYaml(asYaml, { version: '1.1' })) === want
      );
    }),
    { numRuns: 1000 },
  );
  t.pass();
  t.end();
});

t.test('env output read by /bin/sh gives back the values', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'render-env-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const noNul = fc.string({
    unit: fc.oneof(specialChars, fc.constantFrom('x', '*', '?', '~', ';', '&', '|', '(', ')')),
    maxLength: 12,
  });
  let n = 0;
  fc.assert(
    fc.property(
      fc.dictionary(
        identifier.filter((k) => !/^(PATH|IFS|PS[1-4]|ENV|HOME|PWD|OPTIND|_)$/.test(k)),
        noNul,
        { minKeys: 1, maxKeys: 4 },
      ),
      (object) => {
        const file = join(dir, `env${n++}`);
        writeFileSync(file, renderFile(spec({ format: 'env' }), json(object)));
        const names = Object.keys(object);
        const script = `. "$1"; ${names.map((k) => `printf '%s\\0' "$${k}"`).join('; ')}`;
        const out = execFileSync('/bin/sh', ['-c', script, 'sh', file], { encoding: 'utf8' });
        return (
          JSON.stringify(out.split('\0').slice(0, -1)) === JSON.stringify(Object.values(object))
        );
      },
    ),
    { numRuns: 25 },
  );
  t.pass();
  t.end();
});

t.test('a field named __proto__ is a field like any other', (t) => {
  const value = json(JSON.parse('{"__proto__":"x","b":"y"}'));
  t.equal(render({ format: 'properties' }, value), '__proto__=x\nb=y\n');
  t.equal(render({ format: 'dotenv' }, value), '__proto__=x\nb=y\n');
  t.same(
    Object.keys(parseProperties('__proto__=x\n')),
    ['__proto__'],
    'the test parser keeps it too',
  );
  t.end();
});

t.test('yaml refuses a "<<" field, which YAML 1.1 readers take for a merge key', (t) => {
  t.throws(() => render({ format: 'yaml' }, json({ a: { '<<': 'x' } })), {
    code: 'RENDER_FAILED',
    message: /secrets\[name=app\]\.format \(yaml\) cannot write a field named "<<"/,
  });
  t.end();
});
