/**
 * The Secrets Manager endpoint: `POST /` with `X-Amz-Target: secretsmanager.<Operation>`
 * (awsJson1_1), answering the calls the agent makes: GetSecretValue, BatchGetSecretValue (by
 * SecretIdList, or by Filters in pages of up to 20) and ListSecrets (by Filters, pages of up to
 * 100, with tags). Filters match as AWS's do: `name`, `tag-key` and `tag-value` by
 * case-insensitive prefix, values of one filter or'd, filters and'ed. Errors come in AWS's shape: `__type`, HTTP 400 for
 * the caller's mistakes, AWS's wording.
 */
import { AwsError, invalidParameter, notFound, serialization } from './aws-error.ts';
import { faultError } from './faults.ts';
import type { JsonCall, JsonObject, JsonService } from './json-service.ts';
import type { DevState } from './state.ts';
import { AWSCURRENT, type SecretRecord, type VersionRecord } from './store.ts';

const TARGET_PREFIX = 'secretsmanager.';
/** BatchGetSecretValue reads up to 20 secrets a call. */
const BATCH_LIMIT = 20;

type Call = JsonCall;

const OPERATIONS: Readonly<Record<string, (input: JsonObject, call: Call) => JsonObject>> = {
  GetSecretValue: getSecretValue,
  BatchGetSecretValue: batchGetSecretValue,
  ListSecrets: listSecrets,
};
/** ListSecrets answers up to 100 secrets a page. */
const LIST_LIMIT = 100;
const FILTER_KEYS = ['name', 'tag-key', 'tag-value'] as const;

export const SECRETS_MANAGER: JsonService = {
  service: 'secretsmanager',
  targetPrefix: TARGET_PREFIX,
  internalError: 'InternalServiceError',
  operations: OPERATIONS,
  idsOf: secretIdsOf,
  /** A fault scoped by a secret's name applies to its ARN too, and to what a filter reaches. */
  faultNames: (state, input, ids) => [
    ...ids,
    ...ids.flatMap((id) => state.store.find(id)?.name ?? []),
    ...(input['Filters'] === undefined ? [] : matching(state, input).map((s) => s.name)),
  ],
  perEntryOperation: 'BatchGetSecretValue',
};

function getSecretValue(input: JsonObject, call: Call): JsonObject {
  const secret = requireSecret(call, reqString(input, 'SecretId'));
  const version = selectVersion(
    secret,
    optString(input, 'VersionId'),
    optString(input, 'VersionStage'),
  );
  return valueEntry(call, secret, version);
}

/** AWSCURRENT values of up to 20 secrets; a secret that cannot be read is an Errors entry. */
function batchGetSecretValue(input: JsonObject, call: Call): JsonObject {
  const ids = optStringList(input, 'SecretIdList');
  if ((ids === undefined) === (input['Filters'] === undefined))
    throw invalidParameter("Either 'SecretIdList' or 'Filters' must be provided, but not both.");
  if (ids === undefined) return batchByFilters(input, call);
  if (ids.length === 0 || ids.length > BATCH_LIMIT)
    throw invalidParameter(`SecretIdList must hold between 1 and ${BATCH_LIMIT} secret ids.`);
  if (input['MaxResults'] !== undefined)
    throw invalidParameter('To use MaxResults, you must also use the Filters parameter.');
  const values: JsonObject[] = [];
  const errors: JsonObject[] = [];
  for (const id of ids) {
    try {
      const secret = requireSecret(call, id);
      const fault = call.state.faults.takeForSecret(call.draft.operation, call.region, secret.name);
      if (fault !== undefined) {
        call.draft.faults = [...call.draft.faults, fault.kind];
        throw faultError(fault, 'json') ?? new Error('a per-secret fault without an error');
      }
      values.push(valueEntry(call, secret, selectVersion(secret)));
    } catch (err) {
      if (!(err instanceof AwsError)) throw err;
      errors.push({ SecretId: id, ErrorCode: err.code, Message: err.message });
    }
  }
  if (errors.length > 0) {
    call.draft.secretErrors = Object.fromEntries(
      errors.map((e) => [String(e['SecretId']), String(e['ErrorCode'])]),
    );
  }
  return { SecretValues: values, Errors: errors };
}

/** BatchGetSecretValue by Filters: the matching secrets' current values, a page at a time. */
function batchByFilters(input: JsonObject, call: Call): JsonObject {
  const { page, next } = paged(matching(call.state, input), input, BATCH_LIMIT);
  const values: JsonObject[] = [];
  const errors: JsonObject[] = [];
  for (const secret of page) {
    try {
      const fault = call.state.faults.takeForSecret(call.draft.operation, call.region, secret.name);
      if (fault !== undefined) {
        call.draft.faults = [...call.draft.faults, fault.kind];
        throw faultError(fault, 'json') ?? new Error('a per-secret fault without an error');
      }
      values.push(valueEntry(call, secret, selectVersion(secret)));
    } catch (err) {
      if (!(err instanceof AwsError)) throw err;
      errors.push({ SecretId: secret.name, ErrorCode: err.code, Message: err.message });
    }
  }
  return {
    SecretValues: values,
    Errors: errors,
    ...(next === undefined ? {} : { NextToken: next }),
  };
}

/** ListSecrets by Filters: names, ARNs and tags, a page at a time. */
function listSecrets(input: JsonObject, call: Call): JsonObject {
  const { page, next } = paged(matching(call.state, input), input, LIST_LIMIT);
  return {
    SecretList: page.map((secret) => ({
      ARN: call.state.store.arn(secret, call.region),
      Name: secret.name,
      Tags: [...secret.tags].map(([Key, Value]) => ({ Key, Value })),
    })),
    ...(next === undefined ? {} : { NextToken: next }),
  };
}

/** The secrets (with a current version) every filter matches. */
function matching(state: DevState, input: JsonObject): SecretRecord[] {
  const raw = input['Filters'] ?? [];
  if (!Array.isArray(raw)) throw serialization('Filters must be a list.');
  const filters = raw.map((f: unknown) => {
    const filter = (typeof f === 'object' && f !== null ? f : {}) as JsonObject;
    const key = filter['Key'];
    const values = optStringList(filter, 'Values') ?? [];
    if (!(FILTER_KEYS as readonly unknown[]).includes(key))
      throw invalidParameter(
        `The dev endpoint filters by ${FILTER_KEYS.join(', ')} only; got ${JSON.stringify(key)}.`,
      );
    if (values.length === 0) throw invalidParameter('A filter needs at least one value.');
    return { key: key as (typeof FILTER_KEYS)[number], values: values.map((v) => v.toLowerCase()) };
  });
  const starts = (text: string, values: readonly string[]): boolean =>
    values.some((v) => text.toLowerCase().startsWith(v));
  return state.store.list().filter(
    (secret) =>
      state.store.versionByStage(secret, AWSCURRENT) !== undefined &&
      filters.every((f) => {
        if (f.key === 'name') return starts(secret.name, f.values);
        const tags = [...secret.tags];
        return tags.some(([k, v]) => starts(f.key === 'tag-key' ? k : v, f.values));
      }),
  );
}

/** One page (MaxResults, at most `limit`) and the token of the next. */
function paged<T>(
  all: readonly T[],
  input: JsonObject,
  limit: number,
): { page: readonly T[]; next: string | undefined } {
  const max = input['MaxResults'] ?? limit;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > limit)
    throw invalidParameter(`MaxResults must be between 1 and ${limit}.`);
  const token = input['NextToken'];
  const start =
    typeof token === 'string' ? Number(Buffer.from(token, 'base64').toString('utf8')) : 0;
  if (!Number.isInteger(start) || start < 0 || start > all.length)
    throw invalidParameter('The NextToken value is not valid.');
  const page = all.slice(start, start + max);
  const end = start + page.length;
  return {
    page,
    next: end < all.length ? Buffer.from(String(end)).toString('base64') : undefined,
  };
}

function requireSecret(call: Call, secretId: string): SecretRecord {
  const secret = call.state.store.find(secretId);
  if (secret === undefined) throw notFound();
  return secret;
}

function selectVersion(secret: SecretRecord, versionId?: string, stage?: string): VersionRecord {
  if (versionId !== undefined) {
    const version = secret.versions.get(versionId);
    if (version === undefined)
      throw notFound(
        `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
      );
    if (stage !== undefined && !version.stages.has(stage)) {
      throw new AwsError(
        'InvalidRequestException',
        'You provided a VersionStage that is not associated to the provided VersionId.',
      );
    }
    return version;
  }
  const label = stage ?? AWSCURRENT;
  for (const version of secret.versions.values()) if (version.stages.has(label)) return version;
  throw notFound(
    `Secrets Manager can't find the specified secret value for staging label: ${label}`,
  );
}

/** ARN, name, version and value: GetSecretValue's answer and a BatchGetSecretValue entry. */
function valueEntry(call: Call, secret: SecretRecord, version: VersionRecord): JsonObject {
  return {
    ARN: call.state.store.arn(secret, call.region),
    Name: secret.name,
    VersionId: version.id,
    ...(version.value.kind === 'string'
      ? { SecretString: version.value.text }
      : { SecretBinary: version.value.bytes.toString('base64') }),
    VersionStages: [...version.stages],
    // Epoch seconds with a fraction, as AWS's JSON services send timestamps.
    CreatedDate: version.created / 1000,
  };
}

/** The secret ids a request names (for the request log, fault scoping). */
function secretIdsOf(input: JsonObject): string[] {
  const id = input['SecretId'];
  const list = input['SecretIdList'];
  return [
    ...(typeof id === 'string' ? [id] : []),
    ...(Array.isArray(list) ? list.filter((v) => typeof v === 'string') : []),
  ];
}

/** A body that is not a JSON object, or a member of the wrong type, is a SerializationException. */

function optString(input: JsonObject, key: string): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw serialization(`${key} must be a string.`);
  return v;
}

function reqString(input: JsonObject, key: string): string {
  const v = optString(input, key);
  if (v === undefined || v.length === 0) {
    const member = key.charAt(0).toLowerCase() + key.slice(1);
    throw invalidParameter(
      `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

function optStringList(input: JsonObject, key: string): string[] | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw serialization(`${key} must be a list of strings.`);
  return v;
}
