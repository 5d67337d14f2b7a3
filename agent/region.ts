/**
 * The agent's AWS region, resolved in the order users can predict: the configuration's
 * `region`, the region of the secrets' ARNs, the environment (`AWS_REGION`, `AWS_DEFAULT_REGION`,
 * or a profile the SDK reads), then the instance metadata service as the AWS SDKs do (IMDSv2,
 * unless `AWS_EC2_METADATA_DISABLED`). None at all is a configuration error naming what to set.
 */
import { request } from 'node:http';
import { regionOfArns, regionProblem, type AgentConfig } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import type { Env } from '../common/flags.ts';

const IMDS_ENDPOINT = 'http://169.254.169.254';
/** Each IMDS request's timeout: the SDKs' own default. */
const IMDS_TIMEOUT_MS = 1000;

export type RegionSource = 'config' | 'arn' | 'env' | 'profile' | 'imds';

/** The region, or undefined where the SDK itself reads it (a profile); and where it came from. */
export async function resolveRegion(
  config: AgentConfig,
  env: Env,
): Promise<{ region?: string; from: RegionSource }> {
  if (config.region !== undefined) return { region: config.region, from: 'config' };
  const fromArns = regionOfArns(config.secrets.map((s) => s.id));
  if (fromArns !== undefined) return { region: fromArns, from: 'arn' };
  const envName = env['AWS_REGION'] ? 'AWS_REGION' : 'AWS_DEFAULT_REGION';
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv !== '') {
    // Checked as the configuration's own region is: a bad one is a configuration error (exit
    // 78) now, not an endpoint that fails every call until the init timeout.
    const wrong = regionProblem(fromEnv);
    if (wrong !== undefined)
      throw new AgentError(
        'CONFIG_INVALID',
        `${envName} (the region from the environment) ${wrong}`,
      );
    return { region: fromEnv, from: 'env' };
  }
  if (env['AWS_PROFILE'] !== undefined && env['AWS_PROFILE'] !== '') return { from: 'profile' };
  const disabled = env['AWS_EC2_METADATA_DISABLED']?.toLowerCase() === 'true';
  const fromImds = disabled ? undefined : await imdsRegion(env);
  if (fromImds !== undefined) return { region: fromImds, from: 'imds' };
  throw new AgentError(
    'CONFIG_INVALID',
    `no AWS region: set region in the configuration (secrets-agent.io/region on a pod), AWS_REGION, or the injector's --default-region${disabled ? '' : '; the instance metadata service did not answer'}`,
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
