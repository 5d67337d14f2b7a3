/** "Did you mean …" for unknown annotation keys. */
import { ENV_PREFIX, POD_KEYS, SECRET_PREFIXES } from './keys.ts';
import { ANNOTATION_PREFIX, type Annotations } from './types.ts';

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

export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 4)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment): typos are often swaps. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const at = (r: number, c: number): number => (r === i ? row[c] : rows[r]?.[c]) ?? Infinity;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, at(i - 2, j - 2) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
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
