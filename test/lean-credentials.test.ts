/**
 * The lean credential chain: which link serves an environment (the SDK's order), environment
 * keys as they are, and a container endpoint's credentials kept until five minutes before they
 * expire, one resolution shared by callers at once, a failed refresh within the margin keeping
 * the credentials that still hold; what the chain does not serve goes to the SDK's.
 */
import t from 'tap';
import {
  credentialSource,
  leanCredentials,
  type LeanCredentialOptions,
} from '../agent/source/lean/credentials.ts';
import type { HttpAnswer, HttpClient } from '../agent/source/lean/http.ts';

const HOUR = 3_600_000;

/** A container endpoint answering from `answers`, one a request; requests counted. */
function containerEndpoint(answers: (() => HttpAnswer)[]): HttpClient & { requests: number } {
  const endpoint = {
    requests: 0,
    send(): Promise<HttpAnswer> {
      const answer = answers[endpoint.requests++];
      return answer === undefined
        ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
        : Promise.resolve(answer());
    },
    destroy: () => undefined,
  };
  return endpoint;
}

function issued(key: string, expiresAt: number): () => HttpAnswer {
  return () => ({
    status: 200,
    headers: {},
    body: Buffer.from(
      JSON.stringify({
        AccessKeyId: key,
        SecretAccessKey: 's',
        Token: 't',
        Expiration: new Date(expiresAt).toISOString(),
      }),
    ),
  });
}

function options(
  env: Record<string, string>,
  direct: HttpClient,
  clock: { now: number },
): LeanCredentialOptions {
  return {
    env,
    region: 'us-east-1',
    useFipsEndpoint: false,
    http: direct,
    direct,
    requestTimeoutMs: 1_000,
    container: { timeout: 1_000 },
    onApiCall: () => undefined,
    fallback: () =>
      Promise.resolve(() => Promise.resolve({ accessKeyId: 'SDK', secretAccessKey: 'x' })),
    now: () => clock.now,
  };
}

const CONTAINER = { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:1/creds' };

t.test('the link for an environment, in the SDK order', (t) => {
  const keys = { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' };
  const irsa = { AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' };
  t.equal(credentialSource({ ...keys, ...irsa, ...CONTAINER }), 'env');
  t.equal(credentialSource({ AWS_ACCESS_KEY_ID: 'a', ...irsa }), 'web-identity', 'keys need both');
  t.equal(credentialSource({ ...irsa, ...CONTAINER }), 'web-identity');
  t.equal(credentialSource({ AWS_ROLE_ARN: 'r', ...CONTAINER }), 'container', 'IRSA needs both');
  t.equal(credentialSource({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/c' }), 'container');
  t.equal(credentialSource({}), 'sdk', 'the instance metadata service: the SDK');
  t.end();
});

t.test('environment keys; the rest from the SDK chain', async (t) => {
  const clock = { now: 0 };
  const none = containerEndpoint([]);
  const env = { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_SESSION_TOKEN: 'ST' };
  t.same(await leanCredentials(options(env, none, clock))(), {
    accessKeyId: 'AK',
    secretAccessKey: 'SK',
    sessionToken: 'ST',
  });
  t.equal((await leanCredentials(options({}, none, clock))()).accessKeyId, 'SDK');
  t.equal(none.requests, 0);
});

t.test('container credentials: kept, shared, refreshed within the margin', async (t) => {
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const start = clock.now;
  const endpoint = containerEndpoint([issued('K1', start + HOUR), issued('K2', start + 2 * HOUR)]);
  const provider = leanCredentials(options(CONTAINER, endpoint, clock));
  const [a, b] = await Promise.all([provider(), provider()]);
  t.equal(a.accessKeyId, 'K1');
  t.equal(b.accessKeyId, 'K1');
  t.equal(endpoint.requests, 1, 'callers at once share one request');
  clock.now = start + HOUR - 6 * 60_000;
  t.equal((await provider()).accessKeyId, 'K1', 'kept until five minutes before expiry');
  t.equal(endpoint.requests, 1);
  clock.now = start + HOUR - 4 * 60_000;
  t.equal((await provider()).accessKeyId, 'K2', 'then refreshed');
  t.equal(endpoint.requests, 2);
  clock.now = start + 2 * HOUR - 60_000;
  t.equal((await provider()).accessKeyId, 'K2', 'a failed refresh keeps what still holds');
  t.equal(endpoint.requests, 3, 'and was tried');
  clock.now = start + 2 * HOUR + 1;
  await t.rejects(provider(), { name: 'CredentialsProviderError' }, 'expired: the failure shows');
});

t.test(
  'a container endpoint answer not in the required shape is a credentials error',
  async (t) => {
    const clock = { now: 0 };
    const endpoint = containerEndpoint([
      () => ({ status: 200, headers: {}, body: Buffer.from('{"AccessKeyId":"K"}') }),
      () => ({ status: 200, headers: {}, body: Buffer.from('not json') }),
      () => ({ status: 500, headers: {}, body: Buffer.from('') }),
    ]);
    const provider = leanCredentials(options(CONTAINER, endpoint, clock));
    await t.rejects(provider(), { name: 'CredentialsProviderError', message: /required format/ });
    await t.rejects(provider(), { name: 'CredentialsProviderError', message: /not JSON/ });
    await t.rejects(provider(), { name: 'CredentialsProviderError', message: /status: 500/ });
    const remote = leanCredentials(
      options({ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://example.com/creds' }, endpoint, clock),
    );
    await t.rejects(remote(), { name: 'CredentialsProviderError', message: /must be https/ });
    const injected = { ...CONTAINER, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'a\r\nX-Injected: 1' };
    const broken = leanCredentials(options(injected, endpoint, clock));
    await t.rejects(broken(), { name: 'CredentialsProviderError', message: /line break/ });
    t.equal(endpoint.requests, 3, 'a host the SDK would not ask, or a bad token: nothing asked');
    const loopback = containerEndpoint([issued('L', Date.now() + HOUR)]);
    const other = leanCredentials(
      options({ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.1.2.3:9/c' }, loopback, clock),
    );
    t.equal((await other()).accessKeyId, 'L', 'any loopback address, as the SDK allows');
  },
);
