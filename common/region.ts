/**
 * Where the AWS region comes from: one ordered chain, declared here once. The injector walks the
 * part it can see at admission (it writes the result into the agent's configuration, so the agent
 * then finds it at `config`); the agent walks the rest at start. Neither keeps an order of its own.
 *
 * - `config`: the configuration's `region` (on a pod, the `region` annotation);
 * - `arn`: the region the secrets' ARNs name (Secrets Manager and SSM): a secret given by its ARN
 *   lives there. ARNs that name different regions are a configuration error unless `config`
 *   names one (checked by the schema, common/config.ts, so admission and the agent refuse alike);
 * - `env`: AWS_REGION, else AWS_DEFAULT_REGION (the app's containers' at admission, the agent's
 *   own environment at start);
 * - `default`: the injector's `--default-region` (the injector only);
 * - `profile`: a profile the SDK reads, AWS_PROFILE (the agent only);
 * - `imds`: the instance metadata service (the agent only).
 */
import type { ProblemSink } from './config-problem.ts';
import { isObject } from './json.ts';
import { REGION } from './values.ts';

export { region, regionProblem } from './values.ts';

export const REGION_CHAIN = ['config', 'arn', 'env', 'default', 'profile', 'imds'] as const;
export type RegionFrom = (typeof REGION_CHAIN)[number];
/** The steps that need neither the SDK's files nor the network: resolveRegion's. */
export type StaticRegionFrom = Exclude<RegionFrom, 'profile' | 'imds'>;

/** The variables the `env` step reads, first first. */
export const REGION_ENV = ['AWS_REGION', 'AWS_DEFAULT_REGION'] as const;

/** Secrets Manager and SSM ARNs: `arn:PARTITION:secretsmanager|ssm:REGION:…`. */
const SOURCE_ARN = /^arn:aws[a-z-]*:(?:secretsmanager|ssm):([a-z0-9-]+):/;

/** The region one id names, when it is a Secrets Manager or SSM ARN with a valid region. */
export function arnRegion(id: string): string | undefined {
  const named = SOURCE_ARN.exec(id)?.[1];
  return named !== undefined && REGION.test(named) ? named : undefined;
}

/** Each region the ids' ARNs name, with the index of the first id that names it. */
export function arnRegions(ids: readonly string[]): Map<string, number> {
  const regions = new Map<string, number>();
  ids.forEach((id, i) => {
    const named = arnRegion(id);
    if (named !== undefined && !regions.has(named)) regions.set(named, i);
  });
  return regions;
}

/**
 * The region the secrets' ARNs name, when every ARN among `ids` names the same one. Plain names
 * say nothing; ARNs that disagree say nothing either (the schema refuses them without a region).
 */
export function regionOfArns(ids: readonly string[]): string | undefined {
  const regions = arnRegions(ids);
  const [only] = regions.keys();
  return regions.size === 1 ? only : undefined;
}

/**
 * The rules between the configuration's regions and its secrets' (the schema asks them):
 * `failoverRegion` must differ from the region the agent reads in first, `region` or else the one
 * the ARNs name; and ARNs in different regions need `region`, as one agent reads in one region,
 * which would otherwise be whichever came first (each further region is one problem, on the first
 * ARN naming it).
 */
export function checkRegions(
  named: unknown,
  failoverRegion: string | undefined,
  secrets: unknown,
  problems: ProblemSink,
): void {
  if (failoverRegion !== undefined && failoverRegion === named)
    problems.add('duplicate', ['failoverRegion'], 'must differ from {0}', ['region']);
  if (named !== undefined || !Array.isArray(secrets)) return;
  // The ids as written, at their places: `secrets[i].id` names the one a problem is about.
  const ids = secrets.map((s: unknown) =>
    isObject(s) && typeof s['id'] === 'string' ? s['id'] : '',
  );
  const [first, ...others] = arnRegions(ids);
  if (first === undefined) return;
  const [primary, at] = first;
  for (const [name, i] of others)
    problems.add(
      'forbidden',
      ['secrets', i, 'id'],
      `names region ${name}, but {0} names ${primary}: ARNs in different regions need {1}`,
      ['secrets', at, 'id'],
      ['region'],
    );
  if (others.length === 0 && failoverRegion === primary)
    problems.add(
      'duplicate',
      ['failoverRegion'],
      `must differ from ${primary}, the region {0} names (the agent reads there first)`,
      ['secrets', at, 'id'],
    );
}

/** What a resolver can see: the steps that do not apply to it are left out. */
export interface RegionInputs {
  /** The configuration's `region`. */
  readonly config?: string | undefined;
  /** The secrets' ids. */
  readonly ids: readonly string[];
  /** A variable's value where this resolver looks (undefined or '' when unset). */
  readonly env: (name: (typeof REGION_ENV)[number]) => string | undefined;
  /** The injector's `--default-region`. */
  readonly default?: string | undefined;
}

export interface ResolvedRegion {
  readonly region: string;
  readonly from: StaticRegionFrom;
  /** With `env`: which variable named it. */
  readonly variable?: (typeof REGION_ENV)[number];
}

/**
 * The first of `config`, `arn`, `env`, `default` that names a region, in REGION_CHAIN's order,
 * or undefined: the agent then goes on to `profile` and `imds`, which need the SDK's files or
 * the network (agent/region.ts). A step is looked at only when those before it named no region.
 */
export function resolveRegion(inputs: RegionInputs): ResolvedRegion | undefined {
  for (const from of REGION_CHAIN) {
    if (from === 'profile' || from === 'imds') break;
    const found = step(from, inputs);
    if (found !== undefined) return found;
  }
  return undefined;
}

function step(from: StaticRegionFrom, inputs: RegionInputs): ResolvedRegion | undefined {
  switch (from) {
    case 'config':
      return inputs.config === undefined ? undefined : { region: inputs.config, from };
    case 'arn': {
      const named = regionOfArns(inputs.ids);
      return named === undefined ? undefined : { region: named, from };
    }
    case 'env':
      for (const variable of REGION_ENV) {
        const value = inputs.env(variable);
        if (value !== undefined && value !== '') return { region: value, from, variable };
      }
      return undefined;
    case 'default':
      return inputs.default === undefined ? undefined : { region: inputs.default, from };
  }
}
