/**
 * The admin endpoints under `/_dev/` (same port): faults, the request log, and setting a
 * secret's value. Plain JSON, no SigV4. Answers never include secret values.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseFaultSpec } from './faults.ts';
import type { DevState } from './state.ts';
import { AWSCURRENT, type SecretValue } from './store.ts';
import { sendPlainJson } from './wire.ts';

export const ADMIN_PREFIX = '/_dev/';

export function handleAdmin(
  state: DevState,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname.slice(ADMIN_PREFIX.length);
  const method = req.method ?? 'GET';
  try {
    const answer = route(state, method, path, url.searchParams, body);
    if (answer === undefined)
      sendPlainJson(res, 404, { error: `no admin route ${method} /_dev/${path}` });
    else sendPlainJson(res, answer.status, answer.body);
  } catch (err) {
    sendPlainJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
  }
}

type Answer = { status: number; body: unknown } | undefined;

function route(
  state: DevState,
  method: string,
  path: string,
  query: URLSearchParams,
  body: Buffer,
): Answer {
  if (path === 'health' && method === 'GET') return { status: 200, body: { ok: true } };
  if (path === 'faults') return faultsRoute(state, method, body);
  if (path.startsWith('faults/') && method === 'DELETE') {
    const removed = state.faults.remove(decodeURIComponent(path.slice('faults/'.length)));
    return { status: removed ? 200 : 404, body: { removed } };
  }
  if (path === 'requests' && method === 'GET') {
    const filter = {
      ...optParam(query, 'operation'),
      ...optParam(query, 'outcome'),
      ...optParam(query, 'secretId'),
    };
    return { status: 200, body: { requests: state.requests.list(filter) } };
  }
  if (path === 'requests' && method === 'DELETE') {
    state.requests.clear();
    return { status: 200, body: { cleared: true } };
  }
  if (path.startsWith('secrets/') && method === 'PUT') {
    return putSecret(state, decodeURIComponent(path.slice('secrets/'.length)), body);
  }
  return undefined;
}

function faultsRoute(state: DevState, method: string, body: Buffer): Answer {
  if (method === 'GET') return { status: 200, body: { faults: state.faults.list() } };
  if (method === 'DELETE') {
    state.faults.clear();
    return { status: 200, body: { cleared: true } };
  }
  if (method === 'POST') {
    const raw = parseJson(body);
    const specs = (Array.isArray(raw) ? raw : [raw]).map(parseFaultSpec);
    return { status: 201, body: { faults: specs.map((s) => state.faults.add(s)) } };
  }
  return undefined;
}

/** Sets a secret's value as a new version (AWSCURRENT unless `stages` says), creating it if new. */
function putSecret(state: DevState, name: string, body: Buffer): Answer {
  const raw = parseJson(body);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error('body: must be an object with "value" or "binary"');
  const r = raw as Record<string, unknown>;
  const value = adminValue(r);
  const stages = r['stages'] ?? [AWSCURRENT];
  if (
    !Array.isArray(stages) ||
    stages.length === 0 ||
    !stages.every((s) => typeof s === 'string')
  ) {
    throw new Error('body.stages: must be a non-empty list of strings');
  }
  if (name === '' || !/^[A-Za-z0-9/_+=.@-]+$/.test(name))
    throw new Error('secret name: may hold only letters, digits and /_+=.@-');
  const version = state.store.putVersion(state.store.secret(name), value, stages);
  return {
    status: 200,
    body: { Name: name, VersionId: version.id, VersionStages: [...version.stages] },
  };
}

function adminValue(r: Record<string, unknown>): SecretValue {
  const value = r['value'];
  const binary = r['binary'];
  if (typeof binary === 'string') return { kind: 'binary', bytes: Buffer.from(binary, 'base64') };
  if (typeof value === 'string') return { kind: 'string', text: value };
  if (typeof value === 'object' && value !== null)
    return { kind: 'string', text: JSON.stringify(value) };
  throw new Error('body: needs "value" (string or object) or "binary" (base64)');
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error('body: not valid JSON');
  }
}

function optParam(query: URLSearchParams, key: string): Record<string, string> {
  const v = query.get(key);
  return v === null ? {} : { [key]: v };
}
