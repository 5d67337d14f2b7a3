/**
 * Secrets Manager's two reads over the lean client: GetSecretValue and BatchGetSecretValue,
 * answered in the SDK's output shapes (SecretBinary as bytes, CreatedDate as a Date) so aws.ts
 * reads either client's answers alike. Whatever else a field holds is passed on as it is, for
 * upstream.ts to refuse by name.
 */
import { UPSTREAM_LIMITS } from '../upstream.ts';
import type { BatchPage, GetInput, BatchInput, ReadOptions, SecretReads } from '../reads.ts';
import type { SecretAnswer } from '../call.ts';
import { createJsonClient, type JsonClientOptions, type JsonObject } from './json-client.ts';

/** A SecretString of 64 KiB may take six times as much in JSON (a byte escaped as \u00XX). */
const VALUE_JSON_BYTES = 6 * UPSTREAM_LIMITS.secretBytes;
/** An entry's name, ARN, version id and stages, and an answer's own fields: generously. */
const ENTRY_OVERHEAD_BYTES = 16 * 1024;

/** The largest answer naming `entries` secrets that AWS could send. */
export function answerCap(entries: number): number {
  return entries * (VALUE_JSON_BYTES + ENTRY_OVERHEAD_BYTES) + ENTRY_OVERHEAD_BYTES;
}

export function leanSecretReads(
  options: Omit<JsonClientOptions, 'service' | 'targetPrefix'>,
): SecretReads {
  const client = createJsonClient({
    ...options,
    service: 'secretsmanager',
    targetPrefix: 'secretsmanager',
  });
  return {
    async getSecretValue(input: GetInput, call: ReadOptions) {
      const out = await client.call(
        'GetSecretValue',
        { ...input },
        { ...call, maxBytes: answerCap(1) },
      );
      return secretAnswer(out);
    },
    async batchGetSecretValue(input: BatchInput, call: ReadOptions): Promise<BatchPage> {
      const out = await client.call(
        'BatchGetSecretValue',
        { ...input, SecretIdList: [...input.SecretIdList] },
        { ...call, maxBytes: answerCap(input.SecretIdList.length) },
      );
      const values = Array.isArray(out['SecretValues']) ? (out['SecretValues'] as unknown[]) : [];
      const errors = Array.isArray(out['Errors']) ? (out['Errors'] as unknown[]) : [];
      const token = out['NextToken'];
      return {
        SecretValues: values.map((v) => secretAnswer(asObject(v))),
        Errors: errors.map((e) => batchError(asObject(e))),
        ...(typeof token === 'string' ? { NextToken: token } : {}),
      };
    },
  };
}

function asObject(value: unknown): JsonObject {
  return typeof value === 'object' && value !== null ? (value as JsonObject) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** An answer's fields as the SDK gives them; a value of the wrong type stays wrong. */
function secretAnswer(out: JsonObject): SecretAnswer {
  const binary = out['SecretBinary'];
  const created = out['CreatedDate'];
  const stages = out['VersionStages'];
  const fields: Record<string, unknown> = {
    ARN: text(out['ARN']),
    Name: text(out['Name']),
    VersionId: text(out['VersionId']),
    SecretString: out['SecretString'],
    SecretBinary:
      typeof binary === 'string' ? new Uint8Array(Buffer.from(binary, 'base64')) : binary,
    VersionStages: Array.isArray(stages) ? stages.filter((s) => typeof s === 'string') : undefined,
    CreatedDate: typeof created === 'number' ? new Date(created * 1000) : undefined,
  };
  // Typed as the SDK types its output but holding what came, as the SDK's does: toValue checks
  // the value's type (upstream.ts) and refuses one AWS would not send.
  const answer: SecretAnswer = Object.fromEntries(
    Object.entries(fields).filter(([, v]) => v !== undefined),
  );
  return answer;
}

function batchError(entry: JsonObject): {
  SecretId?: string;
  ErrorCode?: string;
  Message?: string;
} {
  const id = text(entry['SecretId']);
  const code = text(entry['ErrorCode']);
  const message = text(entry['Message']);
  return {
    ...(id === undefined ? {} : { SecretId: id }),
    ...(code === undefined ? {} : { ErrorCode: code }),
    ...(message === undefined ? {} : { Message: message }),
  };
}
