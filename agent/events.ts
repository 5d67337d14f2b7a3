/**
 * Kubernetes Events on the agent's own pod for failing sources, so `kubectl describe pod` shows
 * what the log says: one Warning Event per source and reason, its `count` raised when the
 * failure repeats (as the kubelet's event recorder aggregates), never a value (the message is
 * the error's, which names the secret and AWS's words only).
 *
 * Bounded, because every pod of a fleet may fail at once (a revoked policy): the first failure
 * of a source and reason is posted at once, repeats update its Event at most every
 * `EVENT_LIMITS.repeatMs`, and all writes together draw from a bucket of `burst` that refills
 * one per `refillMs`. Nothing waits on a timer: the agent reports after every cycle, and what is
 * due is sent then, one write at a time, never holding the cycle up.
 *
 * Events need RBAC the pod may not have (`create` and `patch` on `events` in its namespace):
 * the first refusal turns them off, with one log line saying what to grant. Without the pod's
 * name and uid (the downward API; the injector passes them) or a Kubernetes API, they are off.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ErrorCode } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { SecretFailure } from './agent.ts';
import type { EventCallOutcome, EventObject, EventsClient } from './sink/kube/events.ts';

export const EVENT_LIMITS = {
  /** Event writes (creates and updates) an agent may make at once, */
  burst: 25,
  /** and then one more per this long. */
  refillMs: 60_000,
  /** A failure that repeats updates its Event at most this often. */
  repeatMs: 5 * 60_000,
  /** Distinct source-and-reason Events one agent keeps; failures beyond are only logged. */
  keys: 256,
  /** Kubernetes' own bound on an Event's message. */
  messageLength: 1024,
} as const;

/** The Event reason for each error code: what `kubectl describe pod` shows in REASON. */
export const EVENT_REASONS = {
  SECRET_NOT_FOUND: 'SecretNotFound',
  ACCESS_DENIED: 'AccessDenied',
  THROTTLED: 'Throttled',
  AWS_UNAVAILABLE: 'AwsUnavailable',
  CREDENTIALS: 'CredentialsFailed',
  DECRYPTION_FAILED: 'DecryptionFailed',
  AWS_REQUEST: 'AwsRequestRejected',
  VALUE_INVALID: 'ValueInvalid',
  RENDER_FAILED: 'RenderFailed',
  WRITE_FAILED: 'WriteFailed',
  KUBE_CONFIG: 'SecretWriteFailed',
  KUBE_FORBIDDEN: 'SecretWriteFailed',
  KUBE_REQUEST: 'SecretWriteFailed',
  KUBE_UNAVAILABLE: 'SecretWriteFailed',
  SECRET_NOT_MANAGED: 'SecretWriteFailed',
  SECRET_DATA_INVALID: 'SecretWriteFailed',
  CONFIG_INVALID: 'ConfigInvalid',
  USAGE: 'ConfigInvalid',
  SEED_INVALID: 'ConfigInvalid',
  INTERRUPTED: 'Interrupted',
} as const satisfies Record<ErrorCode, string>;

export const EVENT_COMPONENT = 'secrets-agent';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface FailureEventsOptions {
  readonly pod: PodRef;
  /** Opens the API at the first failure; throws (KUBE_CONFIG) when there is none. */
  readonly open: () => Promise<EventsClient>;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Tells this process's Events from an earlier run's (a restarted container). */
  readonly instance?: string;
}

interface Aggregate {
  readonly name: string;
  readonly reason: string;
  readonly first: number;
  last: number;
  count: number;
  message: string;
  /** The count the API has; 0 before the Event exists. */
  sent: number;
  sentAt: number;
}

export class FailureEvents {
  readonly #options: FailureEventsOptions;
  readonly #now: () => number;
  readonly #instance: string;
  readonly #events = new Map<string, Aggregate>();
  readonly #abort = new AbortController();
  #client: Promise<EventsClient | undefined> | undefined;
  #off = false;
  #tokens: number = EVENT_LIMITS.burst;
  #refilledAt: number;
  #chain: Promise<void> = Promise.resolve();
  #dropped = false;

  constructor(options: FailureEventsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#instance = options.instance ?? randomBytes(4).toString('hex');
    this.#refilledAt = this.#now();
  }

  /** Counts the cycle's failures and sends what is due; never throws, never waits. */
  report(failures: readonly SecretFailure[]): void {
    if (this.#off || failures.length === 0) return;
    const now = this.#now();
    for (const f of failures) this.#count(f, now);
    this.#chain = this.#chain.then(() => this.#flush());
  }

  /** Resolves when every write due so far is done (tests; and before exit). */
  idle(): Promise<void> {
    return this.#chain;
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#chain;
    (await this.#client)?.close();
  }

  #count(f: SecretFailure, now: number): void {
    const reason = EVENT_REASONS[f.error.code];
    const key = `${f.secret}\u0000${reason}`;
    const message = `${f.secret}: ${f.error.message}`.slice(0, EVENT_LIMITS.messageLength);
    const known = this.#events.get(key);
    if (known !== undefined) {
      known.count += 1;
      known.last = now;
      known.message = message;
      return;
    }
    if (this.#events.size >= EVENT_LIMITS.keys) {
      if (!this.#dropped)
        this.#options.logger.warn('too many failing sources for Kubernetes Events', {
          limit: EVENT_LIMITS.keys,
        });
      this.#dropped = true;
      return;
    }
    const name = this.#eventName(key);
    this.#events.set(key, {
      name,
      reason,
      first: now,
      last: now,
      count: 1,
      message,
      sent: 0,
      sentAt: 0,
    });
  }

  /** `<pod>.<hash>`: a valid name whatever the pod's, unique per source, reason and process. */
  #eventName(key: string): string {
    const hash = createHash('sha256').update(`${this.#instance}\u0000${key}`).digest('hex');
    const pod = this.#options.pod.name.slice(0, 200).replace(/[^a-z0-9]+$/, '');
    return `${pod}.${hash.slice(0, 16)}`;
  }

  async #flush(): Promise<void> {
    const client = await this.#open();
    if (client === undefined) return;
    for (const event of this.#events.values()) {
      if (this.#off || this.#abort.signal.aborted) return;
      if (!this.#due(event) || !this.#take()) continue;
      const outcome = await this.#send(client, event);
      if (outcome === 'forbidden') return this.#turnOff(client.lastDenial);
      if (outcome === 'ok') {
        event.sent = event.count;
        event.sentAt = this.#now();
      }
    }
  }

  #due(event: Aggregate): boolean {
    if (event.sent === 0) return true;
    return event.count > event.sent && this.#now() - event.sentAt >= EVENT_LIMITS.repeatMs;
  }

  /** A write from the bucket, refilled by the clock. */
  #take(): boolean {
    const now = this.#now();
    const refill = Math.floor((now - this.#refilledAt) / EVENT_LIMITS.refillMs);
    if (refill > 0) {
      this.#tokens = Math.min(EVENT_LIMITS.burst, this.#tokens + refill);
      this.#refilledAt += refill * EVENT_LIMITS.refillMs;
    }
    if (this.#tokens === 0) return false;
    this.#tokens -= 1;
    return true;
  }

  async #send(client: EventsClient, event: Aggregate): Promise<EventCallOutcome> {
    const { namespace } = this.#options.pod;
    const signal = this.#abort.signal;
    const repeat = { count: event.count, lastTimestamp: iso(event.last), message: event.message };
    if (event.sent > 0) {
      const patched = await client.patch(namespace, event.name, repeat, signal);
      // Expired (the API server keeps Events an hour): post it again, whole.
      if (patched !== 'missing') return patched;
    }
    const created = await client.create(this.#object(event), signal);
    return created === 'exists' ? client.patch(namespace, event.name, repeat, signal) : created;
  }

  #object(event: Aggregate): EventObject {
    const { namespace, name, uid } = this.#options.pod;
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: event.name, namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace, uid },
      reason: event.reason,
      message: event.message,
      type: 'Warning',
      source: { component: EVENT_COMPONENT },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: name,
      firstTimestamp: iso(event.first),
      lastTimestamp: iso(event.last),
      count: event.count,
    };
  }

  #open(): Promise<EventsClient | undefined> {
    this.#client ??= this.#options.open().catch((err: unknown) => {
      this.#off = true;
      this.#options.logger.info('Kubernetes Events are off: no Kubernetes API', {
        error: err instanceof Error ? err.message : String(err),
      });
      return undefined;
    });
    return this.#client;
  }

  #turnOff(denial: string | undefined): void {
    this.#off = true;
    const { namespace } = this.#options.pod;
    this.#options.logger.warn('Kubernetes Events are off: the service account may not post them', {
      namespace,
      grant: `create and patch on events in namespace ${namespace} (docs/agent.md, Events)`,
      ...(denial === undefined ? {} : { api: denial }),
    });
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The pod the agent runs in, from the downward API; undefined outside Kubernetes. */
export function podFromEnv(env: Readonly<Record<string, string | undefined>>): PodRef | undefined {
  const [namespace, name, uid] = ['POD_NAMESPACE', 'POD_NAME', 'POD_UID'].map((k) => env[k]);
  if (!namespace || !name || !uid) return undefined;
  return { namespace, name, uid };
}
