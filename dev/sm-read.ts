/** The Secrets Manager operations that read: values, batches, descriptions, listings. */
import { AwsError, accessDenied, invalidParameter } from './aws-error.ts';
import { matchesFilters } from './filters.ts';
import {
  type JsonObject,
  optBoolean,
  optFilters,
  optInteger,
  optString,
  optStringList,
  reqString,
} from './input.ts';
import {
  type SmContext,
  epoch,
  page,
  requireSecret,
  secretValueEntry,
  selectVersion,
} from './sm-common.ts';
import type { SecretRecord } from './store.ts';

export function getSecretValue(input: JsonObject, ctx: SmContext): JsonObject {
  const secretId = reqString(input, 'SecretId');
  const versionId = optString(input, 'VersionId');
  const stage = optString(input, 'VersionStage');
  const secret = requireSecret(ctx, 'GetSecretValue', secretId);
  return secretValueEntry(ctx, secret, selectVersion(secret, ctx, versionId, stage));
}

/** Only AWSCURRENT values, as the real API (it has no stage or version parameters). */
export function batchGetSecretValue(input: JsonObject, ctx: SmContext): JsonObject {
  const ids = optStringList(input, 'SecretIdList');
  const filters = optFilters(input);
  const maxResults = optInteger(input, 'MaxResults', 1, 20);
  const nextToken = optString(input, 'NextToken');
  if ((ids === undefined) === (filters === undefined)) {
    throw invalidParameter("Either 'SecretIdList' or 'Filters' must be provided, but not both.");
  }
  if (!ctx.access.allowsBatch()) {
    throw accessDenied(ctx.access.caller.principalArn, 'secretsmanager:BatchGetSecretValue', '*');
  }
  if (ids !== undefined) {
    if (ids.length === 0 || ids.length > 20)
      throw invalidParameter('SecretIdList must hold between 1 and 20 secret ids.');
    if (maxResults !== undefined)
      throw invalidParameter('To use MaxResults, you must also use the Filters parameter.');
    return batchResult(ids.map((id) => batchEntry(ctx, id)));
  }
  const matching = ctx.store
    .list(ctx.region)
    .filter((s) => s.deleted === undefined && matchesFilters(s, filters ?? [], ctx.region));
  const { items, next } = page('BatchGetSecretValue', matching, nextToken, maxResults ?? 20);
  ctx.noteSecrets(items.map((s) => s.name));
  return {
    ...batchResult(items.map((s) => batchEntry(ctx, s.name))),
    ...(next === undefined ? {} : { NextToken: next }),
  };
}

type BatchOutcome = { value: JsonObject } | { error: JsonObject };

function batchEntry(ctx: SmContext, secretId: string): BatchOutcome {
  try {
    const secret = requireSecret(ctx, 'GetSecretValue', secretId);
    const fault = ctx.secretFault(secret.name);
    if (fault !== undefined) throw fault;
    return { value: secretValueEntry(ctx, secret, selectVersion(secret, ctx)) };
  } catch (err) {
    if (!(err instanceof AwsError)) throw err;
    return { error: { SecretId: secretId, ErrorCode: err.code, Message: err.message } };
  }
}

function batchResult(outcomes: readonly BatchOutcome[]): JsonObject {
  const values: JsonObject[] = [];
  const errors: JsonObject[] = [];
  for (const o of outcomes) {
    if ('value' in o) values.push(o.value);
    else errors.push(o.error);
  }
  return { SecretValues: values, Errors: errors };
}

export function describeSecret(input: JsonObject, ctx: SmContext): JsonObject {
  const secret = requireSecret(ctx, 'DescribeSecret', reqString(input, 'SecretId'), true);
  return {
    ...summary(ctx, secret),
    RotationEnabled: false,
    VersionIdsToStages: ctx.store.versionsToStages(secret),
  };
}

function summary(ctx: SmContext, secret: SecretRecord): JsonObject {
  return {
    ARN: ctx.store.arn(secret, ctx.region),
    Name: secret.name,
    ...(secret.description === undefined ? {} : { Description: secret.description }),
    ...(secret.kmsKeyId === undefined ? {} : { KmsKeyId: secret.kmsKeyId }),
    LastChangedDate: epoch(secret.lastChanged),
    ...(secret.lastAccessed === undefined ? {} : { LastAccessedDate: epoch(secret.lastAccessed) }),
    ...(secret.deleted === undefined ? {} : { DeletedDate: epoch(secret.deleted) }),
    ...(secret.tags.length === 0 ? {} : { Tags: secret.tags }),
    CreatedDate: epoch(secret.created),
  };
}

export function listSecrets(input: JsonObject, ctx: SmContext): JsonObject {
  const includeDeleted = optBoolean(input, 'IncludePlannedDeletion') ?? false;
  const maxResults = optInteger(input, 'MaxResults', 1, 100) ?? 100;
  const filters = optFilters(input) ?? [];
  const sortOrder = optString(input, 'SortOrder') ?? 'asc';
  if (sortOrder !== 'asc' && sortOrder !== 'desc')
    throw invalidParameter("SortOrder must be 'asc' or 'desc'.");
  const all = ctx.store
    .list(ctx.region)
    .filter(
      (s) => (includeDeleted || s.deleted === undefined) && matchesFilters(s, filters, ctx.region),
    );
  if (sortOrder === 'desc') all.reverse();
  const { items, next } = page('ListSecrets', all, optString(input, 'NextToken'), maxResults);
  return {
    SecretList: items.map((s) => ({
      ...summary(ctx, s),
      SecretVersionsToStages: ctx.store.versionsToStages(s),
    })),
    ...(next === undefined ? {} : { NextToken: next }),
  };
}

export function listSecretVersionIds(input: JsonObject, ctx: SmContext): JsonObject {
  const secret = requireSecret(ctx, 'ListSecretVersionIds', reqString(input, 'SecretId'));
  const includeDeprecated = optBoolean(input, 'IncludeDeprecated') ?? false;
  const maxResults = optInteger(input, 'MaxResults', 1, 100) ?? 100;
  const versions = [...secret.versions.values()].filter(
    (v) => includeDeprecated || v.stages.size > 0,
  );
  const { items, next } = page(
    'ListSecretVersionIds',
    versions,
    optString(input, 'NextToken'),
    maxResults,
  );
  return {
    Versions: items.map((v) => ({
      VersionId: v.id,
      VersionStages: [...v.stages],
      ...(v.lastAccessed === undefined ? {} : { LastAccessedDate: epoch(v.lastAccessed) }),
      CreatedDate: epoch(v.created),
    })),
    ...(next === undefined ? {} : { NextToken: next }),
    ARN: ctx.store.arn(secret, ctx.region),
    Name: secret.name,
  };
}
