/**
 * ListSecrets / BatchGetSecretValue filters, as the API reference describes them: values within
 * one filter OR together, filters AND together, a leading `!` negates a value. `name`, `tag-key`
 * and `tag-value` are case-sensitive prefix matches, `description` a case-insensitive one, `all`
 * splits the value into words and looks for each in every attribute, ignoring case.
 */
import type { Filter } from './input.ts';
import type { SecretRecord } from './store.ts';

export function matchesFilters(
  secret: SecretRecord,
  filters: readonly Filter[],
  region: string,
): boolean {
  return filters.every((f) => f.Values.some((value) => matchesValue(secret, f.Key, value, region)));
}

function matchesValue(secret: SecretRecord, key: string, value: string, region: string): boolean {
  if (value.startsWith('!')) return !matchesPositive(secret, key, value.slice(1), region);
  return matchesPositive(secret, key, value, region);
}

function matchesPositive(
  secret: SecretRecord,
  key: string,
  value: string,
  region: string,
): boolean {
  switch (key) {
    case 'name':
      return secret.name.startsWith(value);
    case 'description':
      return (secret.description ?? '').toLowerCase().startsWith(value.toLowerCase());
    case 'tag-key':
      return secret.tags.some((t) => t.Key.startsWith(value));
    case 'tag-value':
      return secret.tags.some((t) => t.Value.startsWith(value));
    case 'primary-region':
      return region.startsWith(value);
    case 'owning-service':
      return false;
    default:
      return matchesAll(secret, value);
  }
}

function matchesAll(secret: SecretRecord, value: string): boolean {
  const haystack = [
    secret.name,
    secret.description ?? '',
    ...secret.tags.flatMap((t) => [t.Key, t.Value]),
  ]
    .join(' ')
    .toLowerCase();
  const words = value
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  return words.every((w) => haystack.includes(w));
}
