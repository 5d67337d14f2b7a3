/**
 * SSM Parameter Store: parameters with GetParameters (10 names a call, decrypted), and every
 * parameter under a path with GetParametersByPath (recursive, decrypted, 10 a page: the most
 * SSM allows). Loaded only when a configuration names a parameter or a path (aws.ts imports it
 * lazily), so an agent that reads Secrets Manager alone never evaluates the SSM client.
 *
 * Like the Secrets Manager reads, each call is made once (the agent's loop retries).
 */
import {
  GetParametersByPathCommand,
  GetParametersCommand,
  SSMClient,
  type Parameter,
} from '@aws-sdk/client-ssm';
/** For the local API's one-parameter reads (ssm-read.ts): loaded with this module, lazily. */
export { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { LIMITS } from '../../common/config.ts';
import { AgentError } from '../../common/errors.ts';
import type { SecretValue } from '../types.ts';
import {
  callBudget,
  callError,
  countingPlugin,
  outOfTime,
  type CallContext,
  type ClientSettings,
  type Outcome,
  type ParameterReader,
} from './call.ts';
import { translateAwsError } from './errors.ts';
import { parameterError } from './upstream.ts';
import { mapLimit } from './strategy.ts';
import { describeRef, maxPages, refKey, type DirectoryItem, type SecretRef } from './source.ts';

/** GetParameters reads up to 10 names a call. */
export const PARAMETERS_PER_CALL = 10;
/** GetParametersByPath answers up to 10 parameters a page. */
export const PATH_PAGE_SIZE = 10;
/** Paths read at once (each path's pages are read one after another). */
export const PATH_CONCURRENCY = 4;

export function createParameterReader(settings: ClientSettings): ParameterReader {
  const client = new SSMClient(settings.config);
  client.middlewareStack.use(countingPlugin(settings.onApiCall));
  return {
    async read(refs, call) {
      const results = new Map<string, Outcome>();
      const names = refs.filter((r) => r.kind === 'parameter');
      for (let i = 0; i < names.length; i += PARAMETERS_PER_CALL) {
        await readParameters(client, names.slice(i, i + PARAMETERS_PER_CALL), call, results);
      }
      await mapLimit(
        refs.filter((r) => r.kind === 'path'),
        PATH_CONCURRENCY,
        async (ref) => {
          results.set(refKey(ref), await readPath(client, ref, call));
        },
      );
      return results;
    },
    destroy() {
      client.destroy();
    },
  };
}

/** One GetParameters call for up to 10 names; each name gets its value or its error. */
async function readParameters(
  client: SSMClient,
  chunk: readonly SecretRef[],
  call: CallContext,
  results: Map<string, Outcome>,
): Promise<void> {
  const budget = callBudget(call);
  if (budget <= 0) {
    for (const ref of chunk) results.set(refKey(ref), outOfTime(ref, call));
    return;
  }
  let parameters: Parameter[];
  let invalid: string[];
  try {
    const out = await client.send(
      new GetParametersCommand({ Names: chunk.map((r) => r.id), WithDecryption: true }),
      { abortSignal: call.signal, requestTimeout: budget },
    );
    parameters = out.Parameters ?? [];
    invalid = out.InvalidParameters ?? [];
  } catch (err) {
    if (call.signal.aborted) throw err;
    for (const ref of chunk) {
      results.set(refKey(ref), {
        ref,
        ok: false,
        error: callError(err, describeRef(ref), budget, call),
      });
    }
    return;
  }
  for (const ref of chunk) {
    const parameter = parameters.find((p) => answers(p, ref.id)) ?? bySelector(parameters, ref.id);
    if (parameter !== undefined) {
      results.set(refKey(ref), parameterOutcome(ref, parameter));
      continue;
    }
    const message = invalid.includes(ref.id)
      ? 'SSM has no such parameter (or version, or label) in this account and region'
      : 'missing from the GetParameters answer';
    results.set(refKey(ref), {
      ref,
      ok: false,
      error: translateAwsError(
        { name: 'ParameterNotFound', message, $metadata: { httpStatusCode: 400 } },
        describeRef(ref),
      ),
    });
  }
}

/**
 * Whether a returned parameter answers a requested name: by name or ARN, with the requested
 * `:version` or `:label` selector (SSM returns the name without it and the selector apart).
 */
export function answers(parameter: Parameter, requested: string): boolean {
  const selector = parameter.Selector ?? '';
  for (const base of [parameter.Name, parameter.ARN]) {
    if (base === undefined) continue;
    if (requested === `${base}${selector}`) return true;
    if (selector === '' && requested === base) return true;
  }
  return false;
}

/**
 * For an answer without `Selector` (AWS sends it; some emulators do not): a `:version` is
 * answered by the entry of that base name and version; a `:label` by the entries of that base
 * name without a selector, if they all hold one version (else which one is unknown: none).
 */
function bySelector(parameters: readonly Parameter[], requested: string): Parameter | undefined {
  const match = /^(.+):([^:/]+)$/.exec(requested);
  if (match === null) return undefined;
  const [, base = '', selector = ''] = match;
  const candidates = parameters.filter(
    (p) => p.Selector === undefined && (p.Name === base || p.ARN === base),
  );
  if (/^\d+$/.test(selector)) return candidates.find((p) => p.Version === Number(selector));
  const versions = new Set(candidates.map((p) => p.Version));
  return versions.size === 1 ? candidates[0] : undefined;
}

/** A ref's outcome from a parameter: its value, or VALUE_INVALID for this ref alone. */
function parameterOutcome(ref: SecretRef, parameter: Parameter): Outcome {
  const name = parameter.Name ?? parameter.ARN ?? 'a parameter';
  const error = parameterError(name, parameter.Value ?? '');
  return error === undefined
    ? { ref, ok: true, value: toValue(parameter) }
    : { ref, ok: false, error };
}

/** Each parameter under the prefix as an item, or the first VALUE_INVALID among them. */
function pathItems(
  ref: SecretRef,
  prefix: string,
  parameters: readonly Parameter[],
): DirectoryItem[] | Outcome {
  const items: DirectoryItem[] = [];
  for (const parameter of parameters) {
    const name = parameter.Name ?? '';
    if (!name.startsWith(prefix)) continue;
    const outcome = parameterOutcome(ref, parameter);
    if (!outcome.ok || !('value' in outcome)) return outcome;
    items.push({ path: name.slice(prefix.length), value: outcome.value });
  }
  return items;
}

/** A parameter's value as kept (checked first: parameterOutcome). */
function toValue(parameter: Parameter): SecretValue {
  return {
    arn: parameter.ARN ?? '',
    versionId: parameter.Version === undefined ? '' : String(parameter.Version),
    // SecureString arrives decrypted; a StringList is the comma-separated text SSM returns.
    string: parameter.Value ?? '',
  };
}

/** Every parameter under a path, one page after another; the directory is all or nothing. */
async function readPath(client: SSMClient, ref: SecretRef, call: CallContext): Promise<Outcome> {
  const failed = (message: string): Outcome => ({
    ref,
    ok: false,
    error: new AgentError('AWS_REQUEST', `${describeRef(ref)}: ${message}`),
  });
  const prefix = ref.id.endsWith('/') ? ref.id : `${ref.id}/`;
  const items: DirectoryItem[] = [];
  const limit = LIMITS.directoryItems;
  const pages = maxPages(limit, PATH_PAGE_SIZE);
  let nextToken: string | undefined;
  for (let page = 0; ; page++) {
    if (page >= pages)
      return failed(`more than ${pages} pages; the path holds too many parameters`);
    const budget = callBudget(call);
    if (budget <= 0) return outOfTime(ref, call);
    try {
      const out = await client.send(
        new GetParametersByPathCommand({
          // SSM takes the path without a trailing slash (the root excepted).
          Path: prefix === '/' ? prefix : prefix.slice(0, -1),
          Recursive: true,
          WithDecryption: true,
          MaxResults: PATH_PAGE_SIZE,
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        }),
        { abortSignal: call.signal, requestTimeout: budget },
      );
      const page = pathItems(ref, prefix, out.Parameters ?? []);
      if (!Array.isArray(page)) return page;
      items.push(...page);
      nextToken = out.NextToken;
    } catch (err) {
      if (call.signal.aborted) throw err;
      return { ref, ok: false, error: callError(err, describeRef(ref), budget, call) };
    }
    if (items.length > limit)
      return failed(`matches more than ${limit} parameters; at most ${limit} are allowed`);
    if (nextToken === undefined || nextToken === '') break;
  }
  if (items.length === 0)
    return {
      ref,
      ok: false,
      error: new AgentError(
        'SECRET_NOT_FOUND',
        `${describeRef(ref)}: no parameter under this path (in this account and region)`,
      ),
    };
  return { ref, ok: true, items };
}
