/** The annotation keys under `secrets-agent.io/`: the one table the parser, the suggestions and the README test use. */

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

/** Longest first, so `version-stage-x` is not read as something shorter. */
export const SECRET_PREFIXES = [
  'version-stage-',
  'version-id-',
  'template-',
  'extract-',
  'secret-',
  'format-',
  'perms-',
  'key-',
] as const;
export type SecretPrefix = (typeof SECRET_PREFIXES)[number];
export const ENV_PREFIX = 'env-';
