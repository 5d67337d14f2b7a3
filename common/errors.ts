/**
 * The catalog of error codes. Every error the product raises on purpose carries one of these
 * codes; callers branch on the code, never on the message. docs/agent.md ("Error codes") lists the
 * same codes (a test keeps the two in step).
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'the agent configuration is invalid',
  USAGE: 'a command was called with wrong flags or arguments',
  SECRET_NOT_FOUND: 'Secrets Manager has no such secret, version or stage',
  ACCESS_DENIED: 'the AWS identity may not read the secret',
  THROTTLED: 'Secrets Manager throttled the request',
  AWS_UNAVAILABLE: 'Secrets Manager or STS failed or could not be reached',
  CREDENTIALS: 'no usable AWS credentials (web identity token, pod identity, env, profile)',
  DECRYPTION_FAILED: 'KMS could not decrypt the secret',
  AWS_REQUEST: 'Secrets Manager rejected the request',
  VALUE_INVALID: 'AWS answered a value of the wrong type, or larger than AWS stores',
  RENDER_FAILED: "a secret's value could not be rendered (key, template or format)",
  WRITE_FAILED: 'the secret files could not be written',
  SEED_INVALID: 'the dev endpoint seed file is invalid',
  KUBE_CONFIG: 'the Kubernetes API could not be found or configured (in-cluster or KUBECONFIG)',
  KUBE_FORBIDDEN: "the pod's service account may not read or write the Kubernetes Secret",
  KUBE_REQUEST: 'the Kubernetes API rejected the Secret (validation, conflicts)',
  KUBE_UNAVAILABLE: 'the Kubernetes API failed or could not be reached',
  SECRET_NOT_MANAGED: 'the Kubernetes Secret exists and is not managed by secrets-agent',
  SECRET_DATA_INVALID:
    "the Kubernetes Secret's keys collide or are invalid, or its data exceeds 1 MiB",
  INTERRUPTED: 'the agent was stopped (SIGTERM) before the secrets were written',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** An error with a stable code. `message` never holds a secret value. */
export class AgentError extends Error {
  readonly code: ErrorCode;
  /** Whether trying again later may succeed (throttling, 5xx, network). */
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export function isAgentError(err: unknown): err is AgentError {
  return err instanceof AgentError;
}

/** A one-line description of any thrown value, for logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
