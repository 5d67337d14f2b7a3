/**
 * The injector's defaults for how agents reach AWS (`proxy-address`, `use-fips-endpoint`):
 * the same two flags on `webhook` and `inject`, checked by the agent schema's own rule.
 */
import { proxyAddressProblem } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { booleanFlag, stringFlag, type FlagSpec, type FlagValues } from '../common/flags.ts';
import type { InjectorOptions } from './plan.ts';

export function awsDefaultFlags(envPrefix: string): FlagSpec[] {
  return [
    {
      name: 'default-proxy',
      env: `${envPrefix}DEFAULT_PROXY`,
      type: 'string',
      help: "the agents' HTTPS proxy for AWS calls, for pods that name none (proxy-address)",
    },
    {
      name: 'default-fips',
      env: `${envPrefix}DEFAULT_FIPS`,
      type: 'boolean',
      help: 'AWS FIPS endpoints for pods that do not say (use-fips-endpoint)',
    },
  ];
}

export function awsDefaultOptions(
  values: FlagValues,
  command: string,
  envPrefix: string,
): Pick<InjectorOptions, 'defaultProxyAddress' | 'defaultUseFipsEndpoint'> {
  const proxy = stringFlag(values, 'default-proxy');
  const wrong = proxy === undefined ? undefined : proxyAddressProblem(proxy);
  if (wrong !== undefined)
    throw new AgentError(
      'USAGE',
      `${command}: --default-proxy (${envPrefix}DEFAULT_PROXY) ${wrong}`,
    );
  return {
    ...(proxy === undefined ? {} : { defaultProxyAddress: proxy }),
    ...(booleanFlag(values, 'default-fips') ? { defaultUseFipsEndpoint: true } : {}),
  };
}
