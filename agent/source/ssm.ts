/**
 * SSM Parameter Store: parameters with GetParameters (10 names a call, decrypted), and every
 * parameter under a path with GetParametersByPath (recursive, decrypted, 10 a page: the most
 * SSM allows). Loaded only when a configuration names a parameter or a path, so an agent that
 * reads Secrets Manager alone never loads the SSM client.
 *
 * Like the Secrets Manager reads, each call is made once (the agent's loop retries).
 *
 * The bundle makes this module a file of its own (dist/ssm.js, with the SSM client), loaded at
 * the first parameter read. So that no module of the agent exists twice in a process, it imports
 * only the SSM client: what it needs of the agent comes in the `kit` (types only here).
 */
import {
  GetParametersByPathCommand,
  GetParametersCommand,
  SSMClient,
  type Parameter,
} from '@aws-sdk/client-ssm';
/** For the local API's one-parameter reads (ssm-read.ts): the client this file already holds. */
export { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { AgentError, ErrorCode } from '../../common/errors.ts';
import type { SecretValue } from '../types.ts';
import type { parameterError } from './upstream.ts';
import type {
  callBudget,
  callError,
  CallContext,
  ClientSettings,
  countingPlugin,
  mapLimit,
  Outcome,
  outOfTime,
  ParameterReader,
} from './aws.ts';
import type { translateAwsError } from './errors.ts';
import type { describeRef, DirectoryItem, maxPages, refKey, SecretRef } from './source.ts';

/** What this module uses of the agent, handed in by aws.ts. */
export interface ParameterKit {
  readonly callBudget: typeof callBudget;
  readonly callError: typeof callError;
  readonly countingPlugin: typeof countingPlugin;
  readonly mapLimit: typeof mapLimit;
  readonly outOfTime: typeof outOfTime;
  readonly translateAwsError: typeof translateAwsError;
  readonly describeRef: typeof describeRef;
  readonly refKey: typeof refKey;
  readonly agentError: (code: ErrorCode, message: string) => AgentError;
  /** Why a parameter's Value is not one SSM answers, if it is not (upstream.ts). */
  readonly parameterError: typeof parameterError;
  /** The most files one directory source may hold. */
  readonly directoryItems: number;
  readonly maxPages: typeof maxPages;
}

/** GetParameters reads up to 10 names a call. */
export const PARAMETERS_PER_CALL = 10;
/** GetParametersByPath answers up to 10 parameters a page. */
export const PATH_PAGE_SIZE = 10;
/** Paths read at once (each path's pages are read one after another). */
export const PATH_CONCURRENCY = 4;

export function createParameterReader(
  settings: ClientSettings,
  kit: ParameterKit,
): ParameterReader {
  const client = new SSMClient(settings.config);
  client.middlewareStack.use(kit.countingPlugin(settings.onApiCall));
  return {
    async read(refs, call) {
      const results = new Map<string, Outcome>();
      const names = refs.filter((r) => r.kind === 'parameter');
      for (let i = 0; i < names.length; i += PARAMETERS_PER_CALL) {
        await readParameters(client, names.slice(i, i + PARAMETERS_PER_CALL), call, results, kit);
      }
      await kit.mapLimit(
        refs.filter((r) => r.kind === 'path'),
        PATH_CONCURRENCY,
        async (ref) => {
          results.set(kit.refKey(ref), await readPath(client, ref, call, kit));
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
  kit: ParameterKit,
): Promise<void> {
  const { callBudget, callError, describeRef, outOfTime, refKey, translateAwsError } = kit;
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
      results.set(refKey(ref), parameterOutcome(ref, parameter, kit));
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
function parameterOutcome(ref: SecretRef, parameter: Parameter, kit: ParameterKit): Outcome {
  const name = parameter.Name ?? parameter.ARN ?? 'a parameter';
  const error = kit.parameterError(name, parameter.Value ?? '');
  return error === undefined
    ? { ref, ok: true, value: toValue(parameter) }
    : { ref, ok: false, error };
}

/** Each parameter under the prefix as an item, or the first VALUE_INVALID among them. */
function pathItems(
  ref: SecretRef,
  prefix: string,
  parameters: readonly Parameter[],
  kit: ParameterKit,
): DirectoryItem[] | Outcome {
  const items: DirectoryItem[] = [];
  for (const parameter of parameters) {
    const name = parameter.Name ?? '';
    if (!name.startsWith(prefix)) continue;
    const outcome = parameterOutcome(ref, parameter, kit);
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
async function readPath(
  client: SSMClient,
  ref: SecretRef,
  call: CallContext,
  kit: ParameterKit,
): Promise<Outcome> {
  const { callBudget, callError, describeRef, outOfTime } = kit;
  const failed = (message: string): Outcome => ({
    ref,
    ok: false,
    error: kit.agentError('AWS_REQUEST', `${describeRef(ref)}: ${message}`),
  });
  const prefix = ref.id.endsWith('/') ? ref.id : `${ref.id}/`;
  const items: DirectoryItem[] = [];
  const limit = kit.directoryItems;
  const maxPages = kit.maxPages(limit, PATH_PAGE_SIZE);
  let nextToken: string | undefined;
  for (let page = 0; ; page++) {
    if (page >= maxPages)
      return failed(`more than ${maxPages} pages; the path holds too many parameters`);
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
      const page = pathItems(ref, prefix, out.Parameters ?? [], kit);
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
      error: kit.agentError(
        'SECRET_NOT_FOUND',
        `${describeRef(ref)}: no parameter under this path (in this account and region)`,
      ),
    };
  return { ref, ok: true, items };
}
