/**
 * Where the lean client sends a service's calls, as the SDK resolves it for the partitions it
 * serves (aws, aws-cn, aws-us-gov): an endpoint URL from the environment first
 * (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, unless
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`), else the regional host, or its FIPS twin when asked.
 * A region of another partition has no lean endpoint: the SDK serves it.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export type LeanService = 'secretsmanager' | 'sts';

/** The environment variable's suffix for each service (its SDK service id, upper-cased). */
const ENV_SUFFIX: Readonly<Record<LeanService, string>> = {
  secretsmanager: 'SECRETS_MANAGER',
  sts: 'STS',
};

const PARTITIONS: readonly { readonly regions: RegExp; readonly dnsSuffix: string }[] = [
  { regions: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/, dnsSuffix: 'amazonaws.com' },
  { regions: /^cn-\w+-\d+$/, dnsSuffix: 'amazonaws.com.cn' },
  { regions: /^us-gov-\w+-\d+$/, dnsSuffix: 'amazonaws.com' },
];

/** STS's global endpoint serves these regions when AWS_STS_REGIONAL_ENDPOINTS is `legacy`. */
const STS_LEGACY_GLOBAL = new Set([
  'ap-northeast-1',
  'ap-south-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ca-central-1',
  'eu-central-1',
  'eu-north-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'sa-east-1',
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
]);

/** The URL set in the environment for the service, if one is. */
export function configuredEndpoint(service: LeanService, env: Env): string | undefined {
  if (env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS']?.toLowerCase() === 'true') return undefined;
  const own = env[`AWS_ENDPOINT_URL_${ENV_SUFFIX[service]}`];
  if (own !== undefined && own !== '') return own;
  const shared = env['AWS_ENDPOINT_URL'];
  return shared === undefined || shared === '' ? undefined : shared;
}

/** The service's endpoint in the region, or undefined where only the SDK knows it. */
export function serviceEndpoint(
  service: LeanService,
  region: string,
  fips: boolean,
  env: Env,
): URL | undefined {
  const configured = configuredEndpoint(service, env);
  if (configured !== undefined) {
    try {
      return new URL(configured);
    } catch {
      return undefined; // the SDK says what is wrong with it
    }
  }
  const partition = PARTITIONS.find((p) => p.regions.test(region));
  if (partition === undefined) return undefined;
  if (service === 'sts' && !fips && isLegacySts(region, env))
    return new URL('https://sts.amazonaws.com');
  // STS in GovCloud is FIPS on its regional host already.
  const gov = region.startsWith('us-gov-');
  const host = fips && !(service === 'sts' && gov) ? `${service}-fips` : service;
  return new URL(`https://${host}.${region}.${partition.dnsSuffix}`);
}

function isLegacySts(region: string, env: Env): boolean {
  return env['AWS_STS_REGIONAL_ENDPOINTS'] === 'legacy' && STS_LEGACY_GLOBAL.has(region);
}
