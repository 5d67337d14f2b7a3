// STS AssumeRoleWithWebIdentity from the real credential providers, then Secrets Manager calls
// signed with the issued keys: verified signatures (what proves a caller signs as AWS checks),
// session tokens and expiry.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { fromTokenFile, fromWebToken } from '@aws-sdk/credential-providers';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';
import { sha256Hex, signatureOf } from '../agent/source/lean/sigv4.ts';

let clock = Date.now();
const server = await startDevServer({
  now: () => clock,
  seed: {
    sts: { audiences: ['sts.amazonaws.com'] },
    secrets: [
      { name: 'app/db', value: 'db' },
      { name: 'app/key', value: 'key' },
    ],
  },
});
t.teardown(() => server.close());
const region = 'us-west-2';
const clientConfig = { endpoint: server.url, region };

function jwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'RS256', kid: 'k' })}.${enc(claims)}.c2lnbmF0dXJl`;
}
const goodToken = jwt({
  sub: 'system:serviceaccount:ns:app',
  aud: 'sts.amazonaws.com',
  iss: 'https://oidc.example',
  exp: Math.floor(Date.now() / 1000) + 3600,
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

function smClient(
  credentials:
    | SecretsManagerClient['config']['credentials']
    | { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
): SecretsManagerClient {
  const c = new SecretsManagerClient({ ...clientConfig, maxAttempts: 1, credentials });
  t.teardown(() => c.destroy());
  return c;
}

t.test(
  'fromWebToken gets credentials from the emulator; signed calls pass verification',
  async (t) => {
    const provider = fromWebToken({
      roleArn: 'arn:aws:iam::123456789012:role/app',
      webIdentityToken: goodToken,
      roleSessionName: 'agent',
      clientConfig,
    });
    const creds = await provider();
    t.match(creds.accessKeyId, /^ASIA/);
    t.ok(creds.sessionToken);
    t.ok(creds.expiration instanceof Date);
    const client = smClient(creds);
    t.equal(
      (await client.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString,
      'db',
    );
    const rec = server.requests.list({ operation: 'GetSecretValue', secretId: 'app/db' }).at(-1);
    t.match(rec, {
      accessKeyId: creds.accessKeyId,
      roleArn: 'arn:aws:iam::123456789012:role/app',
      region,
      outcome: 'ok',
    });
    const sts = server.requests.list({ operation: 'AssumeRoleWithWebIdentity' }).at(-1);
    t.match(sts, { service: 'sts', roleArn: 'arn:aws:iam::123456789012:role/app', outcome: 'ok' });

    const tampered = await failure(
      smClient({ ...creds, secretAccessKey: 'not-the-key' }).send(
        new GetSecretValueCommand({ SecretId: 'app/db' }),
      ),
    );
    t.match(tampered, { name: 'InvalidSignatureException', status: 400 });
    const wrongSession = await failure(
      smClient({ ...creds, sessionToken: 'forged' }).send(
        new GetSecretValueCommand({ SecretId: 'app/db' }),
      ),
    );
    t.equal(wrongSession.name, 'UnrecognizedClientException');

    clock += 2 * 3600_000;
    const expired = await failure(
      smClient({
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: creds.sessionToken ?? '',
      }).send(new GetSecretValueCommand({ SecretId: 'app/db' })),
    );
    clock = Date.now();
    t.match(expired, { name: 'ExpiredTokenException', status: 400 });
  },
);

t.test('fromTokenFile reads the token file (the IRSA path)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dev-sts-'));
  const file = join(dir, 'token');
  await writeFile(file, goodToken);
  const creds = await fromTokenFile({
    webIdentityTokenFile: file,
    roleArn: 'arn:aws:iam::123456789012:role/app',
    roleSessionName: 's1',
    clientConfig,
  })();
  t.equal(
    (await smClient(creds).send(new GetSecretValueCommand({ SecretId: 'app/key' }))).SecretString,
    'key',
  );
});

t.test('bad web identity tokens', async (t) => {
  const assume = (token: string): Promise<unknown> =>
    fromWebToken({
      roleArn: 'arn:aws:iam::123456789012:role/app',
      webIdentityToken: token,
      roleSessionName: 'x1',
      clientConfig: { ...clientConfig, maxAttempts: 1 },
    })();
  t.match(await failure(assume('not-a-jwt')), {
    name: 'InvalidIdentityTokenException',
    status: 400,
  });
  t.match(await failure(assume(jwt({ sub: 's', aud: 'sts.amazonaws.com', exp: 1000 }))), {
    name: 'ExpiredTokenException',
    message: /Token expired/,
  });
  t.match(
    await failure(
      assume(jwt({ sub: 's', aud: 'someone-else', exp: Math.floor(Date.now() / 1000) + 60 })),
    ),
    { name: 'InvalidIdentityTokenException', message: /audience/ },
  );
  const outcomes = server.requests
    .list({ operation: 'AssumeRoleWithWebIdentity' })
    .slice(-3)
    .map((r) => r.outcome);
  t.same(outcomes, ['InvalidIdentityToken', 'ExpiredTokenException', 'InvalidIdentityToken']);
});

t.test('static credentials listed in the seed are checked', async (t) => {
  const strict = await startDevServer({
    seed: {
      secrets: [{ name: 's', value: 'v' }],
      credentials: [{ accessKeyId: 'AKIADEV', secretAccessKey: 'devsecret' }],
    },
  });
  t.teardown(() => strict.close());
  const make = (accessKeyId: string, secretAccessKey: string): SecretsManagerClient => {
    const c = new SecretsManagerClient({
      endpoint: strict.url,
      region,
      maxAttempts: 1,
      credentials: { accessKeyId, secretAccessKey },
    });
    t.teardown(() => c.destroy());
    return c;
  };
  t.equal(
    (await make('AKIADEV', 'devsecret').send(new GetSecretValueCommand({ SecretId: 's' })))
      .SecretString,
    'v',
  );
  t.equal(
    (await failure(make('AKIADEV', 'wrong').send(new GetSecretValueCommand({ SecretId: 's' }))))
      .name,
    'InvalidSignatureException',
  );
  t.equal(
    (await failure(make('AKIAOTHER', 'x').send(new GetSecretValueCommand({ SecretId: 's' })))).name,
    'UnrecognizedClientException',
  );
});

t.test(
  'as AWS: host and the date are signed, the scope names that date and the service',
  async (t) => {
    const strict = await startDevServer({
      seed: {
        secrets: [{ name: 's', value: 'v' }],
        credentials: [{ accessKeyId: 'AKIADEV', secretAccessKey: 'devsecret' }],
      },
    });
    t.teardown(() => strict.close());
    const body = JSON.stringify({ SecretId: 's' });
    const amzDate = '20261207T120000Z';
    /** A GetSecretValue signed over `names` (and only those), with the scope given. */
    const call = async (o: {
      names: readonly string[];
      day?: string;
      service?: string;
      date?: boolean;
    }): Promise<{ status: number; type: string }> => {
      const headers: Record<string, string> = {
        host: new URL(strict.url).host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
        ...(o.date === false ? {} : { 'x-amz-date': amzDate }),
      };
      const names = [...o.names].sort();
      const canonical = [
        'POST',
        '/',
        '',
        names.map((n) => `${n}:${headers[n] ?? ''}\n`).join(''),
        names.join(';'),
        sha256Hex(body),
      ].join('\n');
      const day = o.day ?? amzDate.slice(0, 8);
      const scope = { region, service: o.service ?? 'secretsmanager' };
      const signature = signatureOf('devsecret', scope, day, amzDate, canonical);
      const res = await fetch(strict.url, {
        method: 'POST',
        body,
        headers: {
          ...headers,
          authorization:
            `AWS4-HMAC-SHA256 Credential=AKIADEV/${day}/${region}/${scope.service}/aws4_request, ` +
            `SignedHeaders=${names.join(';')}, Signature=${signature}`,
        },
      });
      const answer = (await res.json()) as { __type?: string };
      return { status: res.status, type: answer.__type ?? '' };
    };
    const all = ['host', 'content-type', 'x-amz-date', 'x-amz-target'];
    t.same(await call({ names: all }), { status: 200, type: '' }, 'signed as AWS wants');
    t.same(
      await call({ names: all.filter((n) => n !== 'host') }),
      { status: 400, type: 'IncompleteSignatureException' },
      'host not signed',
    );
    t.same(
      await call({ names: all.filter((n) => n !== 'x-amz-date'), date: false }),
      { status: 400, type: 'IncompleteSignatureException' },
      'no date',
    );
    t.same(
      await call({ names: all.filter((n) => n !== 'x-amz-date') }),
      { status: 400, type: 'InvalidSignatureException' },
      'the date sent but not signed',
    );
    t.same(
      await call({ names: all, day: '20261206' }),
      { status: 400, type: 'InvalidSignatureException' },
      'a scope of another day',
    );
    t.same(
      await call({ names: all, service: 'ssm' }),
      { status: 400, type: 'InvalidSignatureException' },
      'a scope of another service',
    );
  },
);
