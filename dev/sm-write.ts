/** The Secrets Manager operations that write: create, put, update, delete, restore. */
import { AwsError, MARKED_FOR_DELETION, invalidParameter, invalidRequest } from './aws-error.ts';
import {
  type JsonObject,
  type SecretValue,
  optBoolean,
  optInteger,
  optSecretValue,
  optString,
  optStringList,
  optTags,
  reqString,
  sameValue,
} from './input.ts';
import { type SmContext, checkAccess, epoch, requireSecret } from './sm-common.ts';
import { AWSCURRENT, type SecretRecord, type VersionRecord } from './store.ts';

const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;

export function createSecret(input: JsonObject, ctx: SmContext): JsonObject {
  const name = reqString(input, 'Name', 512);
  if (!NAME_PATTERN.test(name)) {
    throw invalidParameter(
      'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    );
  }
  const token = optToken(input);
  const value = optSecretValue(input);
  checkAccess(ctx, 'CreateSecret', name);
  const existing = ctx.store.byName(name);
  if (existing !== undefined) return createAgain(ctx, existing, token, value);
  const description = optString(input, 'Description');
  const kmsKeyId = optString(input, 'KmsKeyId');
  const tags = optTags(input, 'Tags');
  const secret = ctx.store.create({
    name,
    ...(description === undefined ? {} : { description }),
    ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
    ...(tags === undefined ? {} : { tags }),
  });
  const version =
    value === undefined ? undefined : ctx.store.putVersion(secret, value, token, [AWSCURRENT]);
  return {
    ARN: ctx.store.arn(secret, ctx.region),
    Name: name,
    ...(version === undefined ? {} : { VersionId: version.id }),
  };
}

/** A retried CreateSecret (same token, same value) answers as the first did; anything else clashes. */
function createAgain(
  ctx: SmContext,
  existing: SecretRecord,
  token: string | undefined,
  value: SecretValue | undefined,
): JsonObject {
  if (existing.deleted !== undefined) {
    throw invalidRequest(
      "You can't create this secret because a secret with this name is already scheduled for deletion.",
    );
  }
  const version = token === undefined ? undefined : existing.versions.get(token);
  if (version !== undefined && value !== undefined && sameValue(version.value, value)) {
    return { ARN: ctx.store.arn(existing, ctx.region), Name: existing.name, VersionId: version.id };
  }
  throw new AwsError(
    'ResourceExistsException',
    `The operation failed because the secret ${existing.name} already exists.`,
  );
}

export function putSecretValue(input: JsonObject, ctx: SmContext): JsonObject {
  const secret = requireSecret(ctx, 'PutSecretValue', reqString(input, 'SecretId'));
  const token = optToken(input);
  const value = optSecretValue(input);
  if (value === undefined)
    throw invalidParameter('You must provide either SecretString or SecretBinary.');
  const stages = optStringList(input, 'VersionStages') ?? [AWSCURRENT];
  if (stages.length === 0 || stages.length > 20)
    throw invalidParameter('VersionStages must hold between 1 and 20 labels.');
  const version = newVersion(ctx, secret, value, token, stages);
  return {
    ARN: ctx.store.arn(secret, ctx.region),
    Name: secret.name,
    VersionId: version.id,
    VersionStages: [...version.stages],
  };
}

export function updateSecret(input: JsonObject, ctx: SmContext): JsonObject {
  const secret = requireSecret(ctx, 'UpdateSecret', reqString(input, 'SecretId'));
  const token = optToken(input);
  const value = optSecretValue(input);
  const description = optString(input, 'Description');
  const kmsKeyId = optString(input, 'KmsKeyId');
  if (description !== undefined) secret.description = description;
  if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
  secret.lastChanged = ctx.store.now();
  const version =
    value === undefined ? undefined : newVersion(ctx, secret, value, token, [AWSCURRENT]);
  return {
    ARN: ctx.store.arn(secret, ctx.region),
    Name: secret.name,
    ...(version === undefined ? {} : { VersionId: version.id }),
  };
}

/** A new version, or the same one again when a request is retried with its token and value. */
function newVersion(
  ctx: SmContext,
  secret: SecretRecord,
  value: SecretValue,
  token: string | undefined,
  stages: readonly string[],
): VersionRecord {
  const existing = token === undefined ? undefined : secret.versions.get(token);
  if (existing === undefined) return ctx.store.putVersion(secret, value, token, stages);
  if (sameValue(existing.value, value)) return existing;
  throw new AwsError(
    'ResourceExistsException',
    "You can't modify an existing version, you can only create a new version.",
  );
}

export function deleteSecret(input: JsonObject, ctx: SmContext): JsonObject {
  const secretId = reqString(input, 'SecretId');
  const window = optInteger(input, 'RecoveryWindowInDays', 7, 30);
  const force = optBoolean(input, 'ForceDeleteWithoutRecovery') ?? false;
  if (force && window !== undefined) {
    throw invalidParameter(
      "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    );
  }
  const secret = requireSecret(ctx, 'DeleteSecret', secretId, true);
  const arn = ctx.store.arn(secret, ctx.region);
  const now = ctx.store.now();
  if (force) {
    ctx.store.remove(secret.name);
    return { ARN: arn, Name: secret.name, DeletionDate: epoch(now) };
  }
  if (secret.deleted !== undefined) throw invalidRequest(MARKED_FOR_DELETION);
  secret.deleted = now;
  secret.deletionDate = now + (window ?? 30) * 86_400_000;
  return { ARN: arn, Name: secret.name, DeletionDate: epoch(secret.deletionDate) };
}

export function restoreSecret(input: JsonObject, ctx: SmContext): JsonObject {
  const secret = requireSecret(ctx, 'RestoreSecret', reqString(input, 'SecretId'), true);
  delete secret.deleted;
  delete secret.deletionDate;
  return { ARN: ctx.store.arn(secret, ctx.region), Name: secret.name };
}

function optToken(input: JsonObject): string | undefined {
  const token = optString(input, 'ClientRequestToken');
  if (token !== undefined && (token.length < 32 || token.length > 64)) {
    throw invalidParameter('ClientRequestToken must be between 32 and 64 characters.');
  }
  return token;
}
