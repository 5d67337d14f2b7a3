/**
 * The agent's AWS region: the one chain of common/region.ts walked to its end. The steps both
 * share (the configuration's `region`, the secrets' ARNs, AWS_REGION or AWS_DEFAULT_REGION) are
 * the common resolver's; the agent's own are a profile the SDK reads, then the instance metadata
 * service as the AWS SDKs ask it (IMDSv2, unless `AWS_EC2_METADATA_DISABLED`). None at all is a
 * configuration error naming what to set.
 */
import { request } from 'node:http';
import { type AgentConfig } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import type { Env } from '../common/flags.ts';
import {
  regionProblem,
  resolveRegion as resolveShared,
  type RegionFrom,
} from '../common/region.ts';

const IMDS_ENDPOINT = 'http://169.254.169.254';
/** Each IMDS request's timeout: the SDKs' own default. */
const IMDS_TIMEOUT_MS = 1000;

export type RegionSource = RegionFrom;

/** The region, or undefined where the SDK itself reads it (a profile); and where it came from. */
export async function resolveRegion(
  config: AgentConfig,
  env: Env,
): Promise<{ region?: string; from: RegionSource }> {
  const shared = resolveShared({
    config: config.region,
    ids: config.secrets.map((s) => s.id),
    env: (name) => env[name],
  });
  if (shared !== undefined) {
    const { region, from, variable } = shared;
    // Checked as the configuration's own region is: a bad one is a configuration error (exit
    // 78) now, not an endpoint that fails every call until the init timeout.
    const wrong = variable === undefined ? undefined : regionProblem(region);
    if (wrong !== undefined)
      throw new AgentError(
        'CONFIG_INVALID',
        `${variable} (the region from the environment) ${wrong}`,
      );
    return { region, from };
  }
  if (env['AWS_PROFILE'] !== undefined && env['AWS_PROFILE'] !== '') return { from: 'profile' };
  const disabled = env['AWS_EC2_METADATA_DISABLED']?.toLowerCase() === 'true';
  const fromImds = disabled ? undefined : await imdsRegion(env);
  if (fromImds !== undefined) return { region: fromImds, from: 'imds' };
  throw new AgentError(
    'CONFIG_INVALID',
    `no AWS region: set region in the configuration, AWS_REGION or AWS_DEFAULT_REGION${disabled ? '' : '; the instance metadata service did not answer'}`,
  );
}

/** The region the instance metadata service names (IMDSv2), or undefined when it does not answer. */
async function imdsRegion(env: Env): Promise<string | undefined> {
  const base = env['AWS_EC2_METADATA_SERVICE_ENDPOINT'] || IMDS_ENDPOINT;
  try {
    const token = await call(new URL('/latest/api/token', base), 'PUT', {
      'x-aws-ec2-metadata-token-ttl-seconds': '60',
    });
    const region = await call(new URL('/latest/meta-data/placement/region', base), 'GET', {
      'x-aws-ec2-metadata-token': token,
    });
    return regionProblem(region) === undefined ? region : undefined;
  } catch {
    return undefined;
  }
}

function call(url: URL, method: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: IMDS_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
