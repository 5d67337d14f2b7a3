/**
 * AWS SDK errors, translated once at the adapter edge into AgentErrors with stable codes.
 * Messages keep AWS's own words (which never hold secret values) and drop request ids.
 */
import { AgentError, type ErrorCode } from '../../common/errors.ts';

/** Bounded label values for secrets_agent_aws_api_calls_total{outcome}. */
export const CALL_OUTCOMES = [
  'success',
  'throttled',
  'denied',
  'not_found',
  'server_error',
  'client_error',
  'credentials',
  'network',
] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

interface Translation {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly outcome: CallOutcome;
}

const BY_NAME: Readonly<Record<string, Translation>> = {
  ResourceNotFoundException: { code: 'SECRET_NOT_FOUND', retryable: false, outcome: 'not_found' },
  // SSM Parameter Store's names.
  ParameterNotFound: { code: 'SECRET_NOT_FOUND', retryable: false, outcome: 'not_found' },
  ParameterVersionNotFound: { code: 'SECRET_NOT_FOUND', retryable: false, outcome: 'not_found' },
  InvalidKeyId: { code: 'DECRYPTION_FAILED', retryable: false, outcome: 'client_error' },
  InternalServerError: { code: 'AWS_UNAVAILABLE', retryable: true, outcome: 'server_error' },
  AccessDeniedException: { code: 'ACCESS_DENIED', retryable: false, outcome: 'denied' },
  AccessDenied: { code: 'ACCESS_DENIED', retryable: false, outcome: 'denied' },
  ThrottlingException: { code: 'THROTTLED', retryable: true, outcome: 'throttled' },
  Throttling: { code: 'THROTTLED', retryable: true, outcome: 'throttled' },
  TooManyRequestsException: { code: 'THROTTLED', retryable: true, outcome: 'throttled' },
  RequestLimitExceeded: { code: 'THROTTLED', retryable: true, outcome: 'throttled' },
  InternalServiceError: { code: 'AWS_UNAVAILABLE', retryable: true, outcome: 'server_error' },
  InternalFailure: { code: 'AWS_UNAVAILABLE', retryable: true, outcome: 'server_error' },
  ServiceUnavailable: { code: 'AWS_UNAVAILABLE', retryable: true, outcome: 'server_error' },
  ServiceUnavailableException: {
    code: 'AWS_UNAVAILABLE',
    retryable: true,
    outcome: 'server_error',
  },
  DecryptionFailure: { code: 'DECRYPTION_FAILED', retryable: false, outcome: 'client_error' },
  InvalidIdentityToken: { code: 'CREDENTIALS', retryable: false, outcome: 'credentials' },
  InvalidIdentityTokenException: { code: 'CREDENTIALS', retryable: false, outcome: 'credentials' },
  ExpiredTokenException: { code: 'CREDENTIALS', retryable: false, outcome: 'credentials' },
  ExpiredToken: { code: 'CREDENTIALS', retryable: false, outcome: 'credentials' },
  IDPCommunicationError: { code: 'CREDENTIALS', retryable: true, outcome: 'credentials' },
  // STS's modeled names, as the SDK (and the agent's own STS call) throws them.
  IDPCommunicationErrorException: {
    code: 'CREDENTIALS',
    retryable: true,
    outcome: 'credentials',
  },
  IDPRejectedClaimException: { code: 'CREDENTIALS', retryable: false, outcome: 'credentials' },
  UnrecognizedClientException: { code: 'CREDENTIALS', retryable: false, outcome: 'credentials' },
  InvalidSignatureException: { code: 'CREDENTIALS', retryable: false, outcome: 'credentials' },
  IncompleteSignature: { code: 'CREDENTIALS', retryable: false, outcome: 'credentials' },
  MissingAuthenticationTokenException: {
    code: 'CREDENTIALS',
    retryable: false,
    outcome: 'credentials',
  },
  CredentialsProviderError: { code: 'CREDENTIALS', retryable: false, outcome: 'credentials' },
  // A body that is not JSON (a proxy's page, a truncated answer): the endpoint misbehaved.
  SyntaxError: { code: 'AWS_UNAVAILABLE', retryable: true, outcome: 'server_error' },
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

const REQUEST_ID =
  /\b(?:request ?id:?\s*)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;

interface SdkLikeError {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

function errorName(err: SdkLikeError): string {
  return typeof err.name === 'string' ? err.name : 'Error';
}

function isNetworkError(err: SdkLikeError): boolean {
  const name = errorName(err);
  if (name === 'TimeoutError' || name === 'RequestTimeout') return true;
  return typeof err.code === 'string' && NETWORK_CODES.has(err.code);
}

function translation(err: SdkLikeError): Translation {
  const known = BY_NAME[errorName(err)];
  if (known !== undefined) return known;
  if (isNetworkError(err)) return { code: 'AWS_UNAVAILABLE', retryable: true, outcome: 'network' };
  const status = err.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 500) {
    return { code: 'AWS_UNAVAILABLE', retryable: true, outcome: 'server_error' };
  }
  if (typeof status === 'number' && status >= 400) {
    return { code: 'AWS_REQUEST', retryable: false, outcome: 'client_error' };
  }
  // No HTTP answer at all: the connection failed in a way the SDK did not name.
  return { code: 'AWS_UNAVAILABLE', retryable: true, outcome: 'network' };
}

/** The bounded outcome label of one API call's error. */
export function callOutcome(err: unknown): CallOutcome {
  return translation(asSdkError(err)).outcome;
}

function asSdkError(err: unknown): SdkLikeError {
  return typeof err === 'object' && err !== null ? err : { message: String(err) };
}

/**
 * The error's own words, without request ids. A parse error's words are withheld: the parser
 * quotes the text it could not parse, and that text is the response, which holds values.
 */
function cleanMessage(err: SdkLikeError): string {
  const raw = typeof err.message === 'string' && err.message !== '' ? err.message : 'no message';
  if (errorName(err) === 'SyntaxError' || /Deserialization error|JSON/i.test(raw))
    return "the response was not valid JSON (the parser's message is withheld: it quotes the response)";
  return raw.replace(REQUEST_ID, '').replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** An SDK (or network) error as an AgentError; `context` says what was being read. */
export function translateAwsError(err: unknown, context: string): AgentError {
  const sdk = asSdkError(err);
  const t = translation(sdk);
  const name = errorName(sdk);
  const what = isNetworkError(sdk) && typeof sdk.code === 'string' ? `${name} (${sdk.code})` : name;
  return new AgentError(t.code, `${context}: ${what}: ${cleanMessage(sdk)}`, {
    retryable: t.retryable,
    cause: { name, code: sdk.code },
  });
}

/** A per-secret entry of BatchGetSecretValue's Errors list, as an AgentError. */
export function translateBatchEntry(
  errorCode: string | undefined,
  message: string | undefined,
  context: string,
): AgentError {
  return translateAwsError(
    {
      name: errorCode ?? 'UnknownError',
      message: message ?? '',
      $metadata: { httpStatusCode: 400 },
    },
    context,
  );
}
