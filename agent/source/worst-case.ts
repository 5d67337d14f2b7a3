/**
 * What one fetch can cost at most: calls as AWS bills them, and calls that run one after
 * another (each lasting at most requestTimeout). docs/agent.md ("Retries") states the same
 * formulas, and the tests hold the sources to them against the dev endpoint with faults. The
 * agent itself does not need this module: it is the sources' contract, written as code.
 */
import { LIMITS } from '../../common/config.ts';
import { BATCH_LIMIT, CREDENTIAL_CALLS_PER_FETCH, GET_CONCURRENCY } from './aws.ts';
import { FIND_PAGE_SIZE } from './find.ts';
import { maxPages } from './source.ts';
import { PARAMETERS_PER_CALL, PATH_CONCURRENCY, PATH_PAGE_SIZE } from './ssm.ts';

/** Which refs one fetch reads, by how they are read. */
export interface FetchShape {
  /** Secrets on their current version (BatchGetSecretValue). */
  readonly batchable: number;
  /** Secrets pinned to a stage or version id (GetSecretValue). */
  readonly pinned: number;
  readonly failover: boolean;
  /** SSM parameters (GetParameters). */
  readonly parameters?: number;
  /** SSM paths (GetParametersByPath). */
  readonly paths?: number;
  /** Finds by name prefix (BatchGetSecretValue with filters). */
  readonly finds?: number;
  /** Finds by name prefix and tag (ListSecrets, then BatchGetSecretValue by id). */
  readonly taggedFinds?: number;
}

/** The most one fetch costs. */
export interface WorstCase {
  /** Secrets Manager calls for named secrets, whether they fail or not: ceil(B/20) + P a region. */
  readonly calls: number;
  /** The same when the batch call is denied (at most hourly): N + 1 per region. */
  readonly callsBatchDenied: number;
  /** Credentials calls (STS, or the container endpoint) on top: when none are cached. */
  readonly credentialCalls: number;
  /** GetParameters calls, whether they fail or not: ceil(Q/10) per region. */
  readonly parameterCalls: number;
  /** Calls of paths and finds when every first call fails: one each per region. */
  readonly directoryCallsFailing: number;
  /** Calls of paths and finds at most: the pages of their most items, and a few short ones. */
  readonly directoryCalls: number;
  /** Calls that run one after another, each lasting at most requestTimeout. */
  readonly rounds: number;
}

/** Pages of one path at most: 1,000 parameters at 10 a page, and short pages: 110. */
export const PATH_MAX_CALLS = maxPages(LIMITS.directoryItems, PATH_PAGE_SIZE);
/** Pages of one find at most: 1,000 secrets at 20 a page, and short pages: 60. */
export const FIND_MAX_CALLS = maxPages(LIMITS.directoryItems, FIND_PAGE_SIZE);
/** A tagged find: ListSecrets pages (as many as a find's), then 1,000 ids read 20 a call: 110. */
export const TAGGED_FIND_MAX_CALLS =
  FIND_MAX_CALLS + Math.ceil(LIMITS.directoryItems / FIND_PAGE_SIZE);

/**
 * One fetch's worst case. Per region tried, one after another: parameters (ceil(Q/10) calls),
 * paths (4 at a time, each page after the last), finds (one after another), then named
 * secrets: ceil(B/20) batch calls, one after another, and P GetSecretValue calls, 8 at a time;
 * or, when the batch call is denied or throttled, that call and one GetSecretValue per secret (N + 1 calls
 * in 1 + ceil(N/8) rounds). The failover region reads again, once, what failed in the primary
 * with a retryable error: at most as much again.
 */
export function fetchWorstCase(shape: FetchShape): WorstCase {
  const { batchable: b, pinned: p } = shape;
  const { parameters = 0, paths = 0, finds = 0, taggedFinds = 0 } = shape;
  const regions = shape.failover ? 2 : 1;
  const batches = Math.ceil(b / BATCH_LIMIT);
  const named = batches + Math.ceil(p / GET_CONCURRENCY);
  const denied = b === 0 ? named : 1 + Math.ceil((b + p) / GET_CONCURRENCY);
  const parameterCalls = Math.ceil(parameters / PARAMETERS_PER_CALL);
  // Finds run one after another: each of their calls is a round; paths run 4 at a time.
  const findCalls = finds * FIND_MAX_CALLS + taggedFinds * TAGGED_FIND_MAX_CALLS;
  const directoryCalls = paths * PATH_MAX_CALLS + findCalls;
  const directoryRounds = Math.ceil(paths / PATH_CONCURRENCY) * PATH_MAX_CALLS + findCalls;
  return {
    calls: regions * (batches + p),
    callsBatchDenied: regions * (b === 0 ? p : 1 + b + p),
    credentialCalls: CREDENTIAL_CALLS_PER_FETCH,
    parameterCalls: regions * parameterCalls,
    directoryCallsFailing: regions * (paths + finds + taggedFinds),
    directoryCalls: regions * directoryCalls,
    rounds: regions * (parameterCalls + directoryRounds + Math.max(named, denied)),
  };
}

export {
  fileBytesBound,
  fileCountBound,
  filesWorstCase,
  sourceBytesBound,
  VOLUME_PAGE_BYTES,
} from '../../common/files-worst-case.ts';
