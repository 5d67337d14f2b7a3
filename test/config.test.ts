import t from 'tap';
import { parseAgentConfig } from '../common/config.ts';
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

const bad: [string, unknown, string[]][] = [
  ['not an object', 'x', ['configuration must be an object']],
  ['no secrets', {}, ['secrets: must list at least one secret']],
  ['empty secrets', { secrets: [] }, ['secrets: must list at least one secret']],
  ['unknown top-level field', { ...minimal, refresh: '5m' }, ['refresh: unknown field']],
  [
    'unknown secret field',
    { secrets: [{ name: 'a', id: 'b', jmespath: 'x' }] },
    ['secrets[0].jmespath: unknown field'],
  ],
  ['missing id', { secrets: [{ name: 'a' }] }, ['secrets[0].id: is required']],
  [
    'bad name',
    { secrets: [{ name: '../etc', id: 'b' }] },
    ['secrets[0].name: "../etc" is not a valid file name'],
  ],
  [
    'bad mode',
    { ...minimal, mode: 'daemon' },
    ['mode: must be one of init, sidecar; got "daemon"'],
  ],
  [
    'bad duration',
    { ...minimal, refreshInterval: '5 minutes' },
    ['refreshInterval: must be a duration'],
  ],
  [
    'too frequent',
    { ...minimal, refreshInterval: '4s' },
    ['refreshInterval: must be from 5s to 24h (every refresh is a paid AWS call); got "4s"'],
  ],
  [
    'too rare (a timer overflows past 24.8 days)',
    { ...minimal, refreshInterval: '1000h' },
    ['refreshInterval: must be from 5s to 24h'],
  ],
  [
    'infinite',
    { ...minimal, refreshInterval: `${'9'.repeat(400)}h` },
    ['refreshInterval: is 401 characters long; at most 64 are allowed'],
  ],
  [
    'init timeout too long',
    { ...minimal, initTimeout: '2h' },
    ['initTimeout: must be from 1s to 1h'],
  ],
  [
    'request timeout too short',
    { ...minimal, requestTimeout: '10ms' },
    ['requestTimeout: must be from 100ms to 5m'],
  ],
  [
    'too many secrets',
    { secrets: Array.from({ length: 201 }, (_, i) => ({ name: `s${i}`, id: `s${i}` })) },
    ['secrets: lists 201 secrets; at most 200 are allowed'],
  ],
  [
    'bad secret id',
    { secrets: [{ name: 'a', id: 'prod db' }] },
    ['secrets[0].id: must be a Secrets Manager secret name or ARN'],
  ],
  [
    'secret id too long',
    { secrets: [{ name: 'a', id: 'x'.repeat(2049) }] },
    ['secrets[0].id: is 2049 characters long; at most 2048 are allowed'],
  ],
  [
    'bad JMESPath',
    { secrets: [{ name: 'a', id: 'b', key: 'a[' }] },
    ['secrets[0].key: is not a valid JMESPath expression'],
  ],
  [
    'bad template',
    { secrets: [{ name: 'a', id: 'b', template: '{{#if}}' }] },
    ['secrets[0].template: is not a valid template'],
  ],
  [
    'template calling log',
    { secrets: [{ name: 'a', id: 'b', template: '{{log password}}' }] },
    ['secrets[0].template: is not a valid template'],
  ],
  [
    'bad version id',
    { secrets: [{ name: 'a', id: 'b', versionId: 'v1' }] },
    ['secrets[0].versionId: must be a version id (32 to 64 letters, digits or "-")'],
  ],
  [
    'bad version stage',
    { secrets: [{ name: 'a', id: 'b', versionStage: 'AWS CURRENT' }] },
    ['secrets[0].versionStage: must be a version stage'],
  ],
  [
    'bad region',
    { ...minimal, region: 'moon-1' },
    ['region: must be an AWS region such as us-east-1'],
  ],
  [
    'bad format',
    { secrets: [{ name: 'a', id: 'b', format: 'toml' }] },
    ['secrets[0].format: must be one of raw, json, yaml, dotenv, env, properties'],
  ],
  [
    'key and template',
    { secrets: [{ name: 'a', id: 'b', key: 'x', template: 'y' }] },
    ['secrets[0].template: cannot be combined with secrets[0].key'],
  ],
  [
    'template with format',
    { secrets: [{ name: 'a', id: 'b', template: 'y', format: 'json' }] },
    ['secrets[0].format: must be raw (or absent) with secrets[0].template'],
  ],
  [
    'bad file mode',
    { secrets: [{ name: 'a', id: 'b', mode: '999' }] },
    ['secrets[0].mode: must be an octal file mode'],
  ],
  [
    'unreadable file mode',
    { secrets: [{ name: 'a', id: 'b', mode: '0200' }] },
    ['secrets[0].mode: must let someone read the file'],
  ],
  [
    'duplicate names',
    {
      secrets: [
        { name: 'a', id: 'b' },
        { name: 'a', id: 'c' },
      ],
    },
    ['secrets[1].name: "a" is already used by secrets[0]'],
  ],
  [
    'extract without k8sSecret',
    { secrets: [{ name: 'a', id: 'b', extract: true }] },
    ['secrets[0].extract: needs k8sSecret: extraction writes keys of a Kubernetes Secret'],
  ],
  [
    'bad k8sSecret name',
    { ...minimal, k8sSecret: { name: 'Bad_Name' } },
    ['k8sSecret.name: "Bad_Name" is not a valid Kubernetes Secret name'],
  ],
  [
    'k8sSecret name with an empty label',
    { ...minimal, k8sSecret: { name: 'a..b' } },
    ['k8sSecret.name: "a..b" is not a valid Kubernetes Secret name'],
  ],
  [
    'k8sSecret name with a label ending in "-"',
    { ...minimal, k8sSecret: { name: 'a-.b' } },
    ['k8sSecret.name: "a-.b" is not a valid Kubernetes Secret name'],
  ],
  ['bad port', { ...minimal, httpPort: 70000 }, ['httpPort: must be a port number']],
  [
    'same failover region',
    { ...minimal, region: 'eu-west-1', failoverRegion: 'eu-west-1' },
    ['failoverRegion: must differ from region'],
  ],
  [
    'bad reload url',
    { ...minimal, reloadUrl: 'localhost:8080' },
    ['reloadUrl: must be an http:// or https:// URL'],
  ],
  [
    'reload url outside the pod',
    { ...minimal, reloadUrl: 'http://10.0.0.1:8080/-/reload' },
    ['reloadUrl: must be an http:// or https:// URL inside the pod'],
  ],
  [
    'local API port below 1024',
    { ...minimal, localApi: true, localApiPort: 80 },
    ['localApiPort: must be a port from 1024 to 65535; got 80'],
  ],
  [
    'local API port not a number',
    { ...minimal, localApiPort: '2773' },
    ['localApiPort: must be a port from 1024 to 65535'],
  ],
  [
    'local API on the status port',
    { ...minimal, localApi: true, localApiPort: 9102 },
    ["localApiPort: 9102 is taken by the agent's health and metrics port"],
  ],
  [
    'local API in init mode',
    { ...minimal, mode: 'init', localApi: true },
    ['localApi: is served in sidecar mode only'],
  ],
  [
    'local API not a boolean',
    { ...minimal, localApi: 'true' },
    ['localApi: must be true or false'],
  ],
  [
    'owners of a Secret in another namespace',
    { ...minimal, k8sSecret: { name: 's', namespace: 'x', owners: [OWNER] } },
    ['k8sSecret.owners: cannot be combined with k8sSecret.namespace'],
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
      'k8sSecret.owners[0].uid: must be an object uid; got "nope"',
      'k8sSecret.owners[0].kind: must be a kind such as ReplicaSet',
      'k8sSecret.owners[0].extra: unknown field',
      'k8sSecret.owners[1]: must be an object',
    ],
  ],
  [
    'too many owners',
    { ...minimal, k8sSecret: { name: 's', owners: [OWNER, OWNER, OWNER, OWNER, OWNER] } },
    ['k8sSecret.owners: must be a list of at most 4 owner references'],
  ],
  [
    'several problems at once',
    { mode: 'x', secrets: [{ name: 'a' }, { id: 'b', format: 'nope' }] },
    [
      'mode: must be one of',
      'secrets[0].id: is required',
      'secrets[1].name: is required',
      'secrets[1].format: must be one of',
    ],
  ],
];

for (const [title, input, messages] of bad) {
  t.test(`rejected: ${title}`, async (t) => {
    try {
      await parseAgentConfig(input);
      t.fail('accepted');
    } catch (err) {
      t.ok(err instanceof AgentError, 'an AgentError');
      t.equal((err as AgentError).code, 'CONFIG_INVALID');
      for (const m of messages) t.match((err as Error).message, m);
    }
  });
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
