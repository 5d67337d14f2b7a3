// The dev endpoint's Secrets Manager operations, through the real AWS SDK client.
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  ListSecretsCommand,
  type ListSecretsCommandInput,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';

const server = await startDevServer({
  seed: {
    secrets: [
      {
        name: 'app/db',
        value: { username: 'catalog_user', password: 'pw-1' },
        description: 'Database creds',
        tags: { team: 'retail', env: 'dev' },
      },
      { name: 'app/key', binary: Buffer.from([0, 1, 2, 250]).toString('base64') },
      { name: 'other/token', value: 'tok', tags: { team: 'infra' } },
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
  t.equal(both.name, 'ResourceNotFoundException');
  const pending = await failure(
    client.send(new GetSecretValueCommand({ SecretId: 'rotated', VersionStage: 'AWSPENDING' })),
  );
  t.match(pending, {
    name: 'ResourceNotFoundException',
    status: 400,
    message: /staging label: AWSPENDING/,
  });
});

t.test('DescribeSecret and ListSecretVersionIds', async (t) => {
  const d = await client.send(new DescribeSecretCommand({ SecretId: 'rotated' }));
  t.same(d.VersionIdsToStages, {
    '11111111-1111-4111-8111-111111111111': ['AWSPREVIOUS'],
    '22222222-2222-4222-8222-222222222222': ['AWSCURRENT'],
  });
  const v = await client.send(
    new ListSecretVersionIdsCommand({ SecretId: 'rotated', MaxResults: 1 }),
  );
  t.equal(v.Versions?.length, 1);
  t.ok(v.NextToken);
  const v2 = await client.send(
    new ListSecretVersionIdsCommand({ SecretId: 'rotated', MaxResults: 1, NextToken: v.NextToken }),
  );
  t.equal(v2.Versions?.length, 1);
  t.equal(v2.NextToken, undefined);
  const bad = await failure(
    client.send(new ListSecretVersionIdsCommand({ SecretId: 'rotated', NextToken: 'garbage' })),
  );
  t.equal(bad.name, 'InvalidNextTokenException');
});

t.test('ListSecrets: filters and pagination', async (t) => {
  const names = async (input: ListSecretsCommandInput): Promise<string[]> =>
    ((await client.send(new ListSecretsCommand(input))).SecretList ?? []).map((s) => s.Name ?? '');
  t.same(await names({ Filters: [{ Key: 'name', Values: ['app/'] }] }), ['app/db', 'app/key']);
  t.same(
    await names({ Filters: [{ Key: 'name', Values: ['APP/'] }] }),
    [],
    'name is case-sensitive',
  );
  t.same(
    await names({ Filters: [{ Key: 'description', Values: ['database'] }] }),
    ['app/db'],
    'description is not',
  );
  t.same(
    await names({
      Filters: [
        { Key: 'tag-key', Values: ['team'] },
        { Key: 'tag-value', Values: ['infra'] },
      ],
    }),
    ['other/token'],
  );
  t.same(await names({ Filters: [{ Key: 'name', Values: ['!app/'] }] }), [
    'other/token',
    'rotated',
  ]);
  t.same(await names({ Filters: [{ Key: 'all', Values: ['retail'] }] }), ['app/db']);
  const first = await client.send(new ListSecretsCommand({ MaxResults: 3 }));
  t.equal(first.SecretList?.length, 3);
  const rest = await client.send(
    new ListSecretsCommand({ MaxResults: 3, NextToken: first.NextToken }),
  );
  t.ok((rest.SecretList?.length ?? 0) >= 1);
  t.ok(first.SecretList?.[0]?.SecretVersionsToStages);
});

t.test('BatchGetSecretValue: id list with per-secret errors, filters with paging', async (t) => {
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
  const page1 = await client.send(
    new BatchGetSecretValueCommand({ Filters: [{ Key: 'name', Values: ['app/'] }], MaxResults: 1 }),
  );
  t.equal(page1.SecretValues?.length, 1);
  const page2 = await client.send(
    new BatchGetSecretValueCommand({
      Filters: [{ Key: 'name', Values: ['app/'] }],
      MaxResults: 1,
      NextToken: page1.NextToken,
    }),
  );
  t.equal(page2.SecretValues?.[0]?.Name, 'app/key');
  t.equal(page2.NextToken, undefined);
  const both = await failure(
    client.send(
      new BatchGetSecretValueCommand({
        SecretIdList: ['a'],
        Filters: [{ Key: 'name', Values: ['a'] }],
      }),
    ),
  );
  t.equal(both.name, 'InvalidParameterException');
});

t.test(
  'CreateSecret (idempotent with ClientRequestToken), PutSecretValue moves stages, UpdateSecret',
  async (t) => {
    const token = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
    const created = await client.send(
      new CreateSecretCommand({
        Name: 'new/one',
        SecretString: 'v1',
        ClientRequestToken: token,
        Tags: [{ Key: 'k', Value: 'v' }],
      }),
    );
    t.equal(created.VersionId, token);
    const again = await client.send(
      new CreateSecretCommand({ Name: 'new/one', SecretString: 'v1', ClientRequestToken: token }),
    );
    t.equal(again.ARN, created.ARN);
    const clash = await failure(
      client.send(new CreateSecretCommand({ Name: 'new/one', SecretString: 'other' })),
    );
    t.equal(clash.name, 'ResourceExistsException');
    const put = await client.send(
      new PutSecretValueCommand({ SecretId: 'new/one', SecretString: 'v2' }),
    );
    t.same(put.VersionStages, ['AWSCURRENT']);
    const prev = await client.send(
      new GetSecretValueCommand({ SecretId: 'new/one', VersionStage: 'AWSPREVIOUS' }),
    );
    t.equal(prev.SecretString, 'v1');
    await client.send(
      new PutSecretValueCommand({
        SecretId: 'new/one',
        SecretString: 'v3',
        VersionStages: ['AWSPENDING'],
      }),
    );
    t.equal(
      (await client.send(new GetSecretValueCommand({ SecretId: 'new/one' }))).SecretString,
      'v2',
    );
    t.equal(
      (
        await client.send(
          new GetSecretValueCommand({ SecretId: 'new/one', VersionStage: 'AWSPENDING' }),
        )
      ).SecretString,
      'v3',
    );
    const upd = await client.send(
      new UpdateSecretCommand({
        SecretId: 'new/one',
        SecretBinary: new Uint8Array([9, 9]),
        Description: 'changed',
      }),
    );
    t.ok(upd.VersionId);
    const cur = await client.send(new GetSecretValueCommand({ SecretId: 'new/one' }));
    t.same([...(cur.SecretBinary ?? [])], [9, 9]);
    t.equal(
      (await client.send(new DescribeSecretCommand({ SecretId: 'new/one' }))).Description,
      'changed',
    );
  },
);

t.test('DeleteSecret: recovery window, restore, force', async (t) => {
  await client.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 'x' }));
  const del = await client.send(
    new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 7 }),
  );
  t.ok(del.DeletionDate instanceof Date);
  const read = await failure(client.send(new GetSecretValueCommand({ SecretId: 'doomed' })));
  t.match(read, { name: 'InvalidRequestException', status: 400, message: /marked for deletion/ });
  t.ok((await client.send(new DescribeSecretCommand({ SecretId: 'doomed' }))).DeletedDate);
  const listed = (await client.send(new ListSecretsCommand({}))).SecretList?.map((s) => s.Name);
  t.notOk(listed?.includes('doomed'));
  const listedAll = (
    await client.send(new ListSecretsCommand({ IncludePlannedDeletion: true }))
  ).SecretList?.map((s) => s.Name);
  t.ok(listedAll?.includes('doomed'));
  await client.send(new RestoreSecretCommand({ SecretId: 'doomed' }));
  t.equal((await client.send(new GetSecretValueCommand({ SecretId: 'doomed' }))).SecretString, 'x');
  await client.send(
    new DeleteSecretCommand({ SecretId: 'doomed', ForceDeleteWithoutRecovery: true }),
  );
  t.equal(
    (await failure(client.send(new GetSecretValueCommand({ SecretId: 'doomed' })))).name,
    'ResourceNotFoundException',
  );
  const both = await failure(
    client.send(
      new DeleteSecretCommand({
        SecretId: 'app/db',
        ForceDeleteWithoutRecovery: true,
        RecoveryWindowInDays: 7,
      }),
    ),
  );
  t.equal(both.name, 'InvalidParameterException');
});

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
  const unknown = await post({ 'x-amz-target': 'secretsmanager.RotateEverything' }, '{}');
  t.equal(unknown.headers.get('x-amzn-errortype'), 'UnknownOperationException');
  t.ok(unknown.headers.get('x-amzn-requestid'));
  const noAuth = await fetch(`${server.url}/`, {
    method: 'POST',
    headers: { 'x-amz-target': 'secretsmanager.ListSecrets' },
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
