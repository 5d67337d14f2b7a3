/**
 * AWS's request quotas, per account and region, as token buckets: what a fleet of agents meets
 * in one account. Each bucket refills at its quota's rate and holds one second of it (at least
 * one call); a call that finds it empty is answered as AWS answers it: `ThrottlingException`
 * (HTTP 400, `Rate exceeded`) for Secrets Manager and SSM, `Throttling` (XML) for STS.
 *
 * `scale` F divides every quota: K agents against quotas / F load them as F·K agents would load
 * the real ones, so one machine stands in for a fleet. The figures are AWS's published defaults:
 * Secrets Manager's quotas page (BatchGetSecretValue 100/s, not adjustable; GetSecretValue
 * 10,000/s; DescribeSecret 40,000/s; ListSecrets 100/s), SSM Parameter Store's throughput (40/s
 * shared by GetParameter, GetParameters and GetParametersByPath; with the paid higher throughput
 * setting 3,000/s for the first two, 100/s for the path call), and STS's request rate (600/s).
 */
import type { AwsError } from './aws-error.ts';
import { faultError } from './faults.ts';

export interface Quota {
  /** The bucket: operations that name the same one share it. */
  readonly bucket: string;
  /** Calls a second at scale 1. */
  readonly perSecond: number;
}

const SSM_DEFAULT: Quota = { bucket: 'ssm-parameters', perSecond: 40 };

/** The quotas by operation (Secrets Manager, SSM and STS operations have distinct names). */
export const QUOTAS: Readonly<Record<string, Quota>> = {
  BatchGetSecretValue: { bucket: 'BatchGetSecretValue', perSecond: 100 },
  GetSecretValue: { bucket: 'GetSecretValue', perSecond: 10_000 },
  DescribeSecret: { bucket: 'DescribeSecret', perSecond: 40_000 },
  ListSecrets: { bucket: 'ListSecrets', perSecond: 100 },
  GetParameter: SSM_DEFAULT,
  GetParameters: SSM_DEFAULT,
  GetParametersByPath: SSM_DEFAULT,
  AssumeRoleWithWebIdentity: { bucket: 'AssumeRoleWithWebIdentity', perSecond: 600 },
};

/** SSM with the higher throughput setting. */
export const SSM_HIGHER_THROUGHPUT: Readonly<Record<string, Quota>> = {
  GetParameter: { bucket: 'ssm-get-parameter', perSecond: 3_000 },
  GetParameters: { bucket: 'ssm-get-parameter', perSecond: 3_000 },
  GetParametersByPath: { bucket: 'GetParametersByPath', perSecond: 100 },
};

export interface QuotaOptions {
  /** Every quota divided by this (≥ 1 to stand in for a larger fleet). Default 1. */
  readonly scale?: number;
  /** SSM Parameter Store's higher throughput setting. */
  readonly ssmHigherThroughput?: boolean;
}

/** The quota table in force for these options, at scale 1. */
export function quotaTable(options: QuotaOptions = {}): Readonly<Record<string, Quota>> {
  return options.ssmHigherThroughput === true ? { ...QUOTAS, ...SSM_HIGHER_THROUGHPUT } : QUOTAS;
}

interface Bucket {
  readonly perMs: number;
  readonly capacity: number;
  tokens: number;
  at: number;
}

/** Token buckets on a clock passed in (epoch ms), so a simulation can run them in virtual time. */
export class QuotaModel {
  readonly scale: number;
  readonly #table: Readonly<Record<string, Quota>>;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: QuotaOptions = {}) {
    const scale = options.scale ?? 1;
    if (!(Number.isFinite(scale) && scale > 0))
      throw new RangeError(`quota scale: must be a number above 0, got ${scale}`);
    this.scale = scale;
    this.#table = quotaTable(options);
  }

  /** The quota an operation counts against, in calls a second at this scale. */
  rate(operation: string): number | undefined {
    const quota = this.#table[operation];
    return quota === undefined ? undefined : quota.perSecond / this.scale;
  }

  /** Takes a token for one call: false when the call is throttled. Unknown operations pass. */
  admit(operation: string, now: number): boolean {
    const quota = this.#table[operation];
    if (quota === undefined) return true;
    let bucket = this.#buckets.get(quota.bucket);
    if (bucket === undefined) {
      const perSecond = quota.perSecond / this.scale;
      const capacity = Math.max(1, perSecond);
      bucket = { perMs: perSecond / 1000, capacity, tokens: capacity, at: now };
      this.#buckets.set(quota.bucket, bucket);
    }
    bucket.tokens = Math.min(bucket.capacity, bucket.tokens + (now - bucket.at) * bucket.perMs);
    bucket.at = Math.max(bucket.at, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

/**
 * Throws the protocol's throttling error when the operation's bucket is empty: the same error
 * an injected `throttle` fault answers (faults.ts), so there is one wire shape for both.
 */
export function enforceQuota(
  quotas: QuotaModel | undefined,
  operation: string,
  now: number,
  protocol: 'json' | 'sts',
): void {
  if (quotas === undefined || quotas.admit(operation, now)) return;
  throw faultError({ kind: 'throttle' }, protocol) as AwsError;
}
