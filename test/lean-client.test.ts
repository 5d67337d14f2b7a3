/**
 * The lean Secrets Manager client against a loopback endpoint that answers as a test chooses:
 * AWS's errors come out in the SDK's shape (the error type as `name`, `$fault`, the status) and
 * translate to the agent's codes as the SDK's did, request ids dropped; timeouts, refused
 * connections and answers larger than AWS could send are network failures; every call sent is
 * counted with its outcome; answers keep the SDK's output shapes (bytes, dates).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { createAwsSource } from '../agent/source/aws.ts';
import type { CallOutcome } from '../agent/source/errors.ts';
import { createHttpClient, USER_AGENT } from '../agent/source/lean/http.ts';
import { answerCap, leanSecretReads } from '../agent/source/lean/secrets-manager.ts';
import type { FetchOutcome, SecretRef } from '../agent/source/source.ts';
import { silentLogger } from '../common/log.ts';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function endpoint(t: Test, handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function env(url: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: 'AKIDLEAN',
    AWS_SECRET_ACCESS_KEY: 'lean-secret',
    AWS_ENDPOINT_URL: url,
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  };
}

/** One read of a pinned secret (GetSecretValue) through the agent's source; the calls counted. */
async function readOne(
  t: Test,
  url: string,
  requestTimeoutMs = 5_000,
): Promise<{ outcome: FetchOutcome | undefined; calls: [string, CallOutcome][] }> {
  const calls: [string, CallOutcome][] = [];
  const source = createAwsSource({
    region: 'us-east-1',
    logger: silentLogger,
    onApiCall: (operation, outcome) => calls.push([operation, outcome]),
    requestTimeoutMs,
    env: env(url),
  });
  t.teardown(() => source.close());
  const ref: SecretRef = { id: 'app/db', versionStage: 'AWSPREVIOUS' };
  const outcomes = await source.fetch([ref], AbortSignal.timeout(10_000));
  return { outcome: outcomes.values().next().value, calls };
}

const REQUEST_ID = '0b7f5a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b';

function awsError(status: number, type: string, message: string): Handler {
  return (_req, _body, res) => {
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.secretsmanager/`,
      'x-amzn-requestid': REQUEST_ID,
    });
    res.end(JSON.stringify({ __type: `com.amazonaws.secretsmanager#${type}`, message }));
  };
}

t.test("AWS's errors: the SDK's codes, outcomes and words, without the request id", async (t) => {
  const cases: [number, string, string, boolean, CallOutcome][] = [
    [400, 'ResourceNotFoundException', 'SECRET_NOT_FOUND', false, 'not_found'],
    [400, 'AccessDeniedException', 'ACCESS_DENIED', false, 'denied'],
    [400, 'ThrottlingException', 'THROTTLED', true, 'throttled'],
    [400, 'UnrecognizedClientException', 'CREDENTIALS', false, 'credentials'],
    [500, 'InternalServiceError', 'AWS_UNAVAILABLE', true, 'server_error'],
    [400, 'SomethingNew', 'AWS_REQUEST', false, 'client_error'],
    [503, 'SomethingElse', 'AWS_UNAVAILABLE', true, 'server_error'],
  ];
  for (const [status, type, code, retryable, outcome] of cases) {
    const url = await endpoint(t, awsError(status, type, `it failed (Request ID: ${REQUEST_ID})`));
    const run = await readOne(t, url);
    const error = run.outcome?.ok === false ? run.outcome.error : undefined;
    t.equal(error?.code, code, type);
    t.equal(error?.retryable, retryable, type);
    t.match(
      error?.message,
      new RegExp(`secret app/db \\(stage AWSPREVIOUS\\): ${type}: it failed`),
    );
    t.notMatch(error?.message, REQUEST_ID, 'no request id');
    t.same(run.calls, [['GetSecretValue', outcome]], `${type}: counted once`);
  }
});

t.test("the error's shape is the SDK's: name, $fault and $metadata", async (t) => {
  const url = await endpoint(t, awsError(400, 'ResourceNotFoundException', 'not here'));
  const http = createHttpClient({});
  t.teardown(() => http.destroy());
  const reads = leanSecretReads({
    endpoint: new URL(url),
    region: 'us-east-1',
    credentials: () => Promise.resolve({ accessKeyId: 'a', secretAccessKey: 'b' }),
    http,
    onApiCall: () => undefined,
  });
  const signal = AbortSignal.timeout(5_000);
  await t.rejects(
    reads.getSecretValue({ SecretId: 'x' }, { abortSignal: signal, requestTimeout: 5_000 }),
    {
      name: 'ResourceNotFoundException',
      message: 'not here',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    },
  );
});

t.test('the request: awsJson1_1, the operation in X-Amz-Target, signed', async (t) => {
  const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
  const url = await endpoint(t, (req, body, res) => {
    seen.push({ headers: req.headers, body });
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(
      JSON.stringify({
        Name: 'app/db',
        ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf',
        VersionId: 'v1',
        SecretBinary: Buffer.from([0, 1, 254, 255]).toString('base64'),
        VersionStages: ['AWSPREVIOUS'],
        CreatedDate: 1_700_000_000.5,
      }),
    );
  });
  const run = await readOne(t, url);
  t.equal(run.outcome?.ok, true);
  const value = run.outcome?.ok === true && 'value' in run.outcome ? run.outcome.value : undefined;
  t.same(value?.binary, new Uint8Array([0, 1, 254, 255]), 'SecretBinary as bytes');
  t.equal(value?.createdDate, 1_700_000_000.5, 'CreatedDate as seconds');
  t.same(value?.versionStages, ['AWSPREVIOUS']);
  t.same(run.calls, [['GetSecretValue', 'success']]);
  const [request] = seen;
  t.equal(request?.headers['x-amz-target'], 'secretsmanager.GetSecretValue');
  t.equal(request?.headers['content-type'], 'application/x-amz-json-1.1');
  t.equal(request?.headers['user-agent'], USER_AGENT, 'unsigned, naming the agent');
  t.match(
    request?.headers['authorization'],
    /^AWS4-HMAC-SHA256 Credential=AKIDLEAN\/\d{8}\/us-east-1\/secretsmanager\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$/,
  );
  t.same(JSON.parse(request?.body ?? ''), { SecretId: 'app/db', VersionStage: 'AWSPREVIOUS' });
});

t.test('an answer larger than AWS could send is refused while it arrives', async (t) => {
  const cap = answerCap(1);
  let sent = 0;
  const url = await endpoint(t, (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const pump = (): void => {
      while (sent <= cap * 32 && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  const run = await readOne(t, url);
  const error = run.outcome?.ok === false ? run.outcome.error : undefined;
  t.equal(error?.code, 'AWS_UNAVAILABLE');
  t.equal(error?.retryable, true);
  t.match(error?.message, new RegExp(`ResponseTooLarge: the answer is larger than ${cap} bytes`));
  t.ok(sent < cap * 32, `the client hung up (${sent} bytes sent of ${cap * 32})`);
  t.same(run.calls, [['GetSecretValue', 'network']]);
});

t.test('a declared length above the cap is refused unread', async (t) => {
  const url = await endpoint(t, (_req, _body, res) => {
    res.writeHead(200, { 'content-length': String(answerCap(1) + 1) });
    res.write('{');
  });
  const run = await readOne(t, url);
  t.match(run.outcome?.ok === false && run.outcome.error.message, /ResponseTooLarge/);
});

t.test('no answer within the request timeout: a TimeoutError, retried', async (t) => {
  const url = await endpoint(t, () => undefined);
  const started = Date.now();
  const run = await readOne(t, url, 300);
  const error = run.outcome?.ok === false ? run.outcome.error : undefined;
  t.ok(Date.now() - started < 3_000, 'the call ended at its timeout');
  t.equal(error?.code, 'AWS_UNAVAILABLE');
  t.equal(error?.retryable, true);
  t.match(error?.message, /TimeoutError/);
  t.same(run.calls, [['GetSecretValue', 'network']]);
});

t.test('a refused connection: network, with its code', async (t) => {
  const url = await endpoint(t, () => undefined);
  const closed = url.replace(/:\d+$/, ':1');
  const run = await readOne(t, closed);
  const error = run.outcome?.ok === false ? run.outcome.error : undefined;
  t.equal(error?.code, 'AWS_UNAVAILABLE');
  t.match(error?.message, /ECONNREFUSED/);
  t.same(run.calls, [['GetSecretValue', 'network']]);
});
