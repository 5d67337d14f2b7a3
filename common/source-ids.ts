/**
 * The syntax of the other sources' ids, as SSM and Secrets Manager accept them: parameter names
 * and ARNs (with a `:version` or `:label` selector), SSM paths, `find` name prefixes and tags.
 * The configuration schema (config.ts) applies them, with its LIMITS.
 */
import { quote } from './values.ts';

/**
 * Where a secret comes from: a Secrets Manager secret (the default), an SSM parameter, every
 * parameter under an SSM path, or every Secrets Manager secret whose name starts with a prefix.
 * The last two are directory sources: one file per item under `<outputDir>/<name>/`.
 */
export const SOURCES = ['secretsmanager', 'parameter', 'path', 'find'] as const;

/**
 * The annotation prefix that names each source on a pod (`secret-db`, `param-url` …): the one
 * table of the two vocabularies. The injector's keys (injector/keys.ts) and its mapping of
 * problems back to annotations read it; typed by SOURCES, so a new source needs its prefix.
 */
export const SOURCE_ANNOTATION_PREFIX = {
  secretsmanager: 'secret-',
  parameter: 'param-',
  path: 'path-',
  find: 'find-',
} as const satisfies Record<(typeof SOURCES)[number], `${string}-`>;

/**
 * A secret's field as the agent names it at run time: the configuration's field path, the secret
 * picked by its name (`secrets[name=db].template`). The agent cannot tell a hand-written file from
 * the document the injector wrote, so it says no annotation; on a pod, the name is the part after
 * the source's prefix (`secret-db`), and the field is the annotation's prefix (`template-db`).
 */
export function secretFieldPath(name: string, field?: string): string {
  return `secrets[name=${name}]${field === undefined ? '' : `.${field}`}`;
}
export type SourceKind = (typeof SOURCES)[number];

interface SourceLimits {
  readonly secretIdLength: number;
  readonly parameterNameLength: number;
  readonly parameterPathLength: number;
  readonly findPrefixLength: number;
}

/** A source's rule for its id: its length bound and its syntax (`secretId`: Secrets Manager's). */
export function idRule(
  source: SourceKind,
  limits: SourceLimits,
  secretId: (value: string) => string | undefined,
): { readonly max: number; readonly check: (value: string) => string | undefined } {
  if (source === 'secretsmanager') return { max: limits.secretIdLength, check: secretId };
  if (source === 'parameter') return { max: limits.parameterNameLength, check: parameterName };
  if (source === 'path') return { max: limits.parameterPathLength, check: parameterPath };
  return { max: limits.findPrefixLength, check: findPrefix };
}

/** A version option on a source that has no such versions. */
export function versionProblem(source: SourceKind): string {
  return source === 'parameter'
    ? 'applies to Secrets Manager secrets only; select a parameter version with name:version or name:label'
    : `applies to Secrets Manager secrets only, not to a ${source} source`;
}

/** SSM parameter names: letters, digits and `_.-/`; a version number or label may follow `:`. */
const PARAMETER_NAME = /^[A-Za-z0-9_./-]+(:([0-9]{1,19}|[A-Za-z_.-][A-Za-z0-9_.-]{0,99}))?$/;
const PARAMETER_ARN =
  /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[A-Za-z0-9_./-]+(:([0-9]{1,19}|[A-Za-z_.-][A-Za-z0-9_.-]{0,99}))?$/;
const PARAMETER_PATH = /^\/([A-Za-z0-9_.-]+\/?)*$/;
const FIND_PREFIX = /^[A-Za-z0-9/_+=.@-]+$/;
const TAG = /^([\p{L}\p{Z}\p{N}_.:/=+@-]+)=([\p{L}\p{Z}\p{N}_.:/=+@-]*)$/u;

export function parameterName(value: string): string | undefined {
  if (PARAMETER_NAME.test(value) || PARAMETER_ARN.test(value)) return undefined;
  return `must be an SSM parameter name such as /app/db/url (letters, digits, "_.-/"), optionally with :version or :label, or its ARN; got ${quote(value)}`;
}

export function parameterPath(value: string): string | undefined {
  if (!PARAMETER_PATH.test(value) || value.includes('//'))
    return `must be an SSM path such as /app/config/ (starting with "/"; letters, digits, "_.-/"); got ${quote(value)}`;
  if (value.split('/').filter((s) => s !== '').length > 15)
    return `has more than 15 levels; SSM allows at most 15; got ${quote(value)}`;
  return undefined;
}

export function findPrefix(value: string): string | undefined {
  return FIND_PREFIX.test(value)
    ? undefined
    : `must be the start of a Secrets Manager secret name (letters, digits, "/_+=.@-"); got ${quote(value)}`;
}

/** A find's tag: `key=value` within Secrets Manager's bounds. */
export function parseTag(
  value: string,
  limits: { readonly tagKeyLength: number; readonly tagValueLength: number },
): { key: string; value: string } | string {
  const match = TAG.exec(value);
  const key = match?.[1];
  const tagValue = match?.[2];
  if (key === undefined || tagValue === undefined)
    return `must be key=value, a tag such as team=payments; got ${quote(value)}`;
  if (key.length > limits.tagKeyLength)
    return `has a key of ${key.length} characters; at most ${limits.tagKeyLength} are allowed`;
  if (tagValue.length > limits.tagValueLength)
    return `has a value of ${tagValue.length} characters; at most ${limits.tagValueLength} are allowed`;
  return { key, value: tagValue };
}
