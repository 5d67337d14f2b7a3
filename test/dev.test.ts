// The dev endpoint's Secrets Manager calls (the agent's two), through the real AWS SDK client.
import {
  BatchGetSecretValueCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';

const server = await startDevServer({
  seed: {
    secrets: [
      { name: 'app/db', value: { username: 'catalog_user', password: 'pw-1' } },
      { name: 'app/key', binary: Buffer.from([0, 1, 2, 250]).toString('base64') },
      { name: 'other/token', value: 'tok' },
      {
        name: 'rotated',
        versions: [
          { id: '11111111-1111-4111-8111-111111111111', value: 'old', stages: ['AWSPREVIOUS'] },
          { id: '22222222-2222-4222-8222-222222222222', value: 'new', stages: ['AWSCURRENT'] },
        ],
      },
    ],
  },
});
const client = new SecretsManagerClient({
  endpoint: server.url,
  region: 'eu-west-1',
  maxAttempts: 1,
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'dev' },
});
t.teardown(async () => {
  client.destroy();
  await server.close();
});

async function failure(
  p: Promise<unknown>,
): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected a failure');
}

t.test('GetSecretValue by name, full ARN and partial ARN; region in the ARN', async (t) => {
  const byName = await client.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
  t.same(JSON.parse(byName.SecretString ?? ''), { username: 'catalog_user', password: 'pw-1' });
  t.match(
    byName.ARN,
    /^arn:aws:secretsmanager:eu-west-1:123456789012:secret:app\/db-[A-Za-z0-9]{6}$/,
  );
  t.same(byName.VersionStages, ['AWSCURRENT']);
  t.ok(byName.CreatedDate instanceof Date);
  const byArn = await client.send(new GetSecretValueCommand({ SecretId: byName.ARN }));
  t.equal(byArn.VersionId, byName.VersionId);
  const partial = (byName.ARN ?? '').slice(0, -7);
  const byPartial = await client.send(new GetSecretValueCommand({ SecretId: partial }));
  t.equal(byPartial.Name, 'app/db');
  const wrongSuffix = await failure(
    client.send(new GetSecretValueCommand({ SecretId: `${partial}-XXXXXX` })),
  );
  t.equal(wrongSuffix.name, 'ResourceNotFoundException');
});

t.test('binary secrets come back as bytes', async (t) => {
  const out = await client.send(new GetSecretValueCommand({ SecretId: 'app/key' }));
  t.same([...(out.SecretBinary ?? [])], [0, 1, 2, 250]);
  t.equal(out.SecretString, undefined);
});

t.test('stages and version ids', async (t) => {
  const prev = await client.send(
    new GetSecretValueCommand({ SecretId: 'rotated', VersionStage: 'AWSPREVIOUS' }),
  );
  t.equal(prev.SecretString, 'old');
  const byId = await client.send(
    new GetSecretValueCommand({
      SecretId: 'rotated',
      VersionId: '22222222-2222-4222-8222-222222222222',
    }),
  );
  t.equal(byId.SecretString, 'new');
  const both = await failure(
    client.send(
      new GetSecretValueCommand({
        SecretId: 'rotated',
        VersionId: '22222222-2222-4222-8222-222222222222',
        VersionStage: 'AWSPREVIOUS',
      }),
    ),
  );
  t.match(both, {
    name: 'InvalidRequestException',
    status: 400,
    message: 'You provided a VersionStage that is not associated to the provided VersionId.',
  });
  const unknownId = await failure(
    client.send(new GetSecretValueCommand({ SecretId: 'rotated', VersionId: 'nope' })),
  );
  t.match(unknownId, { name: 'ResourceNotFoundException', message: /for VersionId: nope$/ });
  const pending = await failure(
    client.send(new GetSecretValueCommand({ SecretId: 'rotated', VersionStage: 'AWSPENDING' })),
  );
  t.match(pending, {
    name: 'ResourceNotFoundException',
    status: 400,
    message: /staging label: AWSPENDING/,
  });
});

t.test('BatchGetSecretValue: current values, per-secret errors, bad requests', async (t) => {
  const out = await client.send(
    new BatchGetSecretValueCommand({ SecretIdList: ['app/db', 'missing', 'rotated'] }),
  );
  t.same(
    out.SecretValues?.map((v) => [v.Name, v.SecretString]),
    [
      ['app/db', '{"username":"catalog_user","password":"pw-1"}'],
      ['rotated', 'new'],
    ],
  );
  t.same(out.Errors, [
    {
      SecretId: 'missing',
      ErrorCode: 'ResourceNotFoundException',
      Message: "Secrets Manager can't find the specified secret.",
    },
  ]);
  const both = await failure(
    client.send(
      new BatchGetSecretValueCommand({
        SecretIdList: ['a'],
        Filters: [{ Key: 'name', Values: ['a'] }],
      }),
    ),
  );
  t.equal(both.name, 'InvalidParameterException');
  const tooMany = await failure(
    client.send(
      new BatchGetSecretValueCommand({
        SecretIdList: Array.from({ length: 21 }, (_, i) => `s${i}`),
      }),
    ),
  );
  t.match(tooMany, { name: 'InvalidParameterException', status: 400, message: /between 1 and 20/ });
  const filters = await failure(
    client.send(
      new BatchGetSecretValueCommand({ Filters: [{ Key: 'description', Values: ['app/'] }] }),
    ),
  );
  t.match(filters, { name: 'InvalidParameterException', message: /filters by name, tag-key/ });
  const bigPage = await failure(
    client.send(
      new BatchGetSecretValueCommand({
        Filters: [{ Key: 'name', Values: ['app/'] }],
        MaxResults: 21,
      }),
    ),
  );
  t.match(bigPage, { name: 'InvalidParameterException', message: /between 1 and 20/ });
});

t.test(
  'a rotation (the handle, or PUT /_dev/secrets) moves AWSCURRENT and AWSPREVIOUS',
  async (t) => {
    const first = server.putSecretValue('new/one', 'v1');
    const second = server.putSecretValue('new/one', 'v2');
    const current = await client.send(new GetSecretValueCommand({ SecretId: 'new/one' }));
    t.match(current, { VersionId: second, SecretString: 'v2', VersionStages: ['AWSCURRENT'] });
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: 'new/one', VersionStage: 'AWSPREVIOUS' }),
    );
    t.match(previous, { VersionId: first, SecretString: 'v1', VersionStages: ['AWSPREVIOUS'] });
    const res = await fetch(`${server.url}/_dev/secrets/new%2Fone`, {
      method: 'PUT',
      body: JSON.stringify({
        binary: Buffer.from([9, 9]).toString('base64'),
        stages: ['AWSPENDING'],
      }),
    });
    t.equal(res.status, 200);
    const pending = await client.send(
      new GetSecretValueCommand({ SecretId: 'new/one', VersionStage: 'AWSPENDING' }),
    );
    t.same([...(pending.SecretBinary ?? [])], [9, 9]);
    t.equal(
      (await client.send(new GetSecretValueCommand({ SecretId: 'new/one' }))).SecretString,
      'v2',
      'AWSPENDING leaves AWSCURRENT where it was',
    );
    const bad = await fetch(`${server.url}/_dev/secrets/new%2Fone`, { method: 'PUT', body: '{}' });
    t.equal(bad.status, 400);
    t.match(((await bad.json()) as { error: string }).error, /"value"/);
  },
);

t.test('malformed requests get AWS errors, never a crash', async (t) => {
  const post = (headers: Record<string, string>, body: string): Promise<Response> =>
    fetch(`${server.url}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00',
        ...headers,
      },
      body,
    });
  const bad = await post({ 'x-amz-target': 'secretsmanager.GetSecretValue' }, '{not json');
  t.equal(bad.status, 400);
  t.equal(((await bad.json()) as { __type: string }).__type, 'SerializationException');
  const wrongType = await post(
    { 'x-amz-target': 'secretsmanager.GetSecretValue' },
    '{"SecretId": 5}',
  );
  t.equal(((await wrongType.json()) as { __type: string }).__type, 'SerializationException');
  const missing = await post({ 'x-amz-target': 'secretsmanager.GetSecretValue' }, '{}');
  t.equal(((await missing.json()) as { __type: string }).__type, 'InvalidParameterException');
  const unknown = await post({ 'x-amz-target': 'secretsmanager.DeleteSecret' }, '{}');
  t.equal(unknown.headers.get('x-amzn-errortype'), 'UnknownOperationException');
  t.ok(unknown.headers.get('x-amzn-requestid'));
  const noAuth = await fetch(`${server.url}/`, {
    method: 'POST',
    headers: { 'x-amz-target': 'secretsmanager.GetSecretValue' },
    body: '{}',
  });
  t.equal(
    ((await noAuth.json()) as { __type: string }).__type,
    'MissingAuthenticationTokenException',
  );
});

t.test('the request log records operation, ids, region and key', async (t) => {
  const gets = server.requests.list({ operation: 'GetSecretValue', secretId: 'app/db' });
  t.ok(gets.length > 0);
  t.match(gets[0], {
    service: 'secretsmanager',
    region: 'eu-west-1',
    accessKeyId: 'AKIDEXAMPLE',
    outcome: 'ok',
    status: 200,
  });
  const batch = server.requests.list({ operation: 'BatchGetSecretValue' })[0];
  t.same(batch?.secretErrors, { missing: 'ResourceNotFoundException' });
});
