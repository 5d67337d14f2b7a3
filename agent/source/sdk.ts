/**
 * The AWS SDK's Secrets Manager client, for what the lean client does not serve: a profile or
 * shared configuration file, a partition it does not know, finds and the not-found hint
 * (ListSecrets). aws.ts loads this module only then (`await import`), so an agent that reads
 * secrets by name never evaluates the SDK's client.
 */
import {
  BatchGetSecretValueCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { countingPlugin, type OnApiCall } from './call.ts';
import type { SecretReads } from './reads.ts';

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
