/**
 * Types the agent's stages share: the source fetches a `SecretValue`, the renderer turns it into
 * bytes, the sinks write them.
 */

/** One version of a secret as Secrets Manager returned it: exactly one of `string` or `binary`. */
export interface SecretValue {
  /** SecretString: text, often a JSON object. */
  readonly string?: string;
  /** SecretBinary: raw bytes. */
  readonly binary?: Uint8Array;
  readonly versionId: string;
  readonly arn: string;
  /** What the answer said besides (the local API answers with them). */
  readonly name?: string;
  readonly versionStages?: readonly string[];
  /** Seconds since the epoch, as Secrets Manager's JSON has it. */
  readonly createdDate?: number;
}
