/**
 * A loopback Kubernetes API server for Secrets — GET/LIST/POST/PUT/PATCH/DELETE on
 * `/api/v1/namespaces/{ns}/secrets[/{name}]` — and Events (GET/LIST/POST/PATCH, events.ts),
 * keeping the real API's semantics for those calls:
 * bearer-token authentication, RBAC-style authorization with the real 403 message, Status
 * bodies with the real reasons and codes, a global etcd-like resourceVersion with optimistic
 * concurrency, merge patch, and Secret validation with the real messages. Tests reach the
 * store directly through `secrets` and inject latency and 5xx faults.
 *
 * Each request is handled atomically: the body is read first, then read-check-write runs
 * without an `await`, so concurrent writers race exactly as they do against etcd.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventStore, type EventObject } from './events.ts';
import { authenticate, authorize, type Identity, type Resource, type SecretVerb } from './rbac.ts';
import {
  decodeSecret,
  mergePatch,
  parseJson,
  toWire,
  unchanged,
  type OwnerReference,
  type Secret,
  type SecretInput,
  type StoredSecret,
} from './secret.ts';
import * as status from './status.ts';
import { sameSecretData, validateSecret, validateSecretUpdate } from './validation.ts';

export type { Identity, PolicyRule, Resource, SecretVerb } from './rbac.ts';
export type { EventObject } from './events.ts';
export type { OwnerReference, Secret, SecretMetadata } from './secret.ts';
export type { Status, StatusCause, StatusDetails } from './status.ts';

/** The token of the identity used when `tokens` is not given: every verb, every namespace. */
export const ADMIN_TOKEN = 'kube-api-test-admin';
const DEFAULT_TOKENS: Readonly<Record<string, Identity>> = {
  [ADMIN_TOKEN]: {
    username: 'kubernetes-admin',
    rules: [{ verbs: ['*'], namespaces: '*', resources: ['*'] }],
  },
};

/** The apiserver's request body limit (MaxRequestBodyBytes). */
export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

export interface KubeApiServerOptions {
  /** Serve HTTPS with this key pair (its CA is handed back as `caPem`); plain HTTP without. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly caPem: string };
  /** Defaults to 0: a free port. */
  readonly port?: number;
  /** Bearer token → identity. Default: `{ [ADMIN_TOKEN]: all verbs, all namespaces }`. */
  readonly tokens?: Readonly<Record<string, Identity>>;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The authenticated username, when the token was known. */
  readonly user?: string;
  /** The RBAC verb, when the path named a resource. */
  readonly verb?: SecretVerb;
  /** The resource the path named. */
  readonly resource?: Resource;
}

/** Secret content for `secrets.put`: metadata other than name/labels/annotations is assigned. */
export interface SecretInit {
  readonly metadata: {
    readonly name: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly OwnerReference[];
  };
  readonly type?: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
  readonly immutable?: boolean;
}

export interface SecretStoreAccess {
  get(namespace: string, name: string): Secret | undefined;
  /** Writes without authentication or validation; bumps the resourceVersion like any write. */
  put(namespace: string, secret: SecretInit): Secret;
  delete(namespace: string, name: string): boolean;
  /** The current global resourceVersion. */
  resourceVersion(): string;
  /**
   * One pass of Kubernetes' garbage collector over the Secrets, as kube-controller-manager
   * applies it to a dependent with owner references (background propagation): each owner is
   * looked up by its uid (`exists`); a Secret none of whose owners exists is deleted; a Secret
   * with some owners gone and some left loses the dangling references (a write, bumping the
   * resourceVersion). A Secret without owner references is never touched. What is not
   * emulated: the collector's own timing (it acts on informer events, later) and foreground
   * deletion (`blockOwnerDeletion` on a dependent makes an owner wait for it).
   */
  collectGarbage(exists: (owner: OwnerReference, namespace: string) => boolean): {
    readonly deleted: readonly string[];
    readonly updated: readonly string[];
  };
}

export interface KubeApiServer {
  readonly url: string;
  readonly caPem?: string;
  /** Every request answered, oldest first. */
  readonly requests: readonly RequestRecord[];
  clearRequests(): void;
  readonly secrets: SecretStoreAccess;
  /** The Events posted, by namespace, oldest name first. */
  readonly events: { list(namespace: string): readonly EventObject[] };
  /** Delay every following request by `ms` before it is handled. */
  setLatency(ms: number): void;
  /** Answer the next `count` requests with a `code` Status (500 InternalError by default). */
  failNext(count: number, code?: number): void;
  close(): Promise<void>;
}

interface Reply {
  readonly code: number;
  readonly body: unknown;
}

interface Route {
  readonly resource: Resource;
  readonly namespace: string;
  readonly name?: string;
}

const RESOURCE_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|events)(?:\/([^/]+))?\/?$/;
const MERGE_PATCH_TYPES = [
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
] as const;

function parseRoute(pathname: string): Route | undefined {
  const match = RESOURCE_PATH.exec(pathname);
  if (match === null) return undefined;
  const [, namespace = '', resource, name] = match;
  return {
    resource: resource === 'events' ? 'events' : 'secrets',
    namespace: decodeURIComponent(namespace),
    ...(name === undefined ? {} : { name: decodeURIComponent(name) }),
  };
}

/** The RBAC verb for a method on the collection or an item; undefined → 405. */
function verbFor(method: string, route: Route): SecretVerb | undefined {
  if (route.name === undefined)
    return { GET: 'list', POST: 'create' }[method] as SecretVerb | undefined;
  const verbs: Record<string, SecretVerb> = {
    GET: 'get',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: 'delete',
  };
  const verb = verbs[method];
  // Events: create, get, list and patch are what is emulated; the rest is 405.
  return route.resource === 'events' && (verb === 'update' || verb === 'delete') ? undefined : verb;
}

const mediaType = (req: IncomingMessage): string =>
  (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_REQUEST_BODY_BYTES) return undefined;
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

const timestamp = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const key = (namespace: string, name: string): string => `${namespace}/${name}`;

/** The store and the write semantics; every method runs synchronously (one atomic step). */
class SecretStore {
  readonly #objects = new Map<string, StoredSecret>();
  #revision = 0;

  revision(): string {
    return String(this.#revision);
  }

  bump(): string {
    this.#revision += 1;
    return String(this.#revision);
  }

  find(namespace: string, name: string): StoredSecret | undefined {
    return this.#objects.get(key(namespace, name));
  }

  save(secret: StoredSecret): StoredSecret {
    this.#objects.set(key(secret.namespace, secret.name), secret);
    return secret;
  }

  remove(namespace: string, name: string): boolean {
    const removed = this.#objects.delete(key(namespace, name));
    if (removed) this.bump();
    return removed;
  }

  all(): StoredSecret[] {
    return [...this.#objects.values()];
  }

  list(namespace: string): StoredSecret[] {
    return [...this.#objects.values()]
      .filter((s) => s.namespace === namespace)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  create(namespace: string, input: SecretInput): Reply {
    if (input.namespace !== undefined && input.namespace !== '' && input.namespace !== namespace)
      return reply(status.badRequest(NAMESPACE_MISMATCH));
    const candidate = { ...input, uid: randomUUID() };
    const errors = validateSecret(candidate);
    if (errors.length > 0) return reply(status.invalid(input.name, errors));
    if (input.resourceVersion !== '') return reply(status.resourceVersionOnCreate());
    if (this.find(namespace, input.name) !== undefined)
      return reply(status.alreadyExists(input.name));
    const stored = this.save({
      ...candidate,
      namespace,
      resourceVersion: this.bump(),
      creationTimestamp: timestamp(),
    });
    return { code: 201, body: toWire(stored) };
  }

  update(namespace: string, name: string, input: SecretInput): Reply {
    if (input.name !== name)
      return reply(
        status.badRequest(
          `the name of the object (${input.name}) does not match the name on the URL (${name})`,
        ),
      );
    if (input.namespace !== undefined && input.namespace !== '' && input.namespace !== namespace)
      return reply(status.badRequest(NAMESPACE_MISMATCH));
    const old = this.find(namespace, name);
    if (old === undefined) return reply(status.notFound(name));
    // An empty resourceVersion is an unconditional update (Secrets AllowUnconditionalUpdate).
    if (input.resourceVersion !== '' && input.resourceVersion !== old.resourceVersion)
      return reply(status.conflict(name));
    const next = { ...input, uid: input.uid === '' ? old.uid : input.uid };
    const errors = validateSecretUpdate(next, old);
    if (errors.length > 0) return reply(status.invalid(name, errors));
    // etcd's GuaranteedUpdate skips a write that changes nothing: same resourceVersion back.
    if (unchanged(next, old, sameSecretData(next, old))) return { code: 200, body: toWire(old) };
    const stored = this.save({
      ...next,
      namespace,
      resourceVersion: this.bump(),
      creationTimestamp: old.creationTimestamp,
    });
    return { code: 200, body: toWire(stored) };
  }
}

const NAMESPACE_MISMATCH =
  'the namespace of the provided object does not match the namespace sent on the request';

const reply = (s: status.Status): Reply => ({ code: s.code, body: s });

function storeAccess(store: SecretStore): SecretStoreAccess {
  return {
    get: (namespace, name) => {
      const found = store.find(namespace, name);
      return found === undefined ? undefined : toWire(found);
    },
    put: (namespace, init) => {
      const decoded = decodeSecret(init);
      if (!decoded.ok) throw new Error(decoded.message);
      const old = store.find(namespace, init.metadata.name);
      return toWire(
        store.save({
          ...decoded.value,
          namespace,
          uid: old?.uid ?? randomUUID(),
          resourceVersion: store.bump(),
          creationTimestamp: old?.creationTimestamp ?? timestamp(),
        }),
      );
    },
    delete: (namespace, name) => store.remove(namespace, name),
    resourceVersion: () => store.revision(),
    collectGarbage: (exists) => {
      const deleted: string[] = [];
      const updated: string[] = [];
      for (const s of store.all()) {
        if (s.ownerReferences.length === 0) continue;
        const live = s.ownerReferences.filter((o) => exists(o, s.namespace));
        const where = `${s.namespace}/${s.name}`;
        if (live.length === 0) {
          store.remove(s.namespace, s.name);
          deleted.push(where);
        } else if (live.length < s.ownerReferences.length) {
          store.save({ ...s, ownerReferences: live, resourceVersion: store.bump() });
          updated.push(where);
        }
      }
      return { deleted, updated };
    },
  };
}

interface Handling {
  readonly store: SecretStore;
  readonly req: IncomingMessage;
  readonly route: Route;
  readonly verb: SecretVerb;
}

/** Parses the body as a Secret, or answers 415/413/400. */
async function secretBody(req: IncomingMessage): Promise<SecretInput | Reply> {
  if (mediaType(req) !== 'application/json')
    return reply(status.unsupportedMediaType(['application/json']));
  const raw = await readBody(req);
  if (raw === undefined) return reply(status.tooLarge(MAX_REQUEST_BODY_BYTES));
  const json = parseJson(raw.toString('utf8'));
  if (!json.ok) return reply(status.badRequest(json.message));
  const decoded = decodeSecret(json.value);
  return decoded.ok ? decoded.value : reply(status.badRequest(decoded.message));
}

const isReply = (v: SecretInput | Reply): v is Reply => 'code' in v;

async function patch({ store, req, route }: Handling, name: string): Promise<Reply> {
  if (!(MERGE_PATCH_TYPES as readonly string[]).includes(mediaType(req)))
    return reply(status.unsupportedMediaType(MERGE_PATCH_TYPES));
  const raw = await readBody(req);
  if (raw === undefined) return reply(status.tooLarge(MAX_REQUEST_BODY_BYTES));
  const json = parseJson(raw.toString('utf8'));
  if (!json.ok) return reply(status.badRequest(json.message));
  // From here on, no await: read, patch, check and write in one step.
  const old = store.find(route.namespace, name);
  if (old === undefined) return reply(status.notFound(name));
  const decoded = decodeSecret(mergePatch(toWire(old), json.value));
  if (!decoded.ok) return reply(status.badRequest(decoded.message));
  return store.update(route.namespace, name, decoded.value);
}

async function handle(h: Handling): Promise<Reply> {
  const { store, route, verb } = h;
  const name = route.name ?? '';
  switch (verb) {
    case 'list':
      return {
        code: 200,
        body: {
          kind: 'SecretList',
          apiVersion: 'v1',
          metadata: { resourceVersion: store.revision() },
          items: store.list(route.namespace).map((s) =>
            // List items carry no apiVersion/kind of their own.
            Object.fromEntries(
              Object.entries(toWire(s)).filter(([k]) => k !== 'apiVersion' && k !== 'kind'),
            ),
          ),
        },
      };
    case 'get': {
      const found = store.find(route.namespace, name);
      return found === undefined
        ? reply(status.notFound(name))
        : { code: 200, body: toWire(found) };
    }
    case 'delete': {
      const found = store.find(route.namespace, name);
      if (found === undefined) return reply(status.notFound(name));
      store.remove(route.namespace, name);
      return {
        code: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, kind: 'secrets', uid: found.uid },
        },
      };
    }
    case 'patch':
      return patch(h, name);
    case 'create':
    case 'update': {
      const input = await secretBody(h.req);
      if (isReply(input)) return input;
      return verb === 'create'
        ? store.create(route.namespace, input)
        : store.update(route.namespace, name, input);
    }
  }
}

interface ServerState {
  readonly store: SecretStore;
  readonly events: EventStore;
  readonly tokens: Readonly<Record<string, Identity>>;
  readonly requests: RequestRecord[];
  latencyMs: number;
  readonly faults: number[];
}

type Outcome = Reply & Partial<Pick<RequestRecord, 'user' | 'verb' | 'resource'>>;

/** An Event request, authorized: create, get, list or merge patch (events.ts). */
async function handleEvent(state: ServerState, req: IncomingMessage, route: Route): Promise<Reply> {
  const { namespace, name } = route;
  const method = req.method ?? 'GET';
  if (method === 'GET')
    return name === undefined
      ? state.events.listReply(namespace, state.store.revision())
      : state.events.getReply(namespace, name);
  const accepted = method === 'POST' ? (['application/json'] as const) : MERGE_PATCH_TYPES;
  if (!(accepted as readonly string[]).includes(mediaType(req)))
    return reply(status.unsupportedMediaType(accepted));
  const raw = await readBody(req);
  if (raw === undefined) return reply(status.tooLarge(MAX_REQUEST_BODY_BYTES));
  const json = parseJson(raw.toString('utf8'));
  if (!json.ok) return reply(status.badRequest(json.message));
  // From here on, no await: one atomic step.
  return name === undefined
    ? state.events.create(namespace, json.value)
    : state.events.patch(namespace, name, json.value);
}

async function respond(state: ServerState, req: IncomingMessage): Promise<Outcome> {
  if (state.latencyMs > 0) await sleep(state.latencyMs);
  const method = req.method ?? 'GET';
  const route = parseRoute(new URL(req.url ?? '/', 'http://x').pathname);
  const verb = route === undefined ? undefined : verbFor(method, route);
  const identity = authenticate(req.headers.authorization, state.tokens);
  const seen = {
    ...(identity === undefined ? {} : { user: identity.username }),
    ...(verb === undefined ? {} : { verb }),
    ...(route === undefined ? {} : { resource: route.resource }),
  };
  const fault = state.faults.shift();
  if (fault !== undefined) return { ...reply(status.injectedFault(fault)), ...seen };
  if (identity === undefined) return { ...reply(status.unauthorized()), ...seen };
  if (route === undefined) return { ...reply(status.pathNotFound()), ...seen };
  if (verb === undefined) return { ...reply(status.methodNotAllowed()), ...seen };
  const attributes = {
    verb,
    resource: route.resource,
    namespace: route.namespace,
    ...(route.name === undefined ? {} : { name: route.name }),
  };
  if (!authorize(identity, attributes))
    return {
      ...reply(
        status.forbidden(identity.username, verb, route.namespace, route.name, route.resource),
      ),
      ...seen,
    };
  if (route.resource === 'events') return { ...(await handleEvent(state, req, route)), ...seen };
  return { ...(await handle({ store: state.store, req, route, verb })), ...seen };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export async function startKubeApiServer(
  options: KubeApiServerOptions = {},
): Promise<KubeApiServer> {
  const store = new SecretStore();
  const state: ServerState = {
    store,
    events: new EventStore(() => store.bump()),
    tokens: options.tokens ?? DEFAULT_TOKENS,
    requests: [],
    latencyMs: 0,
    faults: [],
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    void respond(state, req)
      .catch((err: unknown): Outcome => reply(status.internalError(String(err))))
      .then((out) => {
        state.requests.push({
          method: req.method ?? 'GET',
          path,
          status: out.code,
          ...(out.user === undefined ? {} : { user: out.user }),
          ...(out.verb === undefined ? {} : { verb: out.verb }),
          ...(out.resource === undefined ? {} : { resource: out.resource }),
        });
        send(res, out.code, out.body);
      });
  };
  let caPem: string | undefined;
  let server;
  if (options.tls !== undefined) {
    caPem = options.tls.caPem;
    server = createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener);
  } else {
    server = createHttpServer(listener);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    ...(caPem === undefined ? {} : { caPem }),
    requests: state.requests,
    clearRequests: () => state.requests.splice(0),
    secrets: storeAccess(state.store),
    events: { list: (namespace) => state.events.list(namespace) },
    setLatency: (ms) => {
      state.latencyMs = ms;
    },
    failNext: (count, code = 500) => {
      for (let i = 0; i < count; i += 1) state.faults.push(code);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        server.closeAllConnections();
      }),
  };
}
