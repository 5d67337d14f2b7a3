/**
 * The most room the secret files of one configuration can take on the volume: each source's
 * files times the most one file can hold, in whole pages (tmpfs allocates a file's bytes by the
 * page). A file is the value as AWS returns it, within what AWS stores (upstream.ts), unless a
 * `key`, `template` or `format` renders it, within the render cap (budget.ts). A directory
 * source holds at most LIMITS.directoryItems files. The injector sizes the pod's volume from it
 * (twice: an update writes the new files beside the live ones); docs/limits.md states the same.
 * Kept apart from worst-case.ts (which re-exports it) so that the injector does not bundle the
 * AWS SDK: it lives in common/, which both programs share.
 */
import { LIMITS, type SecretInput } from './config.ts';

/** One file's rendered size, and what a selected value may expand to (the agent's render cap). */
export const MAX_RENDERED_BYTES = 1024 * 1024;

/**
 * What AWS can answer for one value: Secrets Manager's most for a SecretString or a
 * SecretBinary, and SSM Parameter Store's most, an advanced parameter's.
 */
export const UPSTREAM_LIMITS = Object.freeze({
  secretBytes: 64 * 1024,
  parameterBytes: 8 * 1024,
});

/** tmpfs's unit of allocation: a file of n bytes takes ceil(n / 4096) pages. */
export const VOLUME_PAGE_BYTES = 4096;
/** Files the agent writes beside the secrets: the version marker, the local API's token. */
export const VOLUME_OWN_FILES = 2;

/** The fields of a secret that decide its files' sizes. */
export type FileSource = Pick<SecretInput, 'source' | 'key' | 'template' | 'format'>;

/** The most one file of the source holds, in bytes. */
export function fileBytesBound(spec: FileSource): number {
  // `raw`, the default format, writes the value as AWS returns it: it renders nothing.
  const rendered =
    spec.key !== undefined ||
    spec.template !== undefined ||
    (spec.format !== undefined && spec.format !== 'raw');
  if (rendered) return MAX_RENDERED_BYTES;
  const parameters = spec.source === 'parameter' || spec.source === 'path';
  return parameters ? UPSTREAM_LIMITS.parameterBytes : UPSTREAM_LIMITS.secretBytes;
}

/** The most files one source writes. */
export function fileCountBound(spec: FileSource): number {
  return spec.source === 'path' || spec.source === 'find' ? LIMITS.directoryItems : 1;
}

/** The most room one source's files take: files × whole pages of the most one holds. */
export function sourceBytesBound(spec: FileSource): number {
  const pages = Math.ceil(fileBytesBound(spec) / VOLUME_PAGE_BYTES);
  return fileCountBound(spec) * pages * VOLUME_PAGE_BYTES;
}

/** The most room one version of the files takes: every source's, and the agent's own files. */
export function filesWorstCase(secrets: readonly FileSource[]): number {
  let bytes = VOLUME_OWN_FILES * VOLUME_PAGE_BYTES;
  for (const spec of secrets) bytes += sourceBytesBound(spec);
  return bytes;
}
