/**
 * An init that fails because a secret is not found says where it looked and, when the role may
 * list secrets, the names near the one asked for: a typo is the usual cause, and its fix is
 * then on the termination message's one line.
 */
import type { SecretSpec } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import type { SecretFailure } from './agent.ts';
import type { SecretSource } from './source/source.ts';

export async function withNotFoundHints(
  failures: readonly SecretFailure[],
  secrets: readonly SecretSpec[],
  source: SecretSource,
  region: string | undefined,
  signal: AbortSignal,
): Promise<readonly SecretFailure[]> {
  const specs = new Map(secrets.map((s) => [s.name, s]));
  const missing = failures.filter((f) => f.error.code === 'SECRET_NOT_FOUND');
  if (missing.length === 0) return failures;
  // Names only (an ARN names its secret exactly), Secrets Manager only (parameters are not listed).
  const ids = missing.flatMap((f) => {
    const spec = specs.get(f.secret);
    return spec === undefined || spec.source !== undefined || spec.id.startsWith('arn:')
      ? []
      : [spec.id];
  });
  const near =
    ids.length === 0 || source.nearNames === undefined || signal.aborted
      ? new Map<string, readonly string[]>()
      : await source.nearNames(ids, signal).catch(() => new Map<string, readonly string[]>());
  return failures.map((f) => {
    if (f.error.code !== 'SECRET_NOT_FOUND') return f;
    const id = specs.get(f.secret)?.id ?? '';
    const names = near.get(id) ?? [];
    const where = `asked in region ${region ?? 'of the SDK default'}`;
    const hint = names.length === 0 ? where : `${where}; did you mean ${names.join(', ')}?`;
    const error = new AgentError(f.error.code, `${f.error.message} (${hint})`, {
      retryable: f.error.retryable,
      cause: f.error,
    });
    return { ...f, error };
  });
}
