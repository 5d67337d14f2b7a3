/** "Did you mean …" for unknown annotation keys. */
import { ENV_PREFIX, POD_KEYS, SECRET_PREFIXES } from './keys.ts';
import { ANNOTATION_PREFIX, type Annotations } from './types.ts';
import { closest } from '../common/near.ts';

export { closest, editDistance } from '../common/near.ts';

/** The known key or prefix+name nearest to `key`, when near enough to be a typo. */
export function suggestKey(key: string): string | undefined {
  const candidates: string[] = [...POD_KEYS];
  // A per-secret or env key with a misspelt prefix: try every split point against every prefix.
  for (let i = 1; i < key.length; i++) {
    if (key[i - 1] !== '-') continue;
    const rest = key.slice(i);
    for (const prefix of [...SECRET_PREFIXES, ENV_PREFIX]) candidates.push(`${prefix}${rest}`);
  }
  return closest(
    key,
    candidates.filter((c) => c !== key),
  );
}

/**
 * What a pod's annotations suggest its author meant, when the pod is NOT opted in: our keys
 * without `inject`. Such a pod passes untouched, so this is a warning (`inject` prints it; the
 * webhook never sees pods that did not opt in). Keys under a misspelt prefix
 * (`secret-agent.io/inject`) are near misses (near-miss.ts), reported whether or not the pod
 * opted in.
 */
export function optInHints(annotations: Annotations | undefined): string[] {
  const own = Object.keys(annotations ?? {}).filter((k) => k.startsWith(ANNOTATION_PREFIX));
  if (own.length === 0 || annotations?.[`${ANNOTATION_PREFIX}inject`] !== undefined) return [];
  return [
    `has ${own[0] ?? ''}${own.length > 1 ? ` and ${own.length - 1} more` : ''} but no ${ANNOTATION_PREFIX}inject: "true", so nothing is injected`,
  ];
}
