/**
 * One SSM Parameter Store read for the local API: GetParameter, made once (the caller decides
 * whether to ask again), counted like every other AWS call. The SSM client comes from the
 * agent's SSM module (ssm.ts), loaded at the first read, with the SDK's SSM client (a file of its
 * own in the bundle: build.ts).
 */
import { CONTAINER_CREDENTIALS, SDK_MAX_ATTEMPTS, type AwsSourceOptions } from './aws.ts';
import { countingPlugin } from './call.ts';
import { transportConfig } from './transport.ts';

export interface ParameterQuery {
  readonly name: string;
  readonly withDecryption: boolean;
}

/** GetParameter's answer as AWS's JSON has it (dates in seconds since the epoch). */
export type ParameterAnswer = Readonly<Record<string, unknown>>;

export interface ParameterReader {
  get(query: ParameterQuery, signal: AbortSignal): Promise<ParameterAnswer>;
  close(): void;
}

export async function createParameterReader(
  options: Pick<
    AwsSourceOptions,
    'region' | 'onApiCall' | 'requestTimeoutMs' | 'proxyAddress' | 'useFipsEndpoint'
  >,
): Promise<ParameterReader> {
  const { GetParameterCommand, SSMClient } = await import('./ssm.ts');
  const { sdkCredentials } = await import('./sdk-credentials.ts');
  const client = new SSMClient({
    credentials: sdkCredentials({ ...options, container: CONTAINER_CREDENTIALS }),
    maxAttempts: SDK_MAX_ATTEMPTS,
    ...transportConfig(options),
    ...(options.region === undefined ? {} : { region: options.region }),
  });
  client.middlewareStack.use(countingPlugin(options.onApiCall));
  return {
    async get(query, signal) {
      const out = await client.send(
        new GetParameterCommand({ Name: query.name, WithDecryption: query.withDecryption }),
        { abortSignal: signal },
      );
      const p = out.Parameter ?? {};
      const parameter: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(p)) {
        if (value === undefined) continue;
        parameter[key] = value instanceof Date ? value.getTime() / 1000 : value;
      }
      return { Parameter: parameter, ResultMetadata: {} };
    },
    close() {
      client.destroy();
    },
  };
}
