/** The Secrets Manager operations the emulator answers, by `X-Amz-Target` name. */
import type { JsonObject } from './input.ts';
import type { SmHandler } from './sm-common.ts';
import {
  batchGetSecretValue,
  describeSecret,
  getSecretValue,
  listSecretVersionIds,
  listSecrets,
} from './sm-read.ts';
import {
  createSecret,
  deleteSecret,
  putSecretValue,
  restoreSecret,
  updateSecret,
} from './sm-write.ts';

export const SM_TARGET_PREFIX = 'secretsmanager.';

export const SM_OPERATIONS: Readonly<Record<string, SmHandler>> = {
  GetSecretValue: getSecretValue,
  BatchGetSecretValue: batchGetSecretValue,
  DescribeSecret: describeSecret,
  ListSecrets: listSecrets,
  ListSecretVersionIds: listSecretVersionIds,
  CreateSecret: createSecret,
  PutSecretValue: putSecretValue,
  UpdateSecret: updateSecret,
  DeleteSecret: deleteSecret,
  RestoreSecret: restoreSecret,
};

/** The secret ids a request names (for the request log, fault scoping and access rules). */
export function secretIdsOf(input: JsonObject): string[] {
  const ids: string[] = [];
  for (const key of ['SecretId', 'Name']) {
    const v = input[key];
    if (typeof v === 'string') ids.push(v);
  }
  const list = input['SecretIdList'];
  if (Array.isArray(list)) for (const v of list) if (typeof v === 'string') ids.push(v);
  return ids;
}
