/**
 * Core v1 Events for the loopback API server: create, get, list and merge patch on
 * `/api/v1/namespaces/{ns}/events[/{name}]`, with the API's semantics for what the agent does:
 * a name that must be a DNS-1123 subdomain, the body's namespace and `involvedObject.namespace`
 * checked against the URL's (the real messages), 409 AlreadyExists, 404 NotFound, uid,
 * creationTimestamp and the server's global resourceVersion assigned. Not emulated: the
 * one-hour TTL, `generateName`, and the events.k8s.io/v1 API.
 */
import { randomUUID } from 'node:crypto';
import { mergePatch } from './secret.ts';
import * as status from './status.ts';
import { isDns1123Subdomain } from './validation.ts';

export type EventObject = Readonly<Record<string, unknown>> & {
  readonly metadata: Readonly<Record<string, unknown>> & {
    readonly name: string;
    readonly namespace: string;
  };
};

export interface EventReply {
  readonly code: number;
  readonly body: unknown;
}

const RESOURCE = 'events';
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const reply = (s: status.Status): EventReply => ({ code: s.code, body: s });
const timestamp = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** What a create or an update may not get past: the namespace and name rules. */
function problems(
  body: Record<string, unknown>,
  namespace: string,
): EventReply | status.FieldError[] {
  const meta = isRecord(body['metadata']) ? body['metadata'] : {};
  const given = meta['namespace'];
  if (typeof given === 'string' && given !== '' && given !== namespace)
    return reply(
      status.badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      ),
    );
  const errors: status.FieldError[] = [];
  const name = typeof meta['name'] === 'string' ? meta['name'] : '';
  if (name === '')
    errors.push({
      type: 'Required',
      field: 'metadata.name',
      detail: 'name or generateName is required',
    });
  else
    for (const detail of isDns1123Subdomain(name))
      errors.push({ type: 'Invalid', field: 'metadata.name', value: name, detail });
  const involved = isRecord(body['involvedObject']) ? body['involvedObject'] : {};
  const theirs = involved['namespace'];
  if (typeof theirs === 'string' && theirs !== namespace)
    errors.push({
      type: 'Invalid',
      field: 'involvedObject.namespace',
      value: theirs,
      detail: 'does not match event.namespace',
    });
  return errors;
}

/** Events, sharing the server's resourceVersion; each method runs in one synchronous step. */
export class EventStore {
  readonly #objects = new Map<string, EventObject>();
  readonly #bump: () => string;

  constructor(bump: () => string) {
    this.#bump = bump;
  }

  get(namespace: string, name: string): EventObject | undefined {
    return this.#objects.get(`${namespace}/${name}`);
  }

  list(namespace: string): EventObject[] {
    return [...this.#objects.values()]
      .filter((e) => e.metadata.namespace === namespace)
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  }

  create(namespace: string, body: unknown): EventReply {
    if (!isRecord(body) || body['kind'] !== 'Event')
      return reply(status.badRequest('the body is not an Event'));
    const found = problems(body, namespace);
    const meta = isRecord(body['metadata']) ? body['metadata'] : {};
    const name = typeof meta['name'] === 'string' ? meta['name'] : '';
    if (!Array.isArray(found)) return found;
    if (found.length > 0) return reply(status.invalid(name, found, 'Event'));
    if (this.get(namespace, name) !== undefined) return reply(status.alreadyExists(name, RESOURCE));
    const stored: EventObject = {
      ...body,
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        ...meta,
        name,
        namespace,
        uid: randomUUID(),
        resourceVersion: this.#bump(),
        creationTimestamp: timestamp(),
      },
    };
    this.#objects.set(`${namespace}/${name}`, stored);
    return { code: 201, body: stored };
  }

  /** JSON merge patch (RFC 7386); identity fields stay as they were. */
  patch(namespace: string, name: string, patch: unknown): EventReply {
    const old = this.get(namespace, name);
    if (old === undefined) return reply(status.notFound(name, RESOURCE));
    const merged = mergePatch(old, patch);
    if (!isRecord(merged)) return reply(status.badRequest('the patch does not leave an object'));
    const found = problems(merged, namespace);
    if (!Array.isArray(found)) return found;
    if (found.length > 0) return reply(status.invalid(name, found, 'Event'));
    const stored: EventObject = {
      ...merged,
      metadata: { ...old.metadata, resourceVersion: this.#bump() },
    };
    this.#objects.set(`${namespace}/${name}`, stored);
    return { code: 200, body: stored };
  }

  listReply(namespace: string, revision: string): EventReply {
    return {
      code: 200,
      body: {
        kind: 'EventList',
        apiVersion: 'v1',
        metadata: { resourceVersion: revision },
        items: this.list(namespace).map((e) =>
          Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'apiVersion' && k !== 'kind')),
        ),
      },
    };
  }

  getReply(namespace: string, name: string): EventReply {
    const found = this.get(namespace, name);
    return found === undefined
      ? reply(status.notFound(name, RESOURCE))
      : { code: 200, body: found };
  }
}
