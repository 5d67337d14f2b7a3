/**
 * The Kubernetes Secret sink against a loopback API server that keeps the API's semantics:
 * create, update on change, one read when unchanged, conflicts among replicas, refusal of an
 * unmanaged Secret, every error's message; in-cluster and KUBECONFIG connections.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AgentError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { createSecretsClient, type SecretsClient } from '../agent/sink/kube/client.ts';
import { loadKubeConnection } from '../agent/sink/kube/config.ts';
import {
  DATA_HASH_ANNOTATION,
  K8sSecretSink,
  MANAGED_BY_LABEL,
  secretData,
  type SecretEntry,
} from '../agent/sink/k8s-secret.ts';
import { ADMIN_TOKEN, startKubeApiServer, type KubeApiServer } from './helpers/kube-api-server.ts';
import { CANARY } from './helpers/canary.ts';
import { tempDir } from './helpers/tmp.ts';

const signal = new AbortController().signal;
const bytes = (text: string): Uint8Array => Buffer.from(text);
const data = (record: Record<string, string>): Map<string, Uint8Array> =>
  new Map(Object.entries(record).map(([k, v]) => [k, bytes(v)]));

/** A kubeconfig file pointing at the server with a token. */
async function kubeconfig(
  t: Test,
  server: KubeApiServer,
  token: string,
  namespace = 'shop',
): Promise<string> {
  const dir = await tempDir(t);
  const file = join(dir, 'kubeconfig');
  const ca =
    server.caPem === undefined
      ? ''
      : `\n    certificate-authority-data: ${Buffer.from(server.caPem).toString('base64')}`;
  await writeFile(
    file,
    `apiVersion: v1
kind: Config
current-context: test
clusters:
- name: loopback
  cluster:
    server: ${server.url}${ca}
users:
- name: agent
  user:
    token: ${token}
contexts:
- name: test
  context: { cluster: loopback, user: agent, namespace: ${namespace} }
`,
  );
  return file;
}

async function rig(
  t: Test,
  options: { token?: string; tokens?: Parameters<typeof startKubeApiServer>[0] } = {},
) {
  const server = await startKubeApiServer({ tls: true, ...options.tokens });
  t.teardown(() => server.close());
  const file = await kubeconfig(t, server, options.token ?? ADMIN_TOKEN);
  const connection = await loadKubeConnection({ KUBECONFIG: file });
  const clients: SecretsClient[] = [];
  const sink = (): K8sSecretSink => {
    const client = createSecretsClient(connection);
    clients.push(client);
    return new K8sSecretSink({
      client,
      namespace: 'shop',
      name: 'app-secrets',
      logger: silentLogger,
    });
  };
  t.teardown(() => clients.forEach((c) => c.close()));
  return { server, sink, connection };
}

const count = (server: KubeApiServer, method: string): number =>
  server.requests.filter((r) => r.method === method).length;

t.test('create, then one read when unchanged, then update on change', async (t) => {
  const { server, sink } = await rig(t);
  const s = sink();
  t.equal(await s.write(data({ db: CANARY, user: 'u' }), signal), 'created');
  const created = server.secrets.get('shop', 'app-secrets');
  t.equal(created?.metadata.labels?.[MANAGED_BY_LABEL], 'secrets-agent');
  t.match(created?.metadata.annotations?.[DATA_HASH_ANNOTATION], /^sha256:[0-9a-f]{64}$/);
  t.equal(created?.type, 'Opaque');
  t.equal(Buffer.from(created?.data?.['db'] ?? '', 'base64').toString(), CANARY);
  t.same([count(server, 'GET'), count(server, 'POST')], [1, 1]);

  server.clearRequests();
  t.equal(await s.write(data({ db: CANARY, user: 'u' }), signal), 'unchanged');
  t.same(
    server.requests.map((r) => r.method),
    ['GET'],
    'an unchanged cycle costs one read',
  );

  server.clearRequests();
  t.equal(await s.write(data({ db: 'rotated', user: 'u' }), signal), 'updated');
  t.same(
    server.requests.map((r) => `${r.method} ${r.status}`),
    ['GET 200', 'PUT 200'],
  );
  t.equal(
    Buffer.from(server.secrets.get('shop', 'app-secrets')?.data?.['db'] ?? '', 'base64').toString(),
    'rotated',
  );

  t.equal(await s.write(data({ db: 'rotated' }), signal), 'updated', 'a removed key is a change');
  t.same(Object.keys(server.secrets.get('shop', 'app-secrets')?.data ?? {}), ['db']);
});

t.test('someone edited the data behind our back: the next cycle restores it', async (t) => {
  const { server, sink } = await rig(t);
  const s = sink();
  await s.write(data({ db: 'right' }), signal);
  const edited = server.secrets.get('shop', 'app-secrets');
  server.secrets.put('shop', {
    metadata: {
      name: 'app-secrets',
      labels: edited?.metadata.labels ?? {},
      annotations: edited?.metadata.annotations ?? {},
    },
    data: { db: Buffer.from('wrong').toString('base64') },
  });
  t.equal(await s.write(data({ db: 'right' }), signal), 'updated');
  t.equal(
    Buffer.from(server.secrets.get('shop', 'app-secrets')?.data?.['db'] ?? '', 'base64').toString(),
    'right',
  );
});

t.test('five replicas writing one Secret concurrently converge with no lost update', async (t) => {
  const { server, sink } = await rig(t);
  const sinks = Array.from({ length: 5 }, sink);
  const first = await Promise.all(sinks.map((s) => s.write(data({ db: 'v1' }), signal)));
  t.equal(first.filter((o) => o === 'created').length, 1, 'one creates');
  t.ok(
    first.every((o) => o === 'created' || o === 'unchanged'),
    `the others find it done: ${first.join(',')}`,
  );
  server.clearRequests();
  const second = await Promise.all(sinks.map((s) => s.write(data({ db: 'v2' }), signal)));
  t.ok(second.includes('updated'), 'the rotation is written');
  t.ok(
    second.every((o) => o === 'updated' || o === 'unchanged'),
    second.join(','),
  );
  t.equal(
    Buffer.from(server.secrets.get('shop', 'app-secrets')?.data?.['db'] ?? '', 'base64').toString(),
    'v2',
  );
  const puts = server.requests.filter((r) => r.method === 'PUT');
  t.comment(`PUTs: ${puts.map((p) => p.status).join(',')}`);
  t.equal(
    puts.filter((p) => p.status === 200).length,
    second.filter((o) => o === 'updated').length,
    'every success is one accepted write',
  );
  // Replicas that read before the first write landed lost the race (409) and retried on fresh data.
  const third = await Promise.all(sinks.map((s) => s.write(data({ db: 'v2' }), signal)));
  t.same(third, ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged'], 'converged');
});

t.test(
  'replicas with different data: every write is based on what it read (409s retried), none lost silently',
  async (t) => {
    const { server, sink } = await rig(t);
    const sinks = Array.from({ length: 5 }, sink);
    await sinks[0]?.write(data({ v: '0' }), signal);
    server.clearRequests();
    const outcomes = await Promise.all(
      sinks.map((s, i) => s.write(data({ v: String(i + 1) }), signal)),
    );
    t.same(outcomes, ['updated', 'updated', 'updated', 'updated', 'updated']);
    const puts = server.requests.filter((r) => r.method === 'PUT');
    t.equal(
      puts.filter((p) => p.status === 200).length,
      5,
      'each replica’s write was applied once',
    );
    t.ok(
      puts.some((p) => p.status === 409),
      'conflicts happened and were retried',
    );
  },
);

t.test('an unmanaged Secret is never taken over', async (t) => {
  const { server, sink } = await rig(t);
  server.secrets.put('shop', {
    metadata: { name: 'app-secrets', labels: { owner: 'someone' } },
    data: { db: Buffer.from('theirs').toString('base64') },
  });
  server.clearRequests();
  const err = await sink()
    .write(data({ db: 'ours' }), signal)
    .catch((e: unknown) => e);
  t.ok(err instanceof AgentError);
  t.equal((err as AgentError).code, 'SECRET_NOT_MANAGED');
  t.match(
    (err as Error).message,
    'Secret shop/app-secrets exists and is not managed by secrets-agent',
  );
  t.same(
    server.requests.map((r) => r.method),
    ['GET'],
    'nothing written',
  );
  t.equal(
    Buffer.from(server.secrets.get('shop', 'app-secrets')?.data?.['db'] ?? '', 'base64').toString(),
    'theirs',
  );
});

t.test('a pre-created Secret labelled as managed is adopted (RBAC can then name it)', async (t) => {
  const { server, sink } = await rig(t);
  server.secrets.put('shop', {
    metadata: { name: 'app-secrets', labels: { [MANAGED_BY_LABEL]: 'secrets-agent' } },
  });
  t.equal(await sink().write(data({ db: 'x' }), signal), 'updated');
});

t.test('403: the message says which permission is missing', async (t) => {
  const identity = (verbs: string[]) => ({
    username: 'system:serviceaccount:shop:catalog',
    rules: [{ verbs, namespaces: ['shop'], resourceNames: ['app-secrets'] }],
  });
  for (const [verbs, missing] of [
    [[], 'get'],
    [['get'], 'create'],
  ] as const) {
    const server = await startKubeApiServer({ tls: true, tokens: { tok: identity([...verbs]) } });
    t.teardown(() => server.close());
    const connection = await loadKubeConnection({ KUBECONFIG: await kubeconfig(t, server, 'tok') });
    const client = createSecretsClient(connection);
    t.teardown(() => client.close());
    const sink = new K8sSecretSink({
      client,
      namespace: 'shop',
      name: 'app-secrets',
      logger: silentLogger,
    });
    const err = await sink.write(data({ a: 'b' }), signal).catch((e: unknown) => e);
    t.equal((err as AgentError).code, 'KUBE_FORBIDDEN');
    t.match(
      (err as Error).message,
      `Secret shop/app-secrets: forbidden: missing permission "${missing}" on secrets in namespace shop`,
    );
    t.match(
      (err as Error).message,
      'User "system:serviceaccount:shop:catalog" cannot',
      'with the API server’s own words',
    );
  }
  const server = await startKubeApiServer({ tls: true, tokens: { tok: identity(['get']) } });
  t.teardown(() => server.close());
  server.secrets.put('shop', {
    metadata: { name: 'app-secrets', labels: { [MANAGED_BY_LABEL]: 'secrets-agent' } },
  });
  const client = createSecretsClient(
    await loadKubeConnection({ KUBECONFIG: await kubeconfig(t, server, 'tok') }),
  );
  t.teardown(() => client.close());
  const err = await new K8sSecretSink({
    client,
    namespace: 'shop',
    name: 'app-secrets',
    logger: silentLogger,
  })
    .write(data({ a: 'b' }), signal)
    .catch((e: unknown) => e);
  t.match((err as Error).message, 'missing permission "update"');
});

t.test('bad keys are left out by name before any request; too much data fails whole', async (t) => {
  const cases: [string, SecretEntry[], RegExp, string[]][] = [
    [
      'invalid key',
      [
        { key: 'bad key', value: bytes('x'), from: 'secrets[name=db].extract' },
        { key: 'good', value: bytes('y'), from: 'secrets[name=good]' },
      ],
      /key "bad key" \(from secrets\[name=db\]\.extract\) is not a valid Secret key/,
      ['good'],
    ],
    [
      'collision',
      [
        { key: 'username', value: bytes('a'), from: 'secrets[name=username]' },
        { key: 'username', value: bytes('b'), from: 'secrets[name=catalog].extract' },
        { key: 'good', value: bytes('y'), from: 'secrets[name=good]' },
      ],
      /key "username" comes from both secrets\[name=username\] and secrets\[name=catalog\]\.extract/,
      ['good'],
    ],
  ];
  for (const [title, entries, message, kept] of cases) {
    const { data, problems } = secretData(entries, 'shop/s');
    t.same([...data.keys()], kept, `${title}: the rest is kept`);
    t.equal(problems.length, 1, title);
    t.match(problems[0], { code: 'SECRET_DATA_INVALID', message }, title);
  }
  t.throws(
    () =>
      secretData(
        [
          { key: 'a', value: new Uint8Array(1024 * 1024), from: 'secret-a' },
          { key: 'b', value: bytes('x'), from: 'secret-b' },
        ],
        'shop/s',
      ),
    {
      code: 'SECRET_DATA_INVALID',
      message: /1048577 bytes of data, over the API's limit of 1048576/,
    },
  );
  t.doesNotThrow(
    () =>
      secretData([{ key: 'a', value: new Uint8Array(1024 * 1024), from: 'secret-a' }], 'shop/s'),
    'exactly 1 MiB is allowed',
  );
});

t.test('the API server’s own validation and outages come back as clear errors', async (t) => {
  const { server, connection } = await rig(t);
  const client = createSecretsClient(connection);
  t.teardown(() => client.close());
  const bad = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'Bad_Name', namespace: 'shop' },
    data: {},
  } as const;
  const invalid = await client.create(bad, signal).catch((e: unknown) => e);
  t.equal((invalid as AgentError).code, 'KUBE_REQUEST');
  t.match((invalid as Error).message, /Secret shop\/Bad_Name: create failed: Invalid: /);
  server.failNext(1, 503);
  const down = await client.get('shop', 'x', signal).catch((e: unknown) => e);
  t.equal((down as AgentError).code, 'KUBE_UNAVAILABLE');
  t.equal((down as AgentError).retryable, true);
  const nowhere = createSecretsClient({ ...connection, server: 'https://127.0.0.1:1' });
  t.teardown(() => nowhere.close());
  const gone = await nowhere.get('shop', 'x', signal).catch((e: unknown) => e);
  t.equal((gone as AgentError).code, 'KUBE_UNAVAILABLE');
  t.match((gone as Error).message, /Kubernetes API https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
});

t.test(
  'in-cluster: service-account token, CA and namespace files, re-read for each request',
  async (t) => {
    const server = await startKubeApiServer({
      tls: true,
      tokens: {
        first: {
          username: 'system:serviceaccount:shop:a',
          rules: [{ verbs: ['*'], namespaces: ['shop'] }],
        },
        rotated: {
          username: 'system:serviceaccount:shop:a',
          rules: [{ verbs: ['*'], namespaces: ['shop'] }],
        },
      },
    });
    t.teardown(() => server.close());
    const dir = await tempDir(t);
    await writeFile(join(dir, 'token'), 'first');
    await writeFile(join(dir, 'ca.crt'), server.caPem ?? '');
    await writeFile(join(dir, 'namespace'), 'shop');
    const port = new URL(server.url).port;
    const connection = await loadKubeConnection({
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: port,
      SECRETS_AGENT_SERVICE_ACCOUNT_DIR: dir,
    });
    t.equal(connection.namespace, 'shop');
    const client = createSecretsClient(connection);
    t.teardown(() => client.close());
    t.equal(await client.get('shop', 'nope', signal), undefined, '404 is "absent"');
    await writeFile(join(dir, 'token'), 'rotated');
    t.equal(await client.get('shop', 'nope', signal), undefined, 'the rotated token is used');
    t.same(
      server.requests.map((r) => r.status),
      [404, 404],
    );
  },
);

t.test('connection errors name what is missing', async (t) => {
  await t.rejects(loadKubeConnection({}), {
    code: 'KUBE_CONFIG',
    message: /not in a cluster \(KUBERNETES_SERVICE_HOST is not set\) and KUBECONFIG is not set/,
  });
  const dir = await tempDir(t);
  const write = async (name: string, text: string): Promise<string> => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };
  const cases: [string, string, RegExp][] = [
    [
      'no-server',
      'current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {}}]\n',
      /clusters\[0\]\.cluster\.server is missing/,
    ],
    [
      'no-context',
      'current-context: c\ncontexts: []\nclusters: []\n',
      /no contexts entry named "c"/,
    ],
    [
      'exec',
      'current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n',
      /users\[0\]\.user uses an exec or auth-provider plugin/,
    ],
    ['not-yaml', 'current-context: [', /is not valid YAML/],
  ];
  for (const [name, text, message] of cases) {
    await t.rejects(
      loadKubeConnection({ KUBECONFIG: await write(name, text) }),
      { code: 'KUBE_CONFIG', message },
      name,
    );
  }
  await t.rejects(
    loadKubeConnection({
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      SECRETS_AGENT_SERVICE_ACCOUNT_DIR: join(dir, 'none'),
    }),
    {
      code: 'KUBE_CONFIG',
      message: /cannot read the service-account CA .*none\/ca\.crt: ENOENT/,
    },
  );
});

t.test(
  'the agent process: init writes files and the Secret; a missing permission fails init clearly',
  async (t) => {
    const { startDevServer } = await import('../dev/server.ts');
    const { agentEnv, runAgent } = await import('./helpers/agent-process.ts');
    const { assertNoCanary } = await import('./helpers/canary.ts');
    const { readFile } = await import('node:fs/promises');
    const aws = await startDevServer({
      seed: { secrets: [{ name: 'catalog', value: { username: 'u', password: CANARY } }] },
    });
    t.teardown(() => aws.close());
    const kube = await startKubeApiServer({
      tls: true,
      tokens: {
        full: {
          username: 'system:serviceaccount:shop:app',
          rules: [{ verbs: ['get', 'create', 'update'], namespaces: ['shop'] }],
        },
        readonly: {
          username: 'system:serviceaccount:shop:app',
          rules: [{ verbs: ['get'], namespaces: ['shop'] }],
        },
      },
    });
    t.teardown(() => kube.close());
    const root = await tempDir(t);
    const config = JSON.stringify({
      mode: 'init',
      outputDir: join(root, 'secrets'),
      httpPort: 0,
      terminationLogPath: join(root, 'termination-log'),
      k8sSecret: { name: 'app-secrets' },
      secrets: [{ name: 'catalog', id: 'catalog', extract: true }],
    });
    const ok = await runAgent(
      ['--config-json', config],
      agentEnv(aws.url, { KUBECONFIG: await kubeconfig(t, kube, 'full'), POD_NAMESPACE: 'shop' }),
    );
    t.equal(ok.code, 0, ok.stdout + ok.stderr);
    t.same(Object.keys(kube.secrets.get('shop', 'app-secrets')?.data ?? {}).sort(), [
      'catalog',
      'password',
      'username',
    ]);
    t.match(ok.stdout, /"msg":"Kubernetes Secret written".*"outcome":"created"/);
    assertNoCanary(t, ok.stdout + ok.stderr, 'agent output');

    kube.secrets.delete('shop', 'app-secrets');
    const denied = await runAgent(
      ['--config-json', config],
      agentEnv(aws.url, {
        KUBECONFIG: await kubeconfig(t, kube, 'readonly'),
        POD_NAMESPACE: 'shop',
      }),
    );
    t.equal(denied.code, 1);
    const line = await readFile(join(root, 'termination-log'), 'utf8');
    t.match(
      line,
      /^failed to write Kubernetes Secret shop\/app-secrets: Secret shop\/app-secrets: forbidden: missing permission "create"/,
    );
    assertNoCanary(t, line + denied.stdout + denied.stderr, 'termination line and output');

    const noApi = await runAgent(['--config-json', config], agentEnv(aws.url));
    t.equal(noApi.code, 78, 'no Kubernetes API at all is a configuration error');
    t.match(noApi.stderr, /no Kubernetes API: not in a cluster/);
  },
);
