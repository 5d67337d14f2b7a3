/**
 * The annotation keys under `secrets-agent.io/`, as the contract (common/contract.ts) lists them:
 * the parser, the suggestions and the README test read them from here.
 */
import {
  ENV_ANNOTATION,
  POD_KEYS,
  SECRET_PREFIXES,
  type PodKey,
  type SecretPrefix,
} from '../common/contract.ts';
import { SOURCE_ANNOTATION_PREFIX } from '../common/source-ids.ts';

export { POD_KEYS, SECRET_PREFIXES, type PodKey, type SecretPrefix };
/** The annotations that name a source (one per file name), by the source they name. */
export const SOURCE_PREFIXES = SOURCE_ANNOTATION_PREFIX satisfies Record<string, SecretPrefix>;
export const ENV_PREFIX = ENV_ANNOTATION.prefix;
