/**
 * The local API as a real process (the bundle): the request shapes the AWS Secrets Manager
 * Agent's documentation shows (curl with the token from the file, and a plain HTTP client with
 * the header), the token file written before ready and kept through the files' swaps, 401
 * without the token, the cache (configured ids from the refresh loop, others read through),
 * refreshNow at most once a second, AWS errors as the AWS agent answers them, bounds, loopback
 * only, and no value in the logs.
 */
import { execFile, spawnSync } from 'node:child_process';
import { stat, readFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startDevServer } from '../dev/server.ts';
import { agentEnv, eventually, freePort, startAgent } from './helpers/agent-process.ts';
import { assertNoCanary, CANARY } from './helpers/canary.ts';
import { needs } from './helpers/needs.ts';
import { tempDir } from './helpers/tmp.ts';

const run = promisify(execFile);

interface Reply {
  readonly status: number;
  readonly text: string;
}

/** A plain HTTP GET with headers (node:http, as any app's client). */
function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  host = '127.0.0.1',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

t.test('the local API, as apps written for the AWS agent call it', async (t) => {
  const server = await startDevServer({
    seed: {
      secrets: [
        { name: 'app/db', value: { user: 'app', password: `one-${CANARY}` } },
        { name: 'other/key', value: `k-${CANARY}` },
        { name: 'other/bin', binary: Buffer.from([0, 1, 2, 255]).toString('base64') },
      ],
    },
  });
  t.teardown(() => server.close());
  const dir = join(await tempDir(t), 'secrets');
  const [httpPort, apiPort] = [await freePort(), await freePort()];
  const config = {
    mode: 'sidecar',
    outputDir: dir,
    httpAddress: '127.0.0.1',
    httpPort,
    refreshInterval: '5s',
    fileMode: '0640',
    localApi: true,
    localApiPort: apiPort,
    secrets: [{ name: 'password', id: 'app/db', key: 'password' }],
  };
  const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(server.url));
  t.teardown(() => agent.stop('SIGKILL'));
  const status = `http://127.0.0.1:${httpPort}`;
  // Ready when the first set is written: the agent says so.
  await agent.waitForLog(/"msg":"all secrets written"/);
  t.equal((await fetch(`${status}/readyz`)).status, 200, 'ready');
  const tokenFile = join(dir, '.secrets-agent-token');
  const token = await readFile(tokenFile, 'utf8');
  t.match(token, /^[A-Za-z0-9_-]{43}$/, 'a 256-bit random token, written before ready');
  t.equal((await stat(tokenFile)).mode & 0o777, 0o640, "the token file has the files' mode");
  const auth = { 'X-Aws-Parameters-Secrets-Token': token };
  /**
   * The reads of `id` that reached the endpoint. Counted per id: the refresh loop (5 s, first at
   * a random point) reads the configured secret meanwhile, in its batch call, whenever it is due.
   */
  const reads = (id: string, operations?: readonly string[]): number =>
    server.requests
      .list()
      .filter((r) => r.secretIds.includes(id) && (operations?.includes(r.operation) ?? true))
      .length;
  const localApi = async (outcome: string): Promise<number> =>
    metric(
      await (await fetch(`${status}/metrics`)).text(),
      'secrets_agent_local_api_requests_total',
      `outcome="${outcome}"`,
    );

  await t.test("curl, as the AWS agent's documentation shows it", async (t) => {
    const curl = spawnSync(
      'sh',
      [
        '-c',
        `curl -s -w '\\n%{http_code}' -H "X-Aws-Parameters-Secrets-Token: $(cat ${tokenFile})" "localhost:${apiPort}/secretsmanager/get?secretId=app/db"`,
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
    const [body = '', code] = curl.stdout.trimEnd().split('\n');
    t.equal(code, '200', 'curl: 200');
    const json = JSON.parse(body) as Record<string, unknown>;
    t.equal(json['Name'], 'app/db');
    t.match(json['ARN'], /^arn:aws:secretsmanager:us-east-1:\d{12}:secret:app\/db-[A-Za-z0-9]{6}$/);
    t.same(JSON.parse(String(json['SecretString'])), { user: 'app', password: `one-${CANARY}` });
    t.same(json['VersionStages'], ['AWSCURRENT']);
    t.type(json['VersionId'], 'string');
    t.type(json['CreatedDate'], 'number');
  });

  await t.test('a plain HTTP client with the header: the cache and read-through', async (t) => {
    const single = ['GetSecretValue'];
    const [directBefore, hitsBefore] = [reads('app/db', single), await localApi('hit')];
    const configured = await get(apiPort, '/secretsmanager/get?secretId=app/db', auth);
    t.equal(configured.status, 200);
    t.equal(await localApi('hit'), hitsBefore + 1, "a configured secret is served from the loop's");
    t.equal(reads('app/db', single), directBefore, 'values, not read for the request');
    const first = await get(apiPort, '/secretsmanager/get?secretId=other/key', auth);
    t.equal(first.status, 200);
    t.equal((JSON.parse(first.text) as { SecretString: string }).SecretString, `k-${CANARY}`);
    t.equal(reads('other/key'), 1, 'another id is read through, once');
    const again = await get(apiPort, '/secretsmanager/get?secretId=other/key', auth);
    t.equal(again.text, first.text);
    t.equal(reads('other/key'), 1, 'and then kept for the refresh interval');
    const concurrent = await Promise.all(
      [1, 2, 3, 4].map(() => get(apiPort, '/secretsmanager/get?secretId=other/bin', auth)),
    );
    t.equal(reads('other/bin'), 1, 'concurrent reads of one new id are one AWS call');
    const bin = concurrent[0] ?? { text: '{}' };
    t.equal((JSON.parse(bin.text) as { SecretBinary: string }).SecretBinary, 'AAEC/w==');
    const refreshes = await Promise.all(
      [1, 2, 3].map(() =>
        get(apiPort, '/secretsmanager/get?secretId=other/key&refreshNow=true', auth),
      ),
    );
    t.same(
      refreshes.map((r) => r.status),
      [200, 200, 200],
    );
    t.equal(reads('other/key'), 2, 'refreshNow reads again at most once a second per id');
    server.putSecretValue('other/key', 'k2');
    await new Promise((r) => setTimeout(r, 1_100));
    const fresh = await get(
      apiPort,
      '/secretsmanager/get?secretId=other/key&refreshNow=true',
      auth,
    );
    t.equal(
      (JSON.parse(fresh.text) as { SecretString: string }).SecretString,
      'k2',
      'a second later it reads again',
    );
    const staged = await get(
      apiPort,
      '/secretsmanager/get?secretId=other/key&versionStage=AWSPREVIOUS',
      auth,
    );
    t.equal(staged.status, 200);
    t.equal(
      (JSON.parse(staged.text) as { SecretString: string }).SecretString,
      `k-${CANARY}`,
      'versionStage',
    );
    t.same((JSON.parse(staged.text) as { VersionStages: string[] }).VersionStages, ['AWSPREVIOUS']);
  });

  await t.test(
    '401 without the right token; AWS errors as the AWS agent answers them',
    async (t) => {
      const wrong: [string, Record<string, string>][] = [
        ['no header', {}],
        ['a wrong token', { 'X-Aws-Parameters-Secrets-Token': `${token}x` }],
        // A constant anyone can write: the value itself is the proof.
        ['the file reference', { 'X-Aws-Parameters-Secrets-Token': `file://${tokenFile}` }],
      ];
      for (const [what, headers] of wrong) {
        const res = await get(apiPort, '/secretsmanager/get?secretId=app/db', headers);
        t.equal(res.status, 401, `401 for ${what}`);
        t.notMatch(res.text, /canary/);
      }
      const missing = await get(apiPort, '/secretsmanager/get?secretId=no/such', auth);
      t.equal(missing.status, 400);
      t.equal((JSON.parse(missing.text) as { __type: string }).__type, 'ResourceNotFoundException');
      for (const path of [
        '/secretsmanager/get',
        '/secretsmanager/get?secretId=a%20b',
        '/secretsmanager/get?secretId=a&versionStage=AWSCURRENT&versionId=01234567890123456789012345678901',
        '/secretsmanager/get?secretId=a&refreshNow=yes',
        '/secretsmanager/get?secretId=a&other=1',
        '/systemsmanager/parameters/get',
      ]) {
        const res = await get(apiPort, path, auth);
        t.equal(res.status, 400, `400 for ${path}`);
        t.match(res.text, /"__type":"InvalidParameterException"/);
      }
      t.equal((await get(apiPort, '/nope', auth)).status, 404);
      t.equal(
        (await get(apiPort, `/secretsmanager/get?secretId=${'a'.repeat(5000)}`, auth)).status,
        414,
      );
      t.equal(
        (
          await get(apiPort, '/secretsmanager/get?secretId=app/db', {
            ...auth,
            'X-Forwarded-For': '10.0.0.1',
          })
        ).status,
        400,
      );
      const metrics = await (await fetch(`${status}/metrics`)).text();
      t.equal(
        metric(metrics, 'secrets_agent_local_api_requests_total', 'outcome="unauthorized"'),
        3,
      );
      t.ok(metric(metrics, 'secrets_agent_local_api_requests_total', 'outcome="hit"') >= 2);
      t.ok(metric(metrics, 'secrets_agent_local_api_requests_total', 'outcome="miss"') >= 3);
      t.ok(metric(metrics, 'secrets_agent_local_api_requests_total', 'outcome="error"') >= 9);
    },
  );

  await t.test('loopback only, on this host', async (t) => {
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && !a.internal && a.family === 'IPv4');
    if (outside === undefined) {
      t.plan(0, 'this host has no non-loopback address (the namespace test below has one)');
      return;
    }
    await t.rejects(get(apiPort, '/secretsmanager/get?secretId=app/db', auth, outside.address), {
      code: 'ECONNREFUSED',
    });
  });

  await t.test('the token file survives the swaps of the files', async (t) => {
    server.putSecretValue('app/db', { user: 'app', password: `two-${CANARY}` });
    await eventually(async () =>
      (await readFile(join(dir, 'password'), 'utf8')) === `two-${CANARY}` ? true : undefined,
    );
    t.equal(await readFile(tokenFile, 'utf8'), token);
    const res = await get(apiPort, '/secretsmanager/get?secretId=app/db', auth);
    t.match(JSON.parse(res.text), { SecretString: /two-/ }, "the API serves the loop's new value");
  });

  const run = await agent.stop('SIGTERM');
  t.equal(run.code, 0);
  assertNoCanary(t, run.stdout + run.stderr, 'the logs');
  t.notMatch(run.stdout + run.stderr, new RegExp(token), 'nor the token');
});

t.test('parameters: GetParameter through the local API', async (t) => {
  const server = await startDevServer({ seed: { secrets: [{ name: 'app/db', value: 'x' }] } });
  t.teardown(() => server.close());
  // A stand-in for SSM's JSON protocol on loopback: it records each call and answers one parameter.
  const seen: { target: string; body: Record<string, unknown> }[] = [];
  const ssm = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      seen.push({ target: String(req.headers['x-amz-target']), body });
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (body['Name'] !== '/app/db/url') {
        res.writeHead(400).end(JSON.stringify({ __type: 'ParameterNotFound', message: '' }));
        return;
      }
      res.writeHead(200).end(
        JSON.stringify({
          Parameter: {
            Name: '/app/db/url',
            Type: 'SecureString',
            Value: body['WithDecryption'] === true ? `postgres://${CANARY}` : 'AQICAH…',
            Version: 3,
            LastModifiedDate: 1700000000.5,
            ARN: 'arn:aws:ssm:us-east-1:111122223333:parameter/app/db/url',
            DataType: 'text',
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => ssm.listen(0, '127.0.0.1', resolve));
  t.teardown(() => ssm.close());
  const ssmUrl = `http://127.0.0.1:${(ssm.address() as AddressInfo).port}`;
  const dir = join(await tempDir(t), 'secrets');
  const apiPort = await freePort();
  const config = {
    outputDir: dir,
    httpPort: 0,
    localApi: true,
    localApiPort: apiPort,
    secrets: [{ name: 'db', id: 'app/db' }],
  };
  const agent = startAgent(
    ['--config-json', JSON.stringify(config)],
    agentEnv(server.url, { AWS_ENDPOINT_URL_SSM: ssmUrl, AWS_TOKEN: 'given-token-value' }),
  );
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog(/all secrets written/);
  t.equal(
    await readFile(join(dir, '.secrets-agent-token'), 'utf8'),
    'given-token-value',
    "the agent's own AWS_TOKEN is the token when set",
  );
  const auth = { 'X-Aws-Parameters-Secrets-Token': 'given-token-value' };
  const res = await get(
    apiPort,
    '/systemsmanager/parameters/get?name=/app/db/url&withDecryption=true',
    auth,
  );
  t.equal(res.status, 200);
  t.same(JSON.parse(res.text), {
    Parameter: {
      Name: '/app/db/url',
      Type: 'SecureString',
      Value: `postgres://${CANARY}`,
      Version: 3,
      LastModifiedDate: 1700000000.5,
      ARN: 'arn:aws:ssm:us-east-1:111122223333:parameter/app/db/url',
      DataType: 'text',
    },
    ResultMetadata: {},
  });
  t.same(
    seen.map((s) => [s.target, s.body]),
    [['AmazonSSM.GetParameter', { Name: '/app/db/url', WithDecryption: true }]],
  );
  await get(apiPort, '/systemsmanager/parameters/get?name=/app/db/url&withDecryption=true', auth);
  t.equal(seen.length, 1, 'kept for the refresh interval');
  const missing = await get(apiPort, '/systemsmanager/parameters/get?name=/nope', auth);
  t.equal(missing.status, 400);
  t.equal((JSON.parse(missing.text) as { __type: string }).__type, 'ParameterNotFound');
  t.equal((await get(apiPort, '/systemsmanager/parameters/get?name=/app/db/url', {})).status, 401);
  const run = await agent.stop('SIGTERM');
  assertNoCanary(t, run.stdout + run.stderr, 'the logs');
});

/**
 * Wherever the tests run: a private network namespace whose `lo` also holds 192.0.2.10 (TEST-NET-1,
 * not loopback). An agent there answers on 127.0.0.1 and refuses the same port on 192.0.2.10,
 * which an agent listening on every address would answer.
 */
t.test(
  'loopback only, in a network namespace with another address',
  needs(t, 'network namespaces'),
  async (t) => {
    const other = '192.0.2.10';
    const script = `ip link set lo up && ip addr add ${other}/32 dev lo && exec "$@"`;
    const probe = join(import.meta.dirname, 'helpers', 'loopback-probe.ts');
    const { stdout } = await run('unshare', [
      '-n',
      'sh',
      '-c',
      script,
      'sh',
      process.execPath,
      probe,
      other,
    ]);
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    t.equal(result['loopback'], 401, '127.0.0.1 answers (401: no token)');
    t.equal(result['other'], 'ECONNREFUSED', `${other} is refused`);
  },
);
