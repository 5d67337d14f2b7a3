/**
 * The AWS SDK's Secrets Manager client and credential chain, for what the lean client does not
 * serve: a profile or shared configuration file, a partition it does not know, finds and the
 * not-found hint (ListSecrets), and credentials other than environment keys, web identity and
 * a container endpoint. aws.ts loads this module only then (`await import`), so an agent that
 * reads secrets by name with pod credentials never evaluates the SDK.
 */
import {
  BatchGetSecretValueCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { countingPlugin, SDK_MAX_ATTEMPTS, type OnApiCall } from './call.ts';
import type { SecretReads } from './reads.ts';
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

/** A Secrets Manager client with the agent's settings, its calls counted. */
export function secretsManagerClient(
  config: Record<string, unknown>,
  onApiCall: OnApiCall,
): SecretsManagerClient {
  const client = new SecretsManagerClient(config);
  client.middlewareStack.use(countingPlugin(onApiCall));
  return client;
}

/** The two reads through the SDK client. */
export function sdkSecretReads(client: SecretsManagerClient): SecretReads {
  return {
    getSecretValue: (input, options) => client.send(new GetSecretValueCommand(input), options),
    batchGetSecretValue: (input, options) =>
      client.send(
        new BatchGetSecretValueCommand({ ...input, SecretIdList: [...input.SecretIdList] }),
        options,
      ),
  };
}
