/**
 * The lean credential chain: the SDK's default chain in its order, for what pods use, without
 * loading the SDK. Environment keys, then web identity (IRSA: STS AssumeRoleWithWebIdentity),
 * then the container credentials endpoint (EKS Pod Identity, ECS). Anything else (a profile,
 * SSO, a credential process, the instance metadata service) goes to the SDK's own chain,
 * loaded at that point. Credentials are kept until five minutes before they expire (the SDK's
 * margin), and callers at once share one resolution.
 *
 * It has the SDK's credential provider shape, so the SDK clients the agent still makes (SSM,
 * finds) use it too: one exchange per agent.
 */
import { readFile } from '../../../common/fs-async.ts';
import type { OnApiCall } from '../call.ts';
import { type Env, serviceEndpoint } from './endpoint.ts';
import { HttpError, type HttpClient } from './http.ts';
import type { Credentials } from './sigv4.ts';
import { assumeRoleWithWebIdentity } from './sts.ts';

export type CredentialProvider = () => Promise<Credentials>;

/** The SDK refreshes credentials this long before they expire. */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** The SDK's container endpoints over http: loopback, ECS's and EKS Pod Identity's hosts. */
const CONTAINER_HOSTS = new Set([
  'localhost',
  '[::1]',
  '169.254.170.2',
  '169.254.170.23',
  '[fd00:ec2::23]',
]);
const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const ECS_HOST = 'http://169.254.170.2';
/** A container endpoint's answer is a few hundred bytes. */
const MAX_CONTAINER_ANSWER_BYTES = 64 * 1024;

export interface LeanCredentialOptions {
  readonly env: Env;
  /** STS's region: the agent's (the SDK's STS client takes its caller's). */
  readonly region: string;
  readonly useFipsEndpoint: boolean;
  /** Through the agent's transport (proxy included): STS. */
  readonly http: HttpClient;
  /** Direct, without the proxy: the container endpoint is on the node. */
  readonly direct: HttpClient;
  readonly requestTimeoutMs: number;
  readonly container: { readonly timeout: number };
  readonly onApiCall: OnApiCall;
  /** The SDK's chain, for what the lean one does not serve; loaded only then. */
  readonly fallback: () => Promise<CredentialProvider>;
  readonly now?: () => number;
}

/** The SDK's error for a chain link that has nothing: errors.ts knows it as CREDENTIALS. */
export class CredentialsProviderError extends Error {
  override readonly name = 'CredentialsProviderError';
}

/** Which link serves this environment; decided once, as the SDK's chain would. */
export function credentialSource(env: Env): 'env' | 'web-identity' | 'container' | 'sdk' {
  if (isSet(env['AWS_ACCESS_KEY_ID']) && isSet(env['AWS_SECRET_ACCESS_KEY'])) return 'env';
  if (isSet(env['AWS_WEB_IDENTITY_TOKEN_FILE']) && isSet(env['AWS_ROLE_ARN']))
    return 'web-identity';
  if (isSet(env['AWS_CONTAINER_CREDENTIALS_FULL_URI'])) return 'container';
  if (isSet(env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'])) return 'container';
  return 'sdk';
}

function isSet(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

export function leanCredentials(options: LeanCredentialOptions): CredentialProvider {
  const resolve = resolver(options);
  const now = options.now ?? Date.now;
  let cached: Credentials | undefined;
  let pending: Promise<Credentials> | undefined;
  const fresh = (c: Credentials): boolean =>
    c.expiration === undefined || c.expiration.getTime() - now() > REFRESH_MARGIN_MS;
  return () => {
    const kept = cached;
    if (kept !== undefined && fresh(kept)) return Promise.resolve(kept);
    pending ??= resolve()
      .then((c) => {
        cached = c;
        return c;
      })
      .finally(() => {
        pending = undefined;
      });
    // Within the margin the kept credentials still hold: a failed refresh keeps them, as the
    // SDK's does, and the next call tries again.
    const valid = kept?.expiration !== undefined && kept.expiration.getTime() > now();
    return valid ? pending.catch(() => kept) : pending;
  };
}

function resolver(options: LeanCredentialOptions): CredentialProvider {
  const { env } = options;
  switch (credentialSource(env)) {
    case 'env':
      return () => Promise.resolve(fromEnv(env));
    case 'web-identity':
      return () => fromWebIdentity(options);
    case 'container':
      return () => fromContainer(options);
    case 'sdk': {
      let sdk: Promise<CredentialProvider> | undefined;
      return async () => (await (sdk ??= options.fallback()))();
    }
  }
}

function fromEnv(env: Env): Credentials {
  const expiry = env['AWS_CREDENTIAL_EXPIRATION'];
  const expiration = isSet(expiry) ? new Date(expiry) : undefined;
  const token = env['AWS_SESSION_TOKEN'];
  return {
    accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? '',
    secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? '',
    ...(isSet(token) ? { sessionToken: token } : {}),
    ...(expiration === undefined || Number.isNaN(expiration.getTime()) ? {} : { expiration }),
  };
}

async function fromWebIdentity(options: LeanCredentialOptions): Promise<Credentials> {
  const { env } = options;
  const endpoint = serviceEndpoint('sts', options.region, options.useFipsEndpoint, env);
  if (endpoint === undefined) return (await options.fallback())();
  // Read at each exchange: the kubelet rotates the projected token.
  const token = await readFile(env['AWS_WEB_IDENTITY_TOKEN_FILE'] ?? '', 'ascii');
  return assumeRoleWithWebIdentity({
    endpoint,
    roleArn: env['AWS_ROLE_ARN'] ?? '',
    sessionName:
      env['AWS_ROLE_SESSION_NAME'] || `aws-sdk-js-session-${(options.now ?? Date.now)()}`,
    token,
    http: options.http,
    timeoutMs: options.requestTimeoutMs,
    onApiCall: options.onApiCall,
  });
}

/** One request to the container endpoint, within its timeout; any failure is CREDENTIALS. */
async function fromContainer(options: LeanCredentialOptions): Promise<Credentials> {
  const { env } = options;
  try {
    const url = containerUrl(env);
    const token = await containerToken(env);
    const answer = await options.direct.send(url, {
      method: 'GET',
      headers: token === undefined ? {} : { authorization: token },
      timeoutMs: options.container.timeout,
      maxBytes: MAX_CONTAINER_ANSWER_BYTES,
    });
    if (answer.status < 200 || answer.status >= 300)
      throw new Error(`Server responded with status: ${answer.status}`);
    return containerCredentials(JSON.parse(answer.body.toString('utf8')));
  } catch (err) {
    if (err instanceof CredentialsProviderError) throw err;
    const what = err instanceof HttpError || err instanceof Error ? err.message : String(err);
    throw new CredentialsProviderError(
      `the container credentials endpoint failed: ${err instanceof SyntaxError ? 'its answer is not JSON' : what}`,
      { cause: err },
    );
  }
}

function containerUrl(env: Env): URL {
  const relative = env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'];
  if (isSet(relative)) return new URL(relative, ECS_HOST);
  const url = new URL(env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] ?? '');
  if (url.protocol === 'https:') return url;
  const host = url.hostname;
  if (url.protocol === 'http:' && (CONTAINER_HOSTS.has(host) || LOOPBACK_V4.test(host))) return url;
  throw new CredentialsProviderError(
    'AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to loopback (127.0.0.0/8, [::1]), ' +
      "ECS's 169.254.170.2 or EKS's 169.254.170.23 or [fd00:ec2::23]",
  );
}

/** The token file wins over the variable, and is read at each request (it is rotated). */
async function containerToken(env: Env): Promise<string | undefined> {
  const file = env['AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'];
  const token = isSet(file)
    ? (await readFile(file, 'utf8')).trim()
    : env['AWS_CONTAINER_AUTHORIZATION_TOKEN'];
  if (!isSet(token)) return undefined;
  if (/[\r\n]/.test(token))
    throw new CredentialsProviderError('the container authorization token holds a line break');
  return token;
}

function containerCredentials(body: unknown): Credentials {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { AccessKeyId: id, SecretAccessKey: secret, Token: token, Expiration: expiry } = b;
  if (
    typeof id !== 'string' ||
    typeof secret !== 'string' ||
    typeof token !== 'string' ||
    typeof expiry !== 'string'
  )
    throw new CredentialsProviderError(
      'HTTP credential provider response not of the required format, an object matching: ' +
        '{ AccessKeyId: string, SecretAccessKey: string, Token: string, Expiration: string }',
    );
  const expiration = new Date(expiry);
  return {
    accessKeyId: id,
    secretAccessKey: secret,
    sessionToken: token,
    ...(Number.isNaN(expiration.getTime()) ? {} : { expiration }),
  };
}
