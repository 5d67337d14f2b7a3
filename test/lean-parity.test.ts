/**
 * The lean client and the AWS SDK, side by side against `secrets-agent dev`: the same refs read
 * through the agent's AWS source once on each path (the SDK's taken where a shared config file
 * exists, as the source decides), under each fault the endpoint can inject, give the same
 * outcomes (values, or error codes, words and retryability) and count the same calls.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createAwsSource } from '../agent/source/aws.ts';
import type { CallOutcome } from '../agent/source/errors.ts';
import type { FetchOutcome, SecretRef } from '../agent/source/source.ts';
import { silentLogger } from '../common/log.ts';
import { startDevServer } from '../dev/server.ts';
import type { FaultSpec } from '../dev/faults.ts';
import { useLoopbackAwsEnv, webIdentityToken } from './helpers/agent-process.ts';
import { tempDir } from './helpers/tmp.ts';

const REFS: readonly SecretRef[] = [
  { id: 'app/json' },
  { id: 'app/binary' },
  { id: 'app/missing' },
  { id: 'app/rotated', versionStage: 'AWSPREVIOUS' },
  { id: 'app/rotated', versionId: '22222222-2222-4222-8222-222222222222' },
];

const FAULTS: readonly (FaultSpec | undefined)[] = [
  undefined,
  { kind: 'throttle' },
  { kind: 'error5xx' },
  { kind: 'error5xx', status: 503 },
  { kind: 'accessDenied' },
  { kind: 'decryptFailure', secretId: 'app/json' },
  { kind: 'notFound', secretId: 'app/binary' },
  { kind: 'drop', operation: 'GetSecretValue' },
  { kind: 'throttle', operation: 'BatchGetSecretValue' },
  { kind: 'latency', latencyMs: 1_500, operation: 'GetSecretValue' },
];

/** An outcome as compared: the value's fields, or the error's code, words and retryability. */
function shape(outcome: FetchOutcome): unknown {
  if (!outcome.ok) {
    const { code, message, retryable } = outcome.error;
    // The SDK's handler signs its timeout messages; the words after that are the same.
    return {
      code,
      message: message.replace('@smithy/node-http-handler - [ERROR] ', ''),
      retryable,
    };
  }
  if (!('value' in outcome)) return outcome;
  const { binary, ...rest } = outcome.value;
  return { ...rest, ...(binary === undefined ? {} : { binary: [...binary] }) };
}

t.test('the lean client answers as the SDK does, fault by fault', async (t) => {
  const server = await startDevServer({
    seed: {
      region: 'us-east-1',
      secrets: [
        { name: 'app/json', value: { user: 'u', password: 'p' } },
        { name: 'app/binary', binary: Buffer.from([0, 1, 2, 254, 255]).toString('base64') },
        {
          name: 'app/rotated',
          versions: [
            { id: '11111111-1111-4111-8111-111111111111', value: 'old', stages: ['AWSPREVIOUS'] },
            { id: '22222222-2222-4222-8222-222222222222', value: 'new', stages: ['AWSCURRENT'] },
          ],
        },
      ],
    },
  });
  t.teardown(() => server.close());
  useLoopbackAwsEnv();
  process.env['AWS_ENDPOINT_URL'] = server.url;
  // A shared config file that exists (empty): the source leaves every call to the SDK.
  const config = join(await tempDir(t), 'config');
  await writeFile(config, '');
  const read = async (
    path: 'lean' | 'sdk',
    fault: FaultSpec | undefined,
  ): Promise<{ outcomes: unknown[]; calls: string[] }> => {
    server.faults.clear();
    if (fault !== undefined) server.faults.add(fault);
    const calls: string[] = [];
    const source = createAwsSource({
      region: 'us-east-1',
      logger: silentLogger,
      onApiCall: (operation: string, outcome: CallOutcome) => calls.push(`${operation} ${outcome}`),
      requestTimeoutMs: 1_000,
      env: { ...process.env, ...(path === 'sdk' ? { AWS_CONFIG_FILE: config } : {}) },
    });
    try {
      const outcomes = await source.fetch(REFS, AbortSignal.timeout(10_000));
      return { outcomes: [...outcomes.values()].map(shape), calls: calls.sort() };
    } finally {
      source.close();
    }
  };
  for (const fault of FAULTS) {
    const name = fault === undefined ? 'no fault' : JSON.stringify(fault);
    const sdk = await read('sdk', fault);
    const lean = await read('lean', fault);
    t.same(lean.outcomes, sdk.outcomes, `${name}: the same outcomes`);
    t.same(lean.calls, sdk.calls, `${name}: the same calls counted`);
    t.ok(sdk.calls.length > 0, `${name}: calls were made`);
  }
});

t.test('IRSA: the lean chain exchanges the token as the SDK does, and fails alike', async (t) => {
  const server = await startDevServer({
    seed: {
      region: 'us-east-1',
      sts: { audiences: ['sts.amazonaws.com'] },
      secrets: [{ name: 'app/json', value: 'v' }],
    },
  });
  t.teardown(() => server.close());
  useLoopbackAwsEnv();
  const dir = await tempDir(t);
  const config = join(dir, 'config');
  await writeFile(config, '');
  const tokenFile = join(dir, 'token');
  const base: Record<string, string | undefined> = {
    ...process.env,
    AWS_ENDPOINT_URL: server.url,
    AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/app',
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_ROLE_SESSION_NAME: 'parity',
  };
  delete base['AWS_ACCESS_KEY_ID'];
  delete base['AWS_SECRET_ACCESS_KEY'];
  const read = async (path: 'lean' | 'sdk'): Promise<{ outcomes: unknown[]; calls: string[] }> => {
    // The SDK reads process.env; the lean path its `env`, the same but for the config file.
    const saved = { ...process.env };
    Object.assign(process.env, base);
    delete process.env['AWS_ACCESS_KEY_ID'];
    delete process.env['AWS_SECRET_ACCESS_KEY'];
    const calls: string[] = [];
    const source = createAwsSource({
      region: 'us-east-1',
      logger: silentLogger,
      onApiCall: (operation: string, outcome: CallOutcome) => calls.push(`${operation} ${outcome}`),
      env: { ...base, ...(path === 'sdk' ? { AWS_CONFIG_FILE: config } : {}) },
    });
    try {
      const outcomes = await source.fetch([{ id: 'app/json' }], AbortSignal.timeout(10_000));
      return { outcomes: [...outcomes.values()].map(shape), calls: calls.sort() };
    } finally {
      source.close();
      for (const key of Object.keys(process.env))
        if (!(key in saved)) Reflect.deleteProperty(process.env, key);
      Object.assign(process.env, saved);
    }
  };
  const cases: [string, string, FaultSpec | undefined][] = [
    ['a good token', webIdentityToken(), undefined],
    ['an expired token', webIdentityToken({ exp: 1 }), undefined],
    ['a wrong audience', webIdentityToken({ aud: ['other'] }), undefined],
    [
      'STS throttling',
      webIdentityToken(),
      { kind: 'throttle', operation: 'AssumeRoleWithWebIdentity' },
    ],
    [
      'STS failing',
      webIdentityToken(),
      { kind: 'error5xx', operation: 'AssumeRoleWithWebIdentity' },
    ],
  ];
  for (const [name, token, fault] of cases) {
    await writeFile(tokenFile, token);
    server.faults.clear();
    if (fault !== undefined) server.faults.add(fault);
    const sdk = await read('sdk');
    server.faults.clear();
    if (fault !== undefined) server.faults.add(fault);
    const lean = await read('lean');
    t.same(lean.outcomes, sdk.outcomes, `${name}: the same outcome`);
    t.same(lean.calls, sdk.calls, `${name}: the same calls counted`);
    t.ok(
      sdk.calls.some((c) => c.startsWith('AssumeRoleWithWebIdentity')),
      `${name}: STS asked`,
    );
  }
});
