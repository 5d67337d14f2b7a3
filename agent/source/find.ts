/**
 * `find`: every Secrets Manager secret whose name starts with a prefix, as one directory.
 *
 * Without a tag: BatchGetSecretValue with a `name` filter, 20 secrets a page (the most it
 * answers), so N secrets cost ceil(N/20) calls. With a tag `key=value`: Secrets Manager's tag
 * filters match the key and the value separately (a secret with the key under another value
 * and the value under another key would match), and BatchGetSecretValue does not return tags;
 * so ListSecrets (100 a page, with tags) selects the exact matches, and BatchGetSecretValue
 * reads them by id, 20 a call: ceil(N/100) + ceil(M/20) calls.
 *
 * Secrets Manager's name filter matches case-insensitively and by words, so every answer is
 * checked here again: a secret belongs to the directory only if its name starts with the
 * prefix exactly. The directory is all or nothing: one secret that cannot be read fails it,
 * and the previous content stays.
 */
import {
  BatchGetSecretValueCommand,
  ListSecretsCommand,
  type BatchGetSecretValueCommandOutput,
  type Filter,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { LIMITS } from '../../common/config.ts';
import { AgentError } from '../../common/errors.ts';
import {
  callBudget,
  callError,
  outOfTime,
  valueOrError,
  type CallContext,
  type Outcome,
} from './call.ts';
import { translateBatchEntry } from './errors.ts';
import { describeRef, maxPages, refKey, type DirectoryItem, type SecretRef } from './source.ts';

/** BatchGetSecretValue answers at most 20 secrets a call or page. */
export const FIND_PAGE_SIZE = 20;
/** ListSecrets answers at most 100 secrets a page. */
export const LIST_PAGE_SIZE = 100;

export async function readFinds(
  client: SecretsManagerClient,
  refs: readonly SecretRef[],
  call: CallContext,
): Promise<Map<string, Outcome>> {
  const results = new Map<string, Outcome>();
  for (const ref of refs) {
    let outcome: Outcome;
    try {
      outcome = await readFind(client, ref, call);
    } catch (err) {
      if (call.signal.aborted) throw err;
      if (!(err instanceof CallFailed)) throw err;
      outcome =
        err.budget <= 0
          ? outOfTime(ref, call)
          : { ref, ok: false, error: callError(err.failure, describeRef(ref), err.budget, call) };
    }
    results.set(refKey(ref), outcome);
  }
  return results;
}

/** One call that failed (or was not made: no time left), with the budget it had. */
class CallFailed extends Error {
  readonly failure: unknown;
  readonly budget: number;
  constructor(failure: unknown, budget: number) {
    super('call failed');
    this.failure = failure;
    this.budget = budget;
  }
}

type SendOptions = { abortSignal: AbortSignal; requestTimeout: number };

async function send<T>(call: CallContext, run: (options: SendOptions) => Promise<T>): Promise<T> {
  const budget = callBudget(call);
  if (budget <= 0) throw new CallFailed(undefined, budget);
  try {
    return await run({ abortSignal: call.signal, requestTimeout: budget });
  } catch (err) {
    if (call.signal.aborted) throw err;
    throw new CallFailed(err, budget);
  }
}

type BatchPage = BatchGetSecretValueCommandOutput;

async function readFind(
  client: SecretsManagerClient,
  ref: SecretRef,
  call: CallContext,
): Promise<Outcome> {
  const pages = maxPages(LIMITS.directoryItems, FIND_PAGE_SIZE);
  const items: DirectoryItem[] = [];
  const problem = (message: string): Outcome => ({
    ref,
    ok: false,
    error: new AgentError('AWS_REQUEST', `${describeRef(ref)}: ${message}`),
  });
  const collect = (page: BatchPage): Outcome | undefined => {
    const error = page.Errors?.[0];
    if (error !== undefined)
      return {
        ref,
        ok: false,
        error: translateBatchEntry(
          error.ErrorCode,
          error.Message,
          `${describeRef(ref)}: secret ${error.SecretId ?? '?'}`,
        ),
      };
    for (const entry of page.SecretValues ?? []) {
      const name = entry.Name ?? '';
      if (!name.startsWith(ref.id)) continue;
      const path = name.slice(ref.id.length).replace(/^\/+/, '');
      if (path === '')
        return problem(
          `the secret ${name} is named by the whole prefix, which leaves it no file name; end the prefix with "/"`,
        );
      const value = valueOrError(entry);
      if (value instanceof AgentError) return { ref, ok: false, error: value };
      items.push({ path, value });
    }
    if (items.length > LIMITS.directoryItems)
      return problem(
        `matches more than ${LIMITS.directoryItems} secrets; at most ${LIMITS.directoryItems} are allowed`,
      );
    return undefined;
  };

  if (ref.tag === undefined) {
    const filters: Filter[] = [{ Key: 'name', Values: [ref.id] }];
    let nextToken: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= pages) return problem(`more than ${pages} pages`);
      const token = nextToken;
      const out: BatchPage = await send(call, (options) =>
        client.send(
          new BatchGetSecretValueCommand({
            Filters: filters,
            MaxResults: FIND_PAGE_SIZE,
            ...(token === undefined ? {} : { NextToken: token }),
          }),
          options,
        ),
      );
      const failed = collect(out);
      if (failed !== undefined) return failed;
      nextToken = out.NextToken;
      if (nextToken === undefined || nextToken === '') break;
    }
  } else {
    const names = await listTagged(client, ref, call, pages);
    if (typeof names === 'string') return problem(names);
    for (let i = 0; i < names.length; i += FIND_PAGE_SIZE) {
      const ids = names.slice(i, i + FIND_PAGE_SIZE);
      const out: BatchPage = await send(call, (options) =>
        client.send(new BatchGetSecretValueCommand({ SecretIdList: ids }), options),
      );
      const failed = collect(out);
      if (failed !== undefined) return failed;
    }
  }
  if (items.length === 0)
    return {
      ref,
      ok: false,
      error: new AgentError(
        'SECRET_NOT_FOUND',
        `${describeRef(ref)}: no secret matches (in this account and region)`,
      ),
    };
  return { ref, ok: true, items };
}

/** The names of the secrets under the prefix that carry the tag exactly (ListSecrets). */
async function listTagged(
  client: SecretsManagerClient,
  ref: SecretRef,
  call: CallContext,
  maxPages: number,
): Promise<string[] | string> {
  const tag = ref.tag as { key: string; value: string };
  const names: string[] = [];
  let nextToken: string | undefined;
  for (let page = 0; ; page++) {
    if (page >= maxPages) return `more than ${maxPages} ListSecrets pages`;
    const token = nextToken;
    const out = await send(call, (options) =>
      client.send(
        new ListSecretsCommand({
          Filters: [
            { Key: 'name', Values: [ref.id] },
            { Key: 'tag-key', Values: [tag.key] },
            ...(tag.value === '' ? [] : [{ Key: 'tag-value' as const, Values: [tag.value] }]),
          ],
          MaxResults: LIST_PAGE_SIZE,
          ...(token === undefined ? {} : { NextToken: token }),
        }),
        options,
      ),
    );
    for (const secret of out.SecretList ?? []) {
      const name = secret.Name ?? '';
      const tagged = (secret.Tags ?? []).some((t) => t.Key === tag.key && t.Value === tag.value);
      if (tagged && name.startsWith(ref.id)) names.push(name);
    }
    if (names.length > LIMITS.directoryItems)
      return `matches more than ${LIMITS.directoryItems} secrets; at most ${LIMITS.directoryItems} are allowed`;
    nextToken = out.NextToken;
    if (nextToken === undefined || nextToken === '') break;
  }
  return names;
}
