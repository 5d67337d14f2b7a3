import t from 'tap';
import { checkAgentConfig, configEngines, parseAgentConfig } from '../common/config.ts';
import { renderPath, samePath, type FieldPath, type ProblemKind } from '../common/field.ts';
import { parseFileMode } from '../common/values.ts';
import { AgentError } from '../common/errors.ts';
import { formatDuration, parseDuration } from '../common/duration.ts';

const minimal = { secrets: [{ name: 'db', id: 'prod/db' }] };
const OWNER = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name: 'web-5d4f8c7b9',
  uid: '0b7c6f1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b',
};

t.test('the local API and the Secret owners are read', async (t) => {
  const config = await parseAgentConfig({
    ...minimal,
    localApi: true,
    localApiPort: 3000,
    k8sSecret: { name: 's', owners: [OWNER] },
  });
  t.equal(config.localApi, true);
  t.equal(config.localApiPort, 3000);
  t.same(config.k8sSecret, { name: 's', owners: [OWNER] });
  const off = await parseAgentConfig({
    ...minimal,
    httpPort: 0,
    localApi: true,
    localApiPort: 9102,
  });
  t.equal(off.localApiPort, 9102, 'any port when the status server is off');
});

t.test('a minimal configuration gets the documented defaults', async (t) => {
  const config = await parseAgentConfig(minimal);
  t.same(config, {
    mode: 'sidecar',
    outputDir: '/secrets',
    refreshIntervalMs: 300_000,
    initTimeoutMs: 120_000,
    requestTimeoutMs: 10_000,
    httpAddress: '0.0.0.0',
    httpPort: 9102,
    fileMode: 0o644,
    terminationLogPath: '/dev/termination-log',
    logLevel: 'info',
    useFipsEndpoint: false,
    localApi: false,
    localApiPort: 2773,
    secrets: [{ name: 'db', id: 'prod/db', format: 'raw', extract: false }],
  });
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.secrets[0]), 'frozen');
});

t.test('every field is read', async (t) => {
  const config = await parseAgentConfig({
    mode: 'init',
    outputDir: '/run/s',
    refreshInterval: '1m30s',
    initTimeout: '10s',
    region: 'eu-west-1',
    failoverRegion: 'eu-central-1',
    httpAddress: '127.0.0.1',
    httpPort: 0,
    fileMode: '0440',
    terminationLogPath: '/tmp/t',
    logLevel: 'debug',
    reloadUrl: 'http://127.0.0.1:8080/-/reload',
    k8sSecret: { name: 'app-secrets', namespace: 'shop' },
    secrets: [
      {
        name: 'db',
        id: 'arn:aws:secretsmanager:eu-west-1:1:secret:db',
        versionStage: 'AWSPREVIOUS',
        key: 'password',
        format: 'raw',
        mode: '0400',
      },
      {
        name: 'cfg.env',
        id: 'cfg',
        versionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
        template: 'U={{ user }}',
      },
      { name: 'catalog', id: 'catalog', extract: true, format: 'dotenv' },
    ],
  });
  t.equal(config.refreshIntervalMs, 90_000);
  t.equal(config.fileMode, 0o440);
  t.equal(config.secrets[0]?.mode, 0o400);
  t.equal(config.secrets[1]?.template, 'U={{ user }}');
  t.equal(config.secrets[2]?.extract, true);
  t.same(config.k8sSecret, { name: 'app-secrets', namespace: 'shop' });
});

/** What the schema must find: a kind at a path. */
type Want = readonly [ProblemKind, FieldPath];

const bad: [string, unknown, Want[]][] = [
  ['not an object', 'x', [['invalid', []]]],
  ['no secrets', {}, [['required', ['secrets']]]],
  ['empty secrets', { secrets: [] }, [['required', ['secrets']]]],
  ['unknown top-level field', { ...minimal, refresh: '5m' }, [['unknown', ['refresh']]]],
  [
    'unknown secret field',
    { secrets: [{ name: 'a', id: 'b', jmespath: 'x' }] },
    [['unknown', ['secrets', 0, 'jmespath']]],
  ],
  ['missing id', { secrets: [{ name: 'a' }] }, [['required', ['secrets', 0, 'id']]]],
  ['bad name', { secrets: [{ name: '../etc', id: 'b' }] }, [['invalid', ['secrets', 0, 'name']]]],
  ['bad mode', { ...minimal, mode: 'daemon' }, [['not-supported', ['mode']]]],
  [
    'bad duration',
    { ...minimal, refreshInterval: '5 minutes' },
    [['invalid', ['refreshInterval']]],
  ],
  ['too frequent', { ...minimal, refreshInterval: '4s' }, [['invalid', ['refreshInterval']]]],
  [
    'too rare (a timer overflows past 24.8 days)',
    { ...minimal, refreshInterval: '1000h' },
    [['invalid', ['refreshInterval']]],
  ],
  [
    'infinite',
    { ...minimal, refreshInterval: `${'9'.repeat(400)}h` },
    [['too-long', ['refreshInterval']]],
  ],
  ['init timeout too long', { ...minimal, initTimeout: '2h' }, [['invalid', ['initTimeout']]]],
  [
    'request timeout too short',
    { ...minimal, requestTimeout: '10ms' },
    [['invalid', ['requestTimeout']]],
  ],
  [
    'too many secrets',
    { secrets: Array.from({ length: 201 }, (_, i) => ({ name: `s${i}`, id: `s${i}` })) },
    [['too-many', ['secrets']]],
  ],
  [
    'bad secret id',
    { secrets: [{ name: 'a', id: 'prod db' }] },
    [['invalid', ['secrets', 0, 'id']]],
  ],
  [
    'secret id too long',
    { secrets: [{ name: 'a', id: 'x'.repeat(2049) }] },
    [['too-long', ['secrets', 0, 'id']]],
  ],
  [
    'bad JMESPath',
    { secrets: [{ name: 'a', id: 'b', key: 'a[' }] },
    [['invalid', ['secrets', 0, 'key']]],
  ],
  [
    'bad template',
    { secrets: [{ name: 'a', id: 'b', template: '{{#if}}' }] },
    [['invalid', ['secrets', 0, 'template']]],
  ],
  [
    'template calling log',
    { secrets: [{ name: 'a', id: 'b', template: '{{log password}}' }] },
    [['invalid', ['secrets', 0, 'template']]],
  ],
  [
    'bad version id',
    { secrets: [{ name: 'a', id: 'b', versionId: 'v1' }] },
    [['invalid', ['secrets', 0, 'versionId']]],
  ],
  [
    'bad version stage',
    { secrets: [{ name: 'a', id: 'b', versionStage: 'AWS CURRENT' }] },
    [['invalid', ['secrets', 0, 'versionStage']]],
  ],
  ['bad region', { ...minimal, region: 'moon-1' }, [['invalid', ['region']]]],
  [
    'bad format',
    { secrets: [{ name: 'a', id: 'b', format: 'toml' }] },
    [['not-supported', ['secrets', 0, 'format']]],
  ],
  [
    'key and template',
    { secrets: [{ name: 'a', id: 'b', key: 'x', template: 'y' }] },
    [['forbidden', ['secrets', 0, 'template']]],
  ],
  [
    'template with format',
    { secrets: [{ name: 'a', id: 'b', template: 'y', format: 'json' }] },
    [['forbidden', ['secrets', 0, 'format']]],
  ],
  [
    'bad file mode',
    { secrets: [{ name: 'a', id: 'b', mode: '999' }] },
    [['invalid', ['secrets', 0, 'mode']]],
  ],
  [
    'unreadable file mode',
    { secrets: [{ name: 'a', id: 'b', mode: '0200' }] },
    [['invalid', ['secrets', 0, 'mode']]],
  ],
  [
    'duplicate names',
    {
      secrets: [
        { name: 'a', id: 'b' },
        { name: 'a', id: 'c' },
      ],
    },
    [['duplicate', ['secrets', 1, 'name']]],
  ],
  [
    'extract without k8sSecret',
    { secrets: [{ name: 'a', id: 'b', extract: true }] },
    [['forbidden', ['secrets', 0, 'extract']]],
  ],
  [
    'bad k8sSecret name',
    { ...minimal, k8sSecret: { name: 'Bad_Name' } },
    [['invalid', ['k8sSecret', 'name']]],
  ],
  [
    'k8sSecret name with an empty label',
    { ...minimal, k8sSecret: { name: 'a..b' } },
    [['invalid', ['k8sSecret', 'name']]],
  ],
  [
    'k8sSecret name with a label ending in "-"',
    { ...minimal, k8sSecret: { name: 'a-.b' } },
    [['invalid', ['k8sSecret', 'name']]],
  ],
  ['bad port', { ...minimal, httpPort: 70000 }, [['invalid', ['httpPort']]]],
  [
    'same failover region',
    { ...minimal, region: 'eu-west-1', failoverRegion: 'eu-west-1' },
    [['duplicate', ['failoverRegion']]],
  ],
  ['bad reload url', { ...minimal, reloadUrl: 'localhost:8080' }, [['invalid', ['reloadUrl']]]],
  [
    'reload url outside the pod',
    { ...minimal, reloadUrl: 'http://10.0.0.1:8080/-/reload' },
    [['invalid', ['reloadUrl']]],
  ],
  [
    'local API port below 1024',
    { ...minimal, localApi: true, localApiPort: 80 },
    [['invalid', ['localApiPort']]],
  ],
  [
    'local API port not a number',
    { ...minimal, localApiPort: '2773' },
    [['invalid', ['localApiPort']]],
  ],
  [
    'local API on the status port',
    { ...minimal, localApi: true, localApiPort: 9102 },
    [['duplicate', ['localApiPort']]],
  ],
  [
    'local API in init mode',
    { ...minimal, mode: 'init', localApi: true },
    [['forbidden', ['localApi']]],
  ],
  ['local API not a boolean', { ...minimal, localApi: 'true' }, [['invalid', ['localApi']]]],
  [
    'owners of a Secret in another namespace',
    { ...minimal, k8sSecret: { name: 's', namespace: 'x', owners: [OWNER] } },
    [['forbidden', ['k8sSecret', 'owners']]],
  ],
  [
    'owners with bad fields',
    {
      ...minimal,
      k8sSecret: {
        name: 's',
        owners: [{ ...OWNER, uid: 'nope', kind: 'replicaset', extra: 1 }, 'x'],
      },
    },
    [
      ['invalid', ['k8sSecret', 'owners', 0, 'uid']],
      ['invalid', ['k8sSecret', 'owners', 0, 'kind']],
      ['unknown', ['k8sSecret', 'owners', 0, 'extra']],
      ['invalid', ['k8sSecret', 'owners', 1]],
    ],
  ],
  [
    'too many owners',
    { ...minimal, k8sSecret: { name: 's', owners: [OWNER, OWNER, OWNER, OWNER, OWNER] } },
    [['too-many', ['k8sSecret', 'owners']]],
  ],
  [
    'several problems at once',
    { mode: 'x', secrets: [{ name: 'a' }, { id: 'b', format: 'nope' }] },
    [
      ['not-supported', ['mode']],
      ['required', ['secrets', 0, 'id']],
      ['required', ['secrets', 1, 'name']],
      ['not-supported', ['secrets', 1, 'format']],
    ],
  ],
];

for (const [title, input, wants] of bad) {
  t.test(`rejected: ${title}`, async (t) => {
    const checked = checkAgentConfig(input, await configEngines(input));
    const problems = checked.ok ? [] : checked.problems;
    for (const [kind, path] of wants)
      t.ok(
        problems.some((p) => p.kind === kind && samePath(p.path, path)),
        `${kind} at ${renderPath(path) || 'the root'}: ${JSON.stringify(problems)}`,
      );
    // The agent's error names every field it is about.
    const err = await parseAgentConfig(input).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof AgentError, 'an AgentError');
    t.equal((err as AgentError).code, 'CONFIG_INVALID');
    for (const [, path] of wants)
      if (path.length > 0) t.match((err as Error).message, `${renderPath(path)}: `);
  });
}

t.test("the agent's error says each problem in words, values quoted", async (t) => {
  const cases: [unknown, string][] = [
    ['x', 'configuration must be an object'],
    [{ ...minimal, mode: 'daemon' }, 'mode: must be one of init, sidecar; got "daemon"'],
    [
      { ...minimal, refreshInterval: '4s' },
      'refreshInterval: must be from 5s to 24h (every refresh is a paid AWS call); got "4s"',
    ],
    [
      { ...minimal, refreshInterval: `${'9'.repeat(400)}h` },
      'refreshInterval: is 401 characters long; at most 64 are allowed',
    ],
    [
      { secrets: [{ name: '../etc', id: 'b' }] },
      'secrets[0].name: "../etc" is not a valid file name',
    ],
  ];
  for (const [input, words] of cases)
    await t.rejects(parseAgentConfig(input), { message: new RegExp(escape(words)) }, words);
});

/** `text` as a regular expression matching it literally. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

t.test('the configuration the agent runs with is frozen', async (t) => {
  const config = await parseAgentConfig({ ...minimal, k8sSecret: { name: 's', owners: [OWNER] } });
  for (const part of [config, config.secrets, config.secrets[0], config.k8sSecret?.owners?.[0]])
    t.ok(Object.isFrozen(part), 'frozen all the way down');
});

t.test('durations are Go-style', async (t) => {
  const table: [string, number | undefined][] = [
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['5', undefined],
    ['', undefined],
    ['5x', undefined],
    ['-5s', undefined],
  ];
  for (const [text, ms] of table) t.equal(parseDuration(text), ms, text);
  t.equal(formatDuration(5_400_000), '1h30m');
  t.equal(formatDuration(250), '250ms');
});

t.test('file modes are octal', async (t) => {
  t.equal(parseFileMode('0400'), 0o400);
  t.equal(parseFileMode('644'), 0o644);
  t.equal(parseFileMode('0o640'), 0o640);
  t.equal(parseFileMode('0800'), undefined);
  t.equal(parseFileMode('04000'), undefined);
});

t.test('the reload URL stays inside the pod', async (t) => {
  const { isPodLocalUrl } = await import('../common/values.ts');
  for (const ok of [
    'http://127.0.0.1:8080/-/reload',
    'https://localhost/x',
    'http://[::1]:9/',
    'http://127.1.2.3/',
  ]) {
    t.ok(isPodLocalUrl(ok), ok);
  }
  for (const bad of [
    'http://example.com/',
    'http://10.0.0.1/',
    'ftp://127.0.0.1/',
    'http://127.0.0.1.nip.io/',
    'localhost:80',
    '',
  ]) {
    t.notOk(isPodLocalUrl(bad), bad);
  }
});

t.test('the hand-written example configuration is valid', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const { parseYaml } = await import('../common/yaml.ts');
  const text = await readFile(new URL('../agent/examples/demo.yaml', import.meta.url), 'utf8');
  const config = await parseAgentConfig(await parseYaml(text));
  t.ok(config.secrets.length > 0);
});
