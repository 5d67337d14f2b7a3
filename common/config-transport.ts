/**
 * How the agent reaches AWS, as the configuration says it: `proxyAddress` and
 * `useFipsEndpoint` (annotations `proxy-address`, `use-fips-endpoint`). Part of the agent's
 * schema (config.ts), kept here as config-owners.ts keeps the Secret's owners.
 */
import { saidOf, type ProblemSink } from './config-problem.ts';
import type { JsonObject } from './json.ts';
import { proxyAddressProblem, quote } from './values.ts';

export const TRANSPORT_FIELDS = ['proxyAddress', 'useFipsEndpoint'] as const;

export interface TransportConfig {
  /** Every AWS call (Secrets Manager, SSM, STS) goes through this HTTP(S) proxy. */
  readonly proxyAddress?: string;
  /** AWS's FIPS 140 endpoints (the SDK's useFipsEndpoint). */
  readonly useFipsEndpoint: boolean;
}

export interface TransportInput {
  proxyAddress?: string;
  useFipsEndpoint?: boolean;
}

export function parseTransport(
  raw: JsonObject,
  maxUrlLength: number,
  problems: ProblemSink,
): TransportConfig {
  const { proxyAddress: proxy, useFipsEndpoint: fips } = raw;
  let proxyAddress: string | undefined;
  if (proxy !== undefined && (typeof proxy !== 'string' || proxy === ''))
    problems.add('invalid', ['proxyAddress'], 'must be a non-empty string');
  else if (typeof proxy === 'string' && proxy.length > maxUrlLength)
    problems.add(
      'too-long',
      ['proxyAddress'],
      `is ${proxy.length} characters long; at most ${maxUrlLength} are allowed`,
    );
  else if (typeof proxy === 'string') {
    const problem = proxyAddressProblem(proxy);
    if (problem === undefined) proxyAddress = proxy;
    // A user or password in the address is never kept: the message does not show it either.
    else
      problems.add(
        'invalid',
        ['proxyAddress'],
        holdsCredential(proxy) ? problem : saidOf(problem, proxy),
      );
  }
  if (fips !== undefined && typeof fips !== 'boolean')
    problems.add(
      'invalid',
      ['useFipsEndpoint'],
      saidOf(`must be true or false; got ${quote(fips)}`, fips),
    );
  return {
    ...(proxyAddress === undefined ? {} : { proxyAddress }),
    useFipsEndpoint: fips === true,
  };
}

/** Whether a proxy address carries a user or password (an unparsable one might: say so). */
function holdsCredential(address: string): boolean {
  try {
    const url = new URL(address);
    return url.username !== '' || url.password !== '';
  } catch {
    return address.includes('@');
  }
}
