// Injected faults as the SDK caller sees them, in-process and over the admin endpoints.
import {
  BatchGetSecretValueCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { fromWebToken } from '@aws-sdk/credential-providers';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';

const server = await startDevServer({
  seed: {
    secrets: [
      { name: 'a', value: 'A' },
      { name: 'b', value: 'B' },
    ],
  },
});
const client = (region = 'us-east-1'): SecretsManagerClient => {
  const c = new SecretsManagerClient({
    endpoint: server.url,
    region,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKID', secretAccessKey: 's' },
  });
  t.teardown(() => c.destroy());
  return c;
};
const sm = client();
t.teardown(() => server.close());
t.beforeEach(() => server.faults.clear());

async function failure(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    const e = err as {
      name: string;
      code?: string;
      $fault?: string;
      $metadata?: { httpStatusCode?: number };
    };
    return { name: e.name, code: e.code, fault: e.$fault, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected a failure');
}
const get = (id = 'a', c = sm): Promise<unknown> =>
  c.send(new GetSecretValueCommand({ SecretId: id }));

t.test('each kind as the SDK sees it', async (t) => {
  const cases: [Parameters<typeof server.faults.add>[0], Record<string, unknown>][] = [
    [{ kind: 'throttle' }, { name: 'ThrottlingException', status: 400, fault: 'client' }],
    [{ kind: 'error5xx' }, { name: 'InternalServiceError', status: 500, fault: 'server' }],
    [
      { kind: 'error5xx', status: 503 },
      { name: 'ServiceUnavailable', status: 503, fault: 'server' },
    ],
    [{ kind: 'accessDenied' }, { name: 'AccessDeniedException', status: 400 }],
    [{ kind: 'decryptFailure' }, { name: 'DecryptionFailure', status: 400 }],
    [{ kind: 'notFound' }, { name: 'ResourceNotFoundException', status: 400 }],
    [{ kind: 'drop' }, { code: 'ECONNRESET', status: undefined }],
  ];
  for (const [spec, expected] of cases) {
    server.faults.clear();
    server.faults.add(spec);
    t.match(await failure(get()), expected, spec.kind);
  }
});

t.test('latency delays the answer until it has been waited out', async (t) => {
  // The dev endpoint's sleep, held by the test: the answer must wait for it, whatever the clock.
  const asked: number[] = [];
  let release = (): void => undefined;
  let sleeping = (): void => undefined;
  const asleep = new Promise<void>((resolve) => (sleeping = resolve));
  const slow = await startDevServer({
    seed: { secrets: [{ name: 'a', value: 'A' }] },
    sleep: (ms) => {
      if (ms <= 0) return Promise.resolve();
      asked.push(ms);
      sleeping();
      return new Promise<void>((resolve) => (release = resolve));
    },
  });
  t.teardown(() => slow.close());
  const c = new SecretsManagerClient({
    endpoint: slow.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKID', secretAccessKey: 's' },
  });
  t.teardown(() => c.destroy());
  slow.faults.add({ kind: 'latency', latencyMs: 150, count: 1 });
  let answered = false;
  const answer = c.send(new GetSecretValueCommand({ SecretId: 'a' })).then((r) => {
    answered = true;
    return r;
  });
  await asleep;
  t.same(asked, [150], 'the latency asked for');
  t.notOk(answered, 'no answer while it lasts');
  release();
  t.equal((await answer).SecretString, 'A', 'the answer once it is over');
});

t.test('count-limited faults stop after N; the SDK retries through them', async (t) => {
  server.faults.add({ kind: 'throttle', count: 2 });
  t.equal((await failure(get())).name, 'ThrottlingException');
  t.equal((await failure(get())).name, 'ThrottlingException');
  await get();
  t.same(server.faults.list(), []);
  server.faults.add({ kind: 'error5xx', count: 1 });
  const retrying = new SecretsManagerClient({
    endpoint: server.url,
    region: 'us-east-1',
    maxAttempts: 3,
    credentials: { accessKeyId: 'AKID', secretAccessKey: 's' },
  });
  t.teardown(() => retrying.destroy());
  const out = await retrying.send(new GetSecretValueCommand({ SecretId: 'a' }));
  t.equal(out.$metadata.attempts, 2);
});

t.test('scoping by operation, secret, region', async (t) => {
  server.faults.add({ kind: 'throttle', operation: 'BatchGetSecretValue' });
  await get();
  t.equal(
    (await failure(sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['a'] })))).name,
    'ThrottlingException',
  );
  server.faults.clear();
  server.faults.add({ kind: 'notFound', secretId: 'b' });
  await get('a');
  t.equal((await failure(get('b'))).name, 'ResourceNotFoundException');
  const arn = (await sm.send(new GetSecretValueCommand({ SecretId: 'a' }))).ARN ?? '';
  server.faults.add({ kind: 'decryptFailure', secretId: 'a' });
  t.equal(
    (await failure(get(arn))).name,
    'DecryptionFailure',
    'an ARN matches a fault scoped by name',
  );
  server.faults.clear();
  server.faults.add({ kind: 'error5xx', region: 'us-east-1' });
  t.equal((await failure(get())).name, 'InternalServiceError');
  await get('a', client('us-west-2'));
});

t.test('BatchGetSecretValue: secret-scoped faults fail one entry', async (t) => {
  server.faults.add({ kind: 'accessDenied', secretId: 'b' });
  const out = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['a', 'b'] }));
  t.same(
    out.SecretValues?.map((v) => v.Name),
    ['a'],
  );
  t.same(
    out.Errors?.map((e) => [e.SecretId, e.ErrorCode]),
    [['b', 'AccessDeniedException']],
  );
  server.faults.clear();
  server.faults.add({ kind: 'accessDenied', operation: 'BatchGetSecretValue' });
  t.equal(
    (await failure(sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['a'] })))).name,
    'AccessDeniedException',
  );
});

t.test('STS faults', async (t) => {
  const token = `${Buffer.from('{}').toString('base64url')}.${Buffer.from('{"sub":"s","aud":"x"}').toString('base64url')}.sig`;
  server.faults.add({ kind: 'throttle', operation: 'AssumeRoleWithWebIdentity', count: 1 });
  const provider = fromWebToken({
    roleArn: 'arn:aws:iam::123456789012:role/r',
    webIdentityToken: token,
    clientConfig: { endpoint: server.url, region: 'us-east-1', maxAttempts: 1 },
  });
  t.equal((await failure(provider())).name, 'Throttling');
  t.ok((await provider()).accessKeyId);
});

t.test('admin endpoints drive the same registry and log', async (t) => {
  const post = await fetch(`${server.url}/_dev/faults`, {
    method: 'POST',
    body: JSON.stringify({ kind: 'throttle', secretId: 'a', count: 1 }),
  });
  t.equal(post.status, 201);
  const listed = (await (await fetch(`${server.url}/_dev/faults`)).json()) as {
    faults: { kind: string }[];
  };
  t.same(
    listed.faults.map((f) => f.kind),
    ['throttle'],
  );
  t.equal((await failure(get())).name, 'ThrottlingException');
  const bad = await fetch(`${server.url}/_dev/faults`, {
    method: 'POST',
    body: JSON.stringify({ kind: 'explode' }),
  });
  t.equal(bad.status, 400);
  t.match(((await bad.json()) as { error: string }).error, /fault\.kind/);
  await fetch(`${server.url}/_dev/faults`, {
    method: 'POST',
    body: JSON.stringify({ kind: 'throttle' }),
  });
  t.equal((await fetch(`${server.url}/_dev/faults`, { method: 'DELETE' })).status, 200);
  await get();
  const reqs = (await (
    await fetch(`${server.url}/_dev/requests?operation=GetSecretValue&outcome=ThrottlingException`)
  ).json()) as { requests: { faults: string[] }[] };
  t.ok(reqs.requests.length > 0);
  t.same(reqs.requests.at(-1)?.faults, ['throttle']);
  const put = await fetch(`${server.url}/_dev/secrets/a`, {
    method: 'PUT',
    body: JSON.stringify({ value: 'A2' }),
  });
  t.equal(put.status, 200);
  t.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'a' }))).SecretString, 'A2');
  await fetch(`${server.url}/_dev/requests`, { method: 'DELETE' });
  t.same(server.requests.list(), []);
});
