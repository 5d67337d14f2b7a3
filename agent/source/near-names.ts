/**
 * For a secret that is not found: the names the role can see that are near it, a typo's likely
 * fix. One ListSecrets call, one page, made only when a read failed so (never on the happy path),
 * and only if the role may list (it often may not: then there is no hint but the region).
 */
import { ListSecretsCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { nearest } from '../../common/near.ts';

export const NEAR_NAMES = {
  /** One page of ListSecrets, as many names as it gives at most. */
  pageSize: 100,
  /** Names shown in the hint. */
  shown: 3,
} as const;

export async function nearSecretNames(
  client: SecretsManagerClient,
  ids: readonly string[],
  signal: AbortSignal,
): Promise<ReadonlyMap<string, readonly string[]>> {
  const out = await client.send(new ListSecretsCommand({ MaxResults: NEAR_NAMES.pageSize }), {
    abortSignal: signal,
  });
  const names = (out.SecretList ?? []).flatMap((s) => (s.Name === undefined ? [] : [s.Name]));
  return new Map(ids.map((id) => [id, nearest(id, names, NEAR_NAMES.shown)]));
}
