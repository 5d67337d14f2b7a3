/**
 * What AWS can answer for one value, checked at the adapter edge before a value is kept: a
 * Secrets Manager SecretString is a string and a SecretBinary bytes, each at most 64 KiB; an SSM
 * parameter's Value a string of at most 8 KB (4 KB for a standard parameter, 8 KB for an
 * advanced one; the answer does not say which tier). Anything else did not come from AWS (an
 * endpoint that is not AWS, a proxy in between): the agent refuses it with VALUE_INVALID, naming
 * the secret, never quoting the value. docs/limits.md lists the bounds.
 */
import { AgentError } from '../../common/errors.ts';
import { UPSTREAM_LIMITS } from '../../common/files-worst-case.ts';

/** Declared with the volume's worst case, which they bound. */
export { UPSTREAM_LIMITS };

/** A value AWS would not answer; the message names the secret and the shape, never the value. */
function invalid(name: string, message: string): AgentError {
  return new AgentError('VALUE_INVALID', `${name}: ${message}`);
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** UTF-8 bytes of a string, or undefined past `max` (counted without encoding a long one). */
function utf8Bytes(text: string, max: number): number | undefined {
  // A UTF-16 unit is at least one UTF-8 byte: a string longer than max is over.
  if (text.length > max) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > max ? undefined : bytes;
}

function checkString(name: string, field: string, value: unknown, max: number): void {
  if (typeof value !== 'string')
    throw invalid(name, `the answer's ${field} is ${kind(value)}, not a string`);
  if (utf8Bytes(value, max) === undefined)
    throw invalid(
      name,
      `the answer's ${field} is larger than ${max} bytes, more than AWS stores (${value.length} characters)`,
    );
}

/** A Secrets Manager answer's value: a string or bytes, within 64 KiB. Throws VALUE_INVALID. */
export function checkSecretAnswer(
  name: string,
  out: { readonly SecretString?: unknown; readonly SecretBinary?: unknown },
): void {
  const max = UPSTREAM_LIMITS.secretBytes;
  if (out.SecretString !== undefined) checkString(name, 'SecretString', out.SecretString, max);
  const binary = out.SecretBinary;
  if (binary === undefined) return;
  if (!(binary instanceof Uint8Array))
    throw invalid(name, `the answer's SecretBinary is ${kind(binary)}, not bytes`);
  if (binary.byteLength > max)
    throw invalid(
      name,
      `the answer's SecretBinary is ${binary.byteLength} bytes, more than AWS stores (${max})`,
    );
}

/** Why an SSM answer's Value is not a string within 8 KB, if it is not. */
export function parameterError(name: string, value: unknown): AgentError | undefined {
  try {
    checkString(name, 'Value', value, UPSTREAM_LIMITS.parameterBytes);
    return undefined;
  } catch (err) {
    if (isValueInvalid(err)) return err;
    throw err;
  }
}

/** Whether an error is a value AWS would not answer (kept per secret, never retried). */
export function isValueInvalid(err: unknown): err is AgentError {
  return err instanceof AgentError && err.code === 'VALUE_INVALID';
}
