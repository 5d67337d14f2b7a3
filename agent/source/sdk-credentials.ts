/**
 * The AWS SDK's default credential chain, for the links the lean chain (lean/credentials.ts)
 * does not have: a profile, SSO, a credential process, the instance metadata service. aws.ts
 * loads this module only then (`await import`).
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { countingPlugin, SDK_MAX_ATTEMPTS, type OnApiCall } from './call.ts';
import { transportConfig, type TransportOptions } from './transport.ts';

export interface SdkCredentialOptions extends TransportOptions {
  readonly region?: string | undefined;
  readonly onApiCall: OnApiCall;
  readonly container: { readonly maxRetries: number; readonly timeout: number };
}

/**
 * The SDK's default chain itself (what `fromNodeProviderChain` of @aws-sdk/credential-providers
 * wraps), without that package's other providers (Cognito, temporary credentials, ...).
 */
export function sdkCredentials(options: SdkCredentialOptions): ReturnType<typeof defaultProvider> {
  return defaultProvider({
    clientConfig: {
      maxAttempts: SDK_MAX_ATTEMPTS,
      ...transportConfig(options),
      ...(options.region === undefined ? {} : { region: options.region }),
    },
    clientPlugins: [countingPlugin(options.onApiCall)],
    ...options.container,
  });
}
