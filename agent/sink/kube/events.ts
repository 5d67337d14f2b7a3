/**
 * The two Event calls the agent makes (create, and patch to count a repeat), over the same
 * transport as the Secret calls. Core v1 Events, as `kubectl describe pod` lists them.
 */
import type { KubeTransport } from './client.ts';
import { statusOf } from './client.ts';

export interface EventObject {
  readonly apiVersion: 'v1';
  readonly kind: 'Event';
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly involvedObject: {
    readonly apiVersion: 'v1';
    readonly kind: 'Pod';
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
  };
  readonly reason: string;
  readonly message: string;
  readonly type: 'Warning' | 'Normal';
  readonly source: { readonly component: string };
  readonly reportingComponent: string;
  readonly reportingInstance: string;
  readonly firstTimestamp: string;
  readonly lastTimestamp: string;
  readonly count: number;
}

/** What changes when an Event repeats. */
export interface EventRepeat {
  readonly count: number;
  readonly lastTimestamp: string;
  readonly message: string;
}

/**
 * How a call ended: `ok`; `missing` (patch: the Event expired, or create: it exists already);
 * `forbidden` (no RBAC for events: the caller turns Events off); `failed` (try later).
 */
export type EventCallOutcome = 'ok' | 'missing' | 'exists' | 'forbidden' | 'failed';

export interface EventsClient {
  create(event: EventObject, signal: AbortSignal): Promise<EventCallOutcome>;
  patch(
    namespace: string,
    name: string,
    repeat: EventRepeat,
    signal: AbortSignal,
  ): Promise<EventCallOutcome>;
  /** The API's words for the last forbidden answer, for the one log line. */
  readonly lastDenial: string | undefined;
  close(): void;
}

const path = (namespace: string, name?: string): string =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/events${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

export function createEventsClient(transport: KubeTransport): EventsClient {
  let lastDenial: string | undefined;
  const outcome = (status: number, body: unknown): EventCallOutcome => {
    if (status >= 200 && status < 300) return 'ok';
    if (status === 401 || status === 403) {
      lastDenial = statusOf(body).message ?? `HTTP ${status}`;
      return 'forbidden';
    }
    if (status === 404) return 'missing';
    if (status === 409) return 'exists';
    return 'failed';
  };
  const send = async (
    method: string,
    url: string,
    body: unknown,
    signal: AbortSignal,
    contentType?: string,
  ): Promise<EventCallOutcome> => {
    try {
      const answer = await transport.call(method, url, body, signal, contentType);
      return outcome(answer.status, answer.body);
    } catch {
      return 'failed';
    }
  };
  return {
    create: (event, signal) => send('POST', path(event.metadata.namespace), event, signal),
    patch: (namespace, name, repeat, signal) =>
      send('PATCH', path(namespace, name), repeat, signal, 'application/merge-patch+json'),
    get lastDenial() {
      return lastDenial;
    },
    close: () => transport.close(),
  };
}
