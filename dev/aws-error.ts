/**
 * An error answered on the wire in AWS's own shape: `code` is the `__type` (JSON) or
 * `<Code>` (STS XML), `status` the HTTP status AWS uses for it. Messages follow AWS's wording
 * and never hold a secret value.
 */
export class AwsError extends Error {
  readonly code: string;
  readonly status: number;
  /** STS XML `<Type>`: Sender for the caller's fault, Receiver for the service's. */
  readonly fault: 'Sender' | 'Receiver';

  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = 'AwsError';
    this.code = code;
    this.status = status;
    this.fault = status >= 500 ? 'Receiver' : 'Sender';
  }
}

export function notFound(message = "Secrets Manager can't find the specified secret."): AwsError {
  return new AwsError('ResourceNotFoundException', message);
}

export function invalidParameter(message: string): AwsError {
  return new AwsError('InvalidParameterException', message);
}

export function serialization(message: string): AwsError {
  return new AwsError('SerializationException', message);
}
