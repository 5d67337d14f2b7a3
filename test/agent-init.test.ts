/**
 * `secrets-agent agent` in init mode, as a real process, through the real AWS SDK, against
 * `secrets-agent dev`: the IRSA path, every rendering option, batching and its fallback, and
 * each failure's exit code, termination line and logs.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startDevServer, type DevServer } from '../dev/server.ts';
import { INIT_ATTEMPTS_FOR_PERMANENT_ERRORS, terminationMessage } from '../agent/agent.ts';
import { agentEnv, irsaEnv, runAgent, webIdentityToken } from './helpers/agent-process.ts';
import { agentRig } from './helpers/agent-rig.ts';
import { AgentClock } from './helpers/virtual-time.ts';
import { assertNoCanary, CANARY } from './helpers/canary.ts';
import { irsaDevServer } from './helpers/irsa-dev-server.ts';
import { tempDir } from './helpers/tmp.ts';

const ROLE = 'arn:aws:iam::123456789012:role/catalog';

function devServer(t: Test): Promise<DevServer> {
  return irsaDevServer(t, [
    {
      name: 'eks-workshop-catalog-secret',
      value: { username: 'catalog_user', password: CANARY },
    },
    { name: 'plain', value: `plain-${CANARY}` },
    { name: 'binary', binary: Buffer.from([0, 1, 2, 254, 255]).toString('base64') },
    {
      name: 'nested',
      value: { db: { host: 'db.local', port: 5432 }, user: 'u', pass: `p'q"${CANARY}` },
    },
    {
      name: 'rotated',
      versions: [
        {
          id: '11111111-1111-4111-8111-111111111111',
          value: { password: 'old' },
          stages: ['AWSPREVIOUS'],
        },
        {
          id: '22222222-2222-4222-8222-222222222222',
          value: { password: 'new' },
          stages: ['AWSCURRENT'],
        },
      ],
    },
  ]);
}

function config(dir: string, secrets: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    mode: 'init',
    outputDir: dir,
    httpPort: 0,
    terminationLogPath: join(dir, '..', 'termination-log'),
    secrets,
    ...extra,
  });
}

t.test(
  'IRSA end to end: token file → STS AssumeRoleWithWebIdentity → Secrets Manager',
  async (t) => {
    const server = await devServer(t);
    const root = await tempDir(t);
    const tokenFile = join(root, 'token');
    await writeFile(tokenFile, webIdentityToken());
    const out = join(root, 'secrets');
    const env = agentEnv(server.url, {
      AWS_ROLE_ARN: ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_SESSION_NAME: 'catalog-pod',
      // The per-service endpoint variables, not the general one.
      AWS_ENDPOINT_URL_SECRETS_MANAGER: server.url,
      AWS_ENDPOINT_URL_STS: server.url,
    });
    delete env['AWS_ENDPOINT_URL'];
    delete env['AWS_ACCESS_KEY_ID'];
    delete env['AWS_SECRET_ACCESS_KEY'];
    const run = await runAgent(
      ['--config-json', config(out, [{ name: 'catalog', id: 'eks-workshop-catalog-secret' }])],
      env,
    );
    t.equal(run.code, 0, run.stdout + run.stderr);
    t.same(JSON.parse(await readFile(join(out, 'catalog'), 'utf8')), {
      username: 'catalog_user',
      password: CANARY,
    });
    const sts = server.requests.list({ operation: 'AssumeRoleWithWebIdentity' });
    t.equal(sts.length, 1, 'one STS exchange');
    t.equal(sts[0]?.outcome, 'ok');
    const reads = server.requests.list({ operation: 'BatchGetSecretValue' });
    t.equal(reads.length, 1, 'one batch read');
    t.equal(reads[0]?.roleArn, ROLE, 'signed with the credentials STS issued for the role');
    t.not(reads[0]?.accessKeyId, 'AKIDEXAMPLESTATIC');
    assertNoCanary(t, run.stdout + run.stderr, 'agent output');
  },
);

t.test(
  'EKS Pod Identity: container credentials endpoint with its token file → Secrets Manager',
  async (t) => {
    const podIdentityKey = {
      accessKeyId: 'ASIAPODIDENTITY',
      secretAccessKey: 'pod-identity-secret',
      roleArn: ROLE,
    };
    const server = await startDevServer({
      seed: {
        secrets: [{ name: 'eks-workshop-catalog-secret', value: '{"password":"x"}' }],
        credentials: [podIdentityKey],
      },
    });
    t.teardown(() => server.close());
    const root = await tempDir(t);
    const tokenFile = join(root, 'eks-pod-identity-token');
    await writeFile(tokenFile, 'pod-identity-agent-token');
    const authorizations: (string | undefined)[] = [];
    // The EKS Pod Identity agent's credentials endpoint, on loopback.
    const agentEndpoint = createServer((req, res) => {
      authorizations.push(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          AccessKeyId: podIdentityKey.accessKeyId,
          SecretAccessKey: podIdentityKey.secretAccessKey,
          Token: 'pod-identity-session-token',
          AccountId: '123456789012',
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      );
    });
    await new Promise<void>((resolve) => agentEndpoint.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => agentEndpoint.close(() => resolve())));
    const { port } = agentEndpoint.address() as AddressInfo;
    const env = agentEnv(server.url, {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
    });
    delete env['AWS_ACCESS_KEY_ID'];
    delete env['AWS_SECRET_ACCESS_KEY'];
    const out = join(root, 'secrets');
    const run = await runAgent(
      [
        '--config-json',
        config(out, [{ name: 'p', id: 'eks-workshop-catalog-secret', key: 'password' }]),
      ],
      env,
    );
    t.equal(run.code, 0, run.stdout + run.stderr);
    t.equal(await readFile(join(out, 'p'), 'utf8'), 'x');
    t.same(authorizations, ['pod-identity-agent-token'], 'the token file was presented once');
    const reads = server.requests.list({ operation: 'BatchGetSecretValue' });
    t.equal(
      reads[0]?.accessKeyId,
      podIdentityKey.accessKeyId,
      'signed with the pod identity credentials',
    );
    t.equal(reads[0]?.outcome, 'ok', 'and the signature verified');
  },
);

t.test('an expired web identity token fails init with a credentials error', async (t) => {
  const server = await devServer(t);
  const root = await tempDir(t);
  const tokenFile = join(root, 'token');
  await writeFile(tokenFile, webIdentityToken({ exp: Math.floor(Date.now() / 1000) - 60 }));
  const clock = new AgentClock();
  const { agent } = await agentRig(
    t,
    server,
    { mode: 'init', secrets: [{ name: 'catalog', id: 'eks-workshop-catalog-secret' }] },
    {
      clock,
      env: {
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_ROLE_ARN: ROLE,
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      },
    },
  );
  const failures = await clock.drive(agent.runInit(new AbortController().signal));
  t.match(terminationMessage(failures), /^failed to fetch catalog: .*ExpiredToken/);
  t.equal(
    server.requests.list({ operation: 'AssumeRoleWithWebIdentity' }).length,
    INIT_ATTEMPTS_FOR_PERMANENT_ERRORS,
    'an error waiting rarely cures: three attempts',
  );
});

t.test('every rendering option, binary secrets, version stages and ids, file modes', async (t) => {
  const server = await devServer(t);
  const root = await tempDir(t);
  const out = join(root, 'secrets');
  const secrets = [
    { name: 'raw', id: 'plain' },
    { name: 'bin', id: 'binary' },
    { name: 'password', id: 'eks-workshop-catalog-secret', key: 'password', mode: '0400' },
    { name: 'host', id: 'nested', key: 'db.host' },
    { name: 'db.json', id: 'nested', key: 'db', format: 'json' },
    {
      name: 'dsn',
      id: 'nested',
      template: 'postgres://{{ user }}@{{ db.host }}:{{ db.port }}/app',
    },
    { name: 'all.yaml', id: 'nested', format: 'yaml' },
    { name: 'all.env', id: 'nested', format: 'env' },
    { name: 'app.dotenv', id: 'nested', format: 'dotenv' },
    { name: 'app.properties', id: 'nested', format: 'properties' },
    { name: 'previous', id: 'rotated', versionStage: 'AWSPREVIOUS', key: 'password' },
    {
      name: 'pinned',
      id: 'rotated',
      versionId: '22222222-2222-4222-8222-222222222222',
      key: 'password',
    },
  ];
  const run = await runAgent(['--config-json', config(out, secrets)], agentEnv(server.url));
  t.equal(run.code, 0, run.stdout + run.stderr);
  const read = (name: string): Promise<string> => readFile(join(out, name), 'utf8');
  t.equal(await read('raw'), `plain-${CANARY}`);
  t.same([...(await readFile(join(out, 'bin')))], [0, 1, 2, 254, 255], 'binary bytes exactly');
  t.equal(await read('password'), CANARY);
  t.equal((await stat(join(out, 'password'))).mode & 0o777, 0o400);
  t.equal(
    (await stat(join(out, 'raw'))).mode & 0o777,
    0o644,
    'the default mode follows Secret volumes',
  );
  t.equal(await read('host'), 'db.local');
  t.same(JSON.parse(await read('db.json')), { host: 'db.local', port: 5432 });
  t.equal(await read('dsn'), 'postgres://u@db.local:5432/app');
  t.match(await read('all.yaml'), /db:\n {2}host: db.local\n {2}port: 5432\nuser: u\n/);
  t.match(await read('all.env'), `export user='u'\n`);
  t.match(await read('all.env'), `export pass='p'\\''q"${CANARY}'`);
  t.match(await read('app.dotenv'), /^user=u$/m);
  t.match(await read('app.properties'), /^user=u$/m);
  t.equal(await read('previous'), 'old');
  t.equal(await read('pinned'), 'new');
  const batch = server.requests.list({ operation: 'BatchGetSecretValue' });
  t.equal(batch.length, 1, 'one batch call for every current-version secret');
  t.same(
    [...(batch[0]?.secretIds ?? [])].sort(),
    ['binary', 'eks-workshop-catalog-secret', 'nested', 'plain'],
    'each id once',
  );
  const gets = server.requests.list({ operation: 'GetSecretValue' });
  t.equal(gets.length, 2, 'pinned stage and version need GetSecretValue');
  assertNoCanary(t, run.stdout + run.stderr, 'agent output');
});

t.test(
  '45 secrets take ceil(45/20) = 3 batch calls; the same id named twice is read once',
  async (t) => {
    const server = await devServer(t);
    for (let i = 0; i < 45; i++) server.putSecretValue(`bulk/${i}`, `value-${i}`);
    const root = await tempDir(t);
    const out = join(root, 'secrets');
    const secrets = Array.from({ length: 45 }, (_, i) => ({ name: `s${i}`, id: `bulk/${i}` }));
    secrets.push({ name: 'again', id: 'bulk/0' });
    const run = await runAgent(['--config-json', config(out, secrets)], agentEnv(server.url));
    t.equal(run.code, 0, run.stderr);
    const batch = server.requests.list({ operation: 'BatchGetSecretValue' });
    t.equal(batch.length, 3);
    const ids = batch.flatMap((r) => r.secretIds);
    t.equal(ids.length, 45, 'no id asked twice');
    t.equal(await readFile(join(out, 'again'), 'utf8'), 'value-0');
    t.equal(await readFile(join(out, 's44'), 'utf8'), 'value-44');
  },
);

t.test('a denied BatchGetSecretValue falls back to GetSecretValue per secret', async (t) => {
  const server = await devServer(t);
  server.faults.add({ kind: 'accessDenied', operation: 'BatchGetSecretValue' });
  const root = await tempDir(t);
  const env = irsaEnv(server.url, root, ROLE);
  const out = join(root, 'secrets');
  const run = await runAgent(
    [
      '--config-json',
      config(out, [
        { name: 'a', id: 'plain' },
        { name: 'b', id: 'nested', key: 'user' },
      ]),
    ],
    env,
  );
  t.equal(run.code, 0, run.stdout + run.stderr);
  t.equal(await readFile(join(out, 'b'), 'utf8'), 'u');
  t.same(
    server.requests.list({ operation: 'BatchGetSecretValue' }).map((r) => r.outcome),
    ['AccessDeniedException'],
  );
  t.equal(server.requests.list({ operation: 'GetSecretValue', outcome: 'ok' }).length, 2);
  t.match(run.stdout, /BatchGetSecretValue is denied/);
});

const failures: {
  title: string;
  fault?: Parameters<DevServer['faults']['add']>[0];
  secrets?: unknown[];
  pattern: RegExp;
  extra?: Record<string, unknown>;
}[] = [
  {
    title: 'a missing secret',
    secrets: [{ name: 'gone', id: 'no-such-secret' }],
    pattern: /^failed to fetch gone: secret no-such-secret: ResourceNotFoundException: /,
  },
  {
    title: 'access denied',
    fault: { kind: 'accessDenied', secretId: 'plain' },
    pattern: /^failed to fetch p: secret plain: AccessDeniedException: /,
  },
  {
    title: 'a KMS decrypt failure',
    fault: { kind: 'decryptFailure', secretId: 'plain' },
    pattern: /^failed to fetch p: secret plain: DecryptionFailure: /,
  },
  {
    title: 'throttling that never ends',
    fault: { kind: 'throttle' },
    pattern: /^failed to fetch p: secret plain: ThrottlingException: /,
    extra: { initTimeout: '3s' },
  },
  {
    title: '5xx that never ends',
    fault: { kind: 'error5xx' },
    pattern: /^failed to fetch p: secret plain: InternalServiceError: /,
    extra: { initTimeout: '3s' },
  },
  {
    title: 'dropped connections',
    fault: { kind: 'drop' },
    pattern: /^failed to fetch p: secret plain: \w+/,
    extra: { initTimeout: '3s' },
  },
  {
    title: 'a template naming a missing field',
    secrets: [{ name: 't', id: 'nested', template: '{{ nope }}' }],
    pattern: /^failed to fetch t: .*nope/,
  },
];

/** What the line and the logs must show, however init was run. */
function checkLine(t: Test, line: string, pattern: RegExp, logs: string): void {
  t.match(line, pattern);
  t.equal(line.trimEnd().split('\n').length, 1, 'one line');
  t.notMatch(line, /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/, 'no request id');
  assertNoCanary(t, line + logs, 'termination line and logs');
}

for (const f of failures) {
  t.test(`init fails clearly on ${f.title}: one termination line, no value`, async (t) => {
    const server = await devServer(t);
    if (f.fault !== undefined) server.faults.add(f.fault);
    // The agent's own loop, in virtual time: its retries and initTimeout take no real time.
    const clock = new AgentClock();
    const { agent, logs } = await agentRig(
      t,
      server,
      { mode: 'init', secrets: f.secrets ?? [{ name: 'p', id: 'plain' }], ...f.extra },
      { clock },
    );
    const failures = await clock.drive(agent.runInit(new AbortController().signal));
    t.ok(clock.now() < 30_000, 'gives up in bounded time');
    checkLine(t, terminationMessage(failures), f.pattern, logs.join(''));
  });
}

/**
 * As a process: exit 1 and the line in the termination log (what `serve` does with any
 * failure), for an error retried until initTimeout. Not its 1 s minimum: on a loaded machine the
 * first call can take that long, and the line then says initTimeout ran out before any answer.
 */
for (const f of failures.filter((c) => c.title === '5xx that never ends')) {
  t.test(`a process: init fails on ${f.title}: exit 1, one termination line`, async (t) => {
    const server = await devServer(t);
    if (f.fault !== undefined) server.faults.add(f.fault);
    const root = await tempDir(t);
    const out = join(root, 'secrets');
    const run = await runAgent(
      [
        '--config-json',
        config(out, f.secrets ?? [{ name: 'p', id: 'plain' }], { ...f.extra, initTimeout: '2s' }),
      ],
      agentEnv(server.url),
    );
    t.equal(run.code, 1, 'exit 1');
    const line = await readFile(join(root, 'termination-log'), 'utf8');
    checkLine(t, line, f.pattern, run.stdout + run.stderr);
  });
}

t.test(
  'a throttling burst is ridden out by the agent’s own retries: one call per cycle',
  async (t) => {
    const server = await devServer(t);
    server.faults.add({ kind: 'throttle', count: 3 });
    const clock = new AgentClock();
    const { agent, logs, dir } = await agentRig(
      t,
      server,
      { mode: 'init', secrets: [{ name: 'p', id: 'plain' }] },
      { clock },
    );
    t.same(await clock.drive(agent.runInit(new AbortController().signal)), []);
    t.equal(await readFile(join(dir, 'p'), 'utf8'), `plain-${CANARY}`);
    const calls = server.requests.list().map((r) => `${r.operation} ${r.outcome}`);
    // The throttled batch call gives way to GetSecretValue at once (and for its cool-down).
    t.same(calls, [
      'BatchGetSecretValue ThrottlingException',
      'GetSecretValue ThrottlingException',
      'GetSecretValue ThrottlingException',
      'GetSecretValue ok',
    ]);
    const waits = logs.filter((l) => l.includes('"msg":"retrying"'));
    t.equal(waits.length, 2, 'two waits, no SDK retry between');
    const waited = waits.reduce((sum, l) => sum + (JSON.parse(l) as { inMs: number }).inMs, 0);
    t.equal(clock.now(), waited, 'the time init took: its two waits');
  },
);

t.test('invalid configuration: exit 78 and every problem named', async (t) => {
  const run = await runAgent(
    [
      '--config-json',
      JSON.stringify({ mode: 'forever', secrets: [{ name: '../x', id: 'a', format: 'xml' }] }),
    ],
    agentEnv('http://127.0.0.1:9'),
  );
  t.equal(run.code, 78);
  t.match(run.stderr, /mode: must be one of init, sidecar; got "forever"/);
  t.match(run.stderr, /secrets\[0\]\.name: "\.\.\/x" is not a valid file name/);
  t.match(run.stderr, /secrets\[0\]\.format: must be one of/);
  const none = await runAgent([], agentEnv('http://127.0.0.1:9'));
  t.equal(none.code, 2);
  t.match(none.stderr, /exactly one of --config FILE or --config-json JSON/);
});

t.test('a YAML configuration file and environment-variable twins of the flags', async (t) => {
  const server = await devServer(t);
  const root = await tempDir(t);
  const file = join(root, 'agent.yaml');
  await writeFile(file, 'mode: sidecar\nsecrets:\n  - name: p\n    id: plain\n');
  const out = join(root, 'from-env');
  const run = await runAgent(
    [],
    agentEnv(server.url, {
      SECRETS_AGENT_CONFIG_FILE: file,
      SECRETS_AGENT_MODE: 'init',
      SECRETS_AGENT_OUTPUT_DIR: out,
      SECRETS_AGENT_HTTP_PORT: '0',
    }),
  );
  t.equal(run.code, 0, run.stdout + run.stderr);
  t.equal(await readFile(join(out, 'p'), 'utf8'), `plain-${CANARY}`);
});

t.test('no region anywhere: exit 78 with a clear line, before any AWS call', async (t) => {
  const env = agentEnv('http://127.0.0.1:9');
  delete env['AWS_REGION'];
  const run = await runAgent(
    [
      '--config-json',
      JSON.stringify({ mode: 'init', httpPort: 0, secrets: [{ name: 'a', id: 'a' }] }),
    ],
    env,
  );
  t.equal(run.code, 78);
  // In the configuration's terms: the agent cannot tell a file from what the injector wrote.
  t.notMatch(run.stderr, /secrets-agent\.io|--default-region/);
  t.match(
    run.stderr,
    /no AWS region: set region in the configuration, AWS_REGION or AWS_DEFAULT_REGION/,
  );
});

t.test(
  'ARNs in two regions from a YAML file: exit 78 naming the fields, before any AWS call',
  async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'agent.yaml');
    await writeFile(
      file,
      [
        'mode: init',
        'httpPort: 0',
        'secrets:',
        '  - name: a',
        '    id: arn:aws:secretsmanager:eu-west-1:111122223333:secret:a-AbCdEf',
        '  - name: b',
        '    source: parameter',
        '    id: arn:aws:ssm:us-east-1:111122223333:parameter/b',
        '',
      ].join('\n'),
    );
    // A region in the environment does not settle it: the ARNs come first in the chain.
    const run = await runAgent(['--config', file], agentEnv('http://127.0.0.1:9'));
    t.equal(run.code, 78);
    t.match(
      run.stderr,
      /secrets\[1\]\.id: names region us-east-1, but secrets\[0\]\.id names eu-west-1: ARNs in different regions need region/,
    );
    t.notMatch(run.stderr, /secrets-agent\.io/, 'in the configuration’s terms, not annotations');
  },
);
