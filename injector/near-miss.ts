/**
 * Annotation keys that look like ours but are not: `secret-agent.io/inject`,
 * `secrets.agent.io/secret-db`. The webhook's match condition and the policy's opt-in check
 * see only the exact `secrets-agent.io/` prefix, so such a key never reaches the injector and the
 * pod starts without its secrets, with nothing said. The rule is written once, here: a key
 * whose domain (the part before its `/`) is one edit from ours (a character missing, added or
 * changed, or two neighbours swapped) or is a known misspelling further off. From it come the
 * regular expression `inject` uses and the CEL expression of the shipped policy
 * (manifests/policy.yaml), which a test checks against each other on generated keys.
 */
import { ANNOTATION_PREFIX } from './types.ts';

/** Our annotations' domain: the prefix without its slash. */
export const DOMAIN = ANNOTATION_PREFIX.slice(0, -1);

/** Misspellings more than one edit away that users write. */
export const KNOWN_MISSPELLINGS = [
  'secret.agent.io',
  'secret_agent.io',
  'secretsagent',
  'secrets-agent',
  'secret-agent',
  'secrets.agent',
  'secrets-agent.com',
  'secret-agents.io',
  'secrets-agent.dev',
  'secretagent.io',
] as const;

/** A regular-expression piece matching `text` literally. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, (c) => (c === '-' ? '-' : `\\${c}`));
}

/** Any one character a domain may hold (never the slash that ends it). */
const ANY = '[^/]';

/**
 * Every domain one edit from `word`, as alternatives of one regular expression (RE2's syntax
 * and JavaScript's alike): deletions, substitutions, insertions, swaps of neighbours.
 */
function oneEditAway(word: string): string[] {
  const alternatives = new Set<string>();
  for (let i = 0; i <= word.length; i++) {
    const head = literal(word.slice(0, i));
    alternatives.add(`${head}${ANY}${literal(word.slice(i))}`); // insertion
    if (i === word.length) continue;
    const tail = literal(word.slice(i + 1));
    alternatives.add(`${head}${tail}`); // deletion
    alternatives.add(`${head}${ANY}${tail}`); // substitution
    if (i + 1 < word.length)
      alternatives.add(
        `${head}${literal(word.charAt(i + 1) + word.charAt(i))}${literal(word.slice(i + 2))}`,
      );
  }
  return [...alternatives];
}

/** The near-miss domains as one regular expression's alternatives (ours among them). */
export const NEAR_MISS_DOMAINS = [...oneEditAway(DOMAIN), ...KNOWN_MISSPELLINGS.map(literal)].join(
  '|',
);

/** A whole key whose domain is a near miss (or ours): the pattern the policy's CEL matches. */
export const NEAR_MISS_KEY_PATTERN = `^(?:${NEAR_MISS_DOMAINS})/`;

const NEAR_MISS_KEY = new RegExp(NEAR_MISS_KEY_PATTERN);

/** The key looks like one of ours and is not. */
export function isNearMiss(key: string): boolean {
  return !key.startsWith(ANNOTATION_PREFIX) && NEAR_MISS_KEY.test(key);
}

/** The keys of these annotations that are near misses. */
export function nearMisses(annotations: Readonly<Record<string, string>> | undefined): string[] {
  return Object.keys(annotations ?? {}).filter(isNearMiss);
}

/**
 * The CEL of the shipped policy: the near-miss keys among `annotations` (a CEL expression of
 * a map), `[]` where there are none. manifests/policy.yaml holds it as written here
 * (test/near-miss.test.ts checks both, and evaluates it on generated keys).
 */
export function nearMissCel(annotations: string): string {
  return `${annotations}.filter(k, !k.startsWith('${ANNOTATION_PREFIX}') && k.matches('${NEAR_MISS_KEY_PATTERN.replaceAll('\\', '\\\\')}'))`;
}
