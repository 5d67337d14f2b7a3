/** What every Secrets Manager operation shares: its context, secret lookup, rendering, paging. */
import type { AccessPolicy } from './access.ts';
import { AwsError, MARKED_FOR_DELETION, accessDenied, notFound } from './aws-error.ts';
import type { JsonObject } from './input.ts';
import { AWSCURRENT, type SecretRecord, type SecretStore, type VersionRecord } from './store.ts';

export interface SmContext {
  readonly store: SecretStore;
  readonly region: string;
  readonly access: AccessPolicy;
  /** A secret-scoped fault for one secret of a batch (answered as a per-secret error), if any. */
  readonly secretFault: (name: string) => AwsError | undefined;
  /** Adds secret ids to the request log (operations that find their secrets as they go). */
  readonly noteSecrets: (names: readonly string[]) => void;
}

export type SmHandler = (input: JsonObject, ctx: SmContext) => JsonObject;

/** Epoch seconds with a fraction, as AWS's JSON services send timestamps. */
export function epoch(ms: number): number {
  return ms / 1000;
}

export function checkAccess(ctx: SmContext, action: string, secretId: string): void {
  const secret = ctx.store.find(secretId, ctx.region);
  const name = secret?.name ?? secretId;
  const arn = secret === undefined ? undefined : ctx.store.arn(secret, ctx.region);
  if (!ctx.access.allowsSecret(name, arn)) {
    throw accessDenied(ctx.access.caller.principalArn, `secretsmanager:${action}`, arn ?? secretId);
  }
}

/**
 * The secret an operation names, after the access check (AWS checks IAM before it looks).
 * A secret scheduled for deletion is an InvalidRequestException unless `allowDeleted`.
 */
export function requireSecret(
  ctx: SmContext,
  action: string,
  secretId: string,
  allowDeleted = false,
): SecretRecord {
  checkAccess(ctx, action, secretId);
  const secret = ctx.store.find(secretId, ctx.region);
  if (secret === undefined) throw notFound();
  if (secret.deleted !== undefined && !allowDeleted)
    throw new AwsError('InvalidRequestException', MARKED_FOR_DELETION);
  return secret;
}

export function selectVersion(
  secret: SecretRecord,
  ctx: SmContext,
  versionId?: string,
  stage?: string,
): VersionRecord {
  if (versionId !== undefined) {
    const version = secret.versions.get(versionId);
    if (version === undefined || (stage !== undefined && !version.stages.has(stage))) {
      const which =
        stage === undefined
          ? `VersionId: ${versionId}`
          : `VersionId: ${versionId} and staging label: ${stage}`;
      throw notFound(`Secrets Manager can't find the specified secret value for ${which}`);
    }
    return version;
  }
  const label = stage ?? AWSCURRENT;
  const version = ctx.store.versionByStage(secret, label);
  if (version === undefined)
    throw notFound(
      `Secrets Manager can't find the specified secret value for staging label: ${label}`,
    );
  return version;
}

/** ARN, name, version and value: the body of GetSecretValue and of a BatchGetSecretValue entry. */
export function secretValueEntry(
  ctx: SmContext,
  secret: SecretRecord,
  version: VersionRecord,
): JsonObject {
  ctx.store.touch(secret, version);
  return {
    ARN: ctx.store.arn(secret, ctx.region),
    Name: secret.name,
    VersionId: version.id,
    ...(version.value.kind === 'string'
      ? { SecretString: version.value.text }
      : { SecretBinary: version.value.bytes.toString('base64') }),
    VersionStages: [...version.stages],
    CreatedDate: epoch(version.created),
  };
}

/** Opaque page tokens: the offset into a listing, tagged with the operation that issued it. */
export function encodePageToken(operation: string, offset: number): string {
  return Buffer.from(JSON.stringify({ op: operation, offset }), 'utf8').toString('base64url');
}

export function decodePageToken(operation: string, token: string | undefined): number {
  if (token === undefined) return 0;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null) {
      const { op, offset } = parsed as { op?: unknown; offset?: unknown };
      if (op === operation && typeof offset === 'number' && Number.isInteger(offset) && offset >= 0)
        return offset;
    }
  } catch {
    // fall through: any token we did not issue is invalid
  }
  throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
}

/** One page of `items` and the token for the next, if any. */
export function page<T>(
  operation: string,
  items: readonly T[],
  token: string | undefined,
  size: number,
): { items: T[]; next?: string } {
  const offset = decodePageToken(operation, token);
  const slice = items.slice(offset, offset + size);
  const end = offset + slice.length;
  return end < items.length
    ? { items: slice, next: encodePageToken(operation, end) }
    : { items: slice };
}
