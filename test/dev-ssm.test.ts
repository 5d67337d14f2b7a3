// The dev endpoint's SSM Parameter Store calls and Secrets Manager's filtered reads, through the
// real AWS SDK clients: answers, pages, selectors, validation and injected faults.
import {
  BatchGetSecretValueCommand,
  ListSecretsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';

const server = await startDevServer({
  seed: {
    secrets: [
      { name: 'svc/a', value: 'A', tags: { team: 'pay' } },
      { name: 'svc/b', value: 'B', tags: { team: 'ops' } },
      { name: 'SVC/upper', value: 'U' },
      { name: 'other', value: 'O' },
    ],
    parameters: [
      { name: '/app/url', value: 'u' },
      { name: '/app/secret', value: 's3cret', type: 'SecureString', labels: ['prod'] },
      { name: '/app/list', value: ['x', 'y'] },
      { name: '/app/deep/er', value: 'd' },
      { name: 'flat', value: 'f' },
    ],
  },
});
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'dev' };
const ssm = new SSMClient({
  endpoint: server.url,
  region: 'eu-west-1',
  maxAttempts: 1,
  credentials,
});
const sm = new SecretsManagerClient({
  endpoint: server.url,
  region: 'eu-west-1',
  maxAttempts: 1,
  credentials,
});
t.teardown(async () => {
  ssm.destroy();
  sm.destroy();
  await server.close();
});

async function failure(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string };
    return { name: e.name, message: e.message };
  }
  throw new Error('expected a failure');
}

t.test(
  'GetParameters: names, selectors, ARNs; missing ones listed; decryption asked for',
  async (t) => {
    server.putParameter('/app/url', 'u2');
    const out = await ssm.send(
      new GetParametersCommand({
        Names: [
          '/app/url',
          '/app/url:1',
          '/app/secret:prod',
          'arn:aws:ssm:eu-west-1:123456789012:parameter/app/list',
          'arn:aws:ssm:eu-west-1:123456789012:parameter/flat',
          '/nope',
          '/app/url:9',
        ],
        WithDecryption: true,
      }),
    );
    t.same(
      out.Parameters?.map((p) => [p.Name, p.Value, p.Version, p.Selector, p.Type]),
      [
        ['/app/url', 'u2', 2, undefined, 'String'],
        ['/app/url', 'u', 1, ':1', 'String'],
        ['/app/secret', 's3cret', 1, ':prod', 'SecureString'],
        ['/app/list', 'x,y', 1, undefined, 'StringList'],
        ['flat', 'f', 1, undefined, 'String'],
      ],
    );
    t.equal(out.Parameters?.[0]?.ARN, 'arn:aws:ssm:eu-west-1:123456789012:parameter/app/url');
    t.same(out.InvalidParameters, ['/nope', '/app/url:9']);
    const encrypted = await ssm.send(new GetParametersCommand({ Names: ['/app/secret'] }));
    t.not(encrypted.Parameters?.[0]?.Value, 's3cret', 'without WithDecryption: not the plaintext');
    const tooMany = await failure(
      ssm.send(new GetParametersCommand({ Names: Array.from({ length: 11 }, (_, i) => `/p${i}`) })),
    );
    t.match(tooMany, { name: 'ValidationException', message: /less than or equal to 10/ });
  },
);

t.test('GetParametersByPath: recursive or one level, pages of at most 10', async (t) => {
  const one = await ssm.send(new GetParametersByPathCommand({ Path: '/app' }));
  t.same(
    one.Parameters?.map((p) => p.Name),
    ['/app/list', '/app/secret', '/app/url'],
  );
  const all = await ssm.send(
    new GetParametersByPathCommand({
      Path: '/app/',
      Recursive: true,
      WithDecryption: true,
      MaxResults: 2,
    }),
  );
  t.same(
    all.Parameters?.map((p) => p.Name),
    ['/app/deep/er', '/app/list'],
  );
  t.ok(all.NextToken);
  const next = await ssm.send(
    new GetParametersByPathCommand({
      Path: '/app/',
      Recursive: true,
      WithDecryption: true,
      MaxResults: 10,
      NextToken: all.NextToken,
    }),
  );
  t.same(
    next.Parameters?.map((p) => [p.Name, p.Value]),
    [
      ['/app/secret', 's3cret'],
      ['/app/url', 'u2'],
    ],
  );
  t.equal(next.NextToken, undefined);
  const big = await failure(
    ssm.send(new GetParametersByPathCommand({ Path: '/app', MaxResults: 11 })),
  );
  t.match(big, { name: 'ValidationException', message: /less than or equal to 10/ });
  const relative = await failure(ssm.send(new GetParametersByPathCommand({ Path: 'app' })));
  t.match(relative, { name: 'ValidationException', message: /begin with a forward slash/ });
});

t.test('GetParameter: one value, or ParameterNotFound', async (t) => {
  const out = await ssm.send(
    new GetParameterCommand({ Name: '/app/secret', WithDecryption: true }),
  );
  t.equal(out.Parameter?.Value, 's3cret');
  t.match(await failure(ssm.send(new GetParameterCommand({ Name: '/none' }))), {
    name: 'ParameterNotFound',
  });
});

t.test('SSM faults are scoped by name and said in SSM words; requests are logged', async (t) => {
  server.faults.add({ kind: 'notFound', secretId: '/app/url', count: 1 });
  t.match(await failure(ssm.send(new GetParametersCommand({ Names: ['/app/url'] }))), {
    name: 'ParameterNotFound',
  });
  server.faults.add({ kind: 'decryptFailure', operation: 'GetParametersByPath', count: 1 });
  t.match(await failure(ssm.send(new GetParametersByPathCommand({ Path: '/app' }))), {
    name: 'AccessDeniedException',
    message: /kms:Decrypt/,
  });
  server.faults.add({ kind: 'throttle', operation: 'GetParameter', count: 1 });
  t.match(await failure(ssm.send(new GetParameterCommand({ Name: '/app/url' }))), {
    name: 'ThrottlingException',
  });
  const logged = server.requests.list().filter((r) => r.service === 'ssm');
  t.ok(
    logged.some(
      (r) => r.operation === 'GetParametersByPath' && r.outcome === 'AccessDeniedException',
    ),
  );
  t.notMatch(JSON.stringify(server.requests.list()), /s3cret/, 'no value in the request log');
});

t.test('BatchGetSecretValue and ListSecrets by filters, paged', async (t) => {
  const page = await sm.send(
    new BatchGetSecretValueCommand({ Filters: [{ Key: 'name', Values: ['svc/'] }], MaxResults: 2 }),
  );
  t.same(
    page.SecretValues?.map((v) => v.Name),
    ['SVC/upper', 'svc/a'],
    'prefix, case-insensitive',
  );
  const rest = await sm.send(
    new BatchGetSecretValueCommand({
      Filters: [{ Key: 'name', Values: ['svc/'] }],
      MaxResults: 2,
      NextToken: page.NextToken,
    }),
  );
  t.same(
    rest.SecretValues?.map((v) => [v.Name, v.SecretString]),
    [['svc/b', 'B']],
  );
  t.equal(rest.NextToken, undefined);
  const listed = await sm.send(
    new ListSecretsCommand({
      Filters: [
        { Key: 'name', Values: ['svc/'] },
        { Key: 'tag-key', Values: ['team'] },
        { Key: 'tag-value', Values: ['pay'] },
      ],
    }),
  );
  t.same(
    listed.SecretList?.map((s) => [s.Name, s.Tags]),
    [['svc/a', [{ Key: 'team', Value: 'pay' }]]],
  );
  server.faults.add({ kind: 'accessDenied', secretId: 'svc/b', count: 1 });
  const denied = await sm.send(
    new BatchGetSecretValueCommand({ Filters: [{ Key: 'name', Values: ['svc/b'] }] }),
  );
  t.same(
    denied.Errors?.map((e) => [e.SecretId, e.ErrorCode]),
    [['svc/b', 'AccessDeniedException']],
  );
});
