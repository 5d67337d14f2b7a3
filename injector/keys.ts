/** The annotation keys under `secrets-agent.io/`: the one table the parser, the suggestions and the README test use. */
import { SOURCE_ANNOTATION_PREFIX } from '../common/source-ids.ts';

export const POD_KEYS = [
  'inject',
  'status',
  'mode',
  'native-sidecar',
  'mount-path',
  'containers',
  'refresh-interval',
  'region',
  'failover-region',
  'proxy-address',
  'use-fips-endpoint',
  'role-arn',
  'k8s-secret',
  'reload-url',
  'local-api',
  'local-api-port',
  'agent-cpu-request',
  'agent-memory-request',
  'agent-cpu-limit',
  'agent-memory-limit',
  'run-as-user',
  'run-as-group',
] as const;
export type PodKey = (typeof POD_KEYS)[number];

/**
 * Longest first, so `version-stage-x` is not read as something shorter (and `find-tag-x` is the
 * tag of `find-x`, never a find named `tag-x`).
 */
export const SECRET_PREFIXES = [
  'version-stage-',
  'version-id-',
  'find-tag-',
  'template-',
  'extract-',
  'secret-',
  'format-',
  'param-',
  'perms-',
  'path-',
  'find-',
  'key-',
] as const;
export type SecretPrefix = (typeof SECRET_PREFIXES)[number];
/** The annotations that name a source (one per file name), by the source they name. */
export const SOURCE_PREFIXES = SOURCE_ANNOTATION_PREFIX satisfies Record<string, SecretPrefix>;
export const ENV_PREFIX = 'env-';
