/**
 * The Kubernetes Secret sink: keeps one Secret in step with the pod's secrets, for apps that
 * take them as env vars. It owns only Secrets labelled as managed by secrets-agent (created by
 * the agent, or pre-created with the label so RBAC can name them); any other Secret is refused,
 * never overwritten. A hash of the data in an annotation makes an unchanged cycle cost one
 * read; conflicting writers (replicas of one Deployment) retry on fresh data and converge.
 */
import { createHash } from 'node:crypto';
import { AgentError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { SecretOwner } from '../../common/config.ts';
import {
  KubeApiError,
  type OwnerReference,
  type SecretObject,
  type SecretsClient,
} from './kube/client.ts';
import { isSecretKey, SECRET_KEY_RULE } from '../../common/kube.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'secrets-agent';
export const DATA_HASH_ANNOTATION = 'secrets-agent.io/data-hash';
/**
 * On a Secret the agent created (never on a pre-created one): only such a Secret gets owner
 * references, so only it is ever deleted by Kubernetes' garbage collector.
 */
export const CREATED_BY_ANNOTATION = 'secrets-agent.io/created-by-agent';
/** The API server's limit on a Secret's data. */
export const MAX_SECRET_BYTES = 1024 * 1024;
/**
 * A write that lost a race (409) reads again and retries: at most this many attempts, each one
 * read and one write (so at most 12 requests), 0–20·n ms apart (at most 0.3 s in all). Other
 * errors are not retried here: the agent's next cycle is the retry.
 */
export const SECRET_WRITE_ATTEMPTS = 6;

export type SecretWriteOutcome = 'created' | 'updated' | 'unchanged';

/** One key of the Secret and where it came from (for collision messages). */
export interface SecretEntry {
  readonly key: string;
  readonly value: Uint8Array;
  readonly from: string;
}

export interface K8sSecretSinkOptions {
  readonly client: SecretsClient;
  readonly namespace: string;
  readonly name: string;
  readonly logger: Logger;
  readonly random?: () => number;
  /**
   * What owns the pod: a Secret the agent created gets each as an owner reference (merged by
   * uid with those other agents added), so it goes when every owner is gone.
   */
  readonly owners?: readonly SecretOwner[];
}

/** The data map, and the entries left out of it (each named by where it came from). */
export interface CheckedData {
  readonly data: Map<string, Uint8Array>;
  /** SECRET_DATA_INVALID errors: an invalid key, or a key two entries share. */
  readonly problems: readonly AgentError[];
}

/**
 * The data map, checked: an entry whose key is invalid, and every entry of a key two sources
 * share, are left out (which of them is meant is not known) and named in `problems`; every
 * other key is kept. Data over the API's limit fails the whole Secret (throws).
 */
export function secretData(entries: readonly SecretEntry[], target: string): CheckedData {
  const byKey = new Map<string, SecretEntry[]>();
  const problems: AgentError[] = [];
  for (const entry of entries) {
    if (!isSecretKey(entry.key)) {
      problems.push(
        new AgentError(
          'SECRET_DATA_INVALID',
          `Secret ${target}: key "${entry.key}" (from ${entry.from}) is not a valid Secret key (${SECRET_KEY_RULE})`,
        ),
      );
      continue;
    }
    const same = byKey.get(entry.key);
    if (same === undefined) byKey.set(entry.key, [entry]);
    else same.push(entry);
  }
  const data = new Map<string, Uint8Array>();
  let size = 0;
  for (const [key, same] of byKey) {
    const [first, second] = same;
    if (first === undefined) continue;
    if (second !== undefined) {
      problems.push(
        new AgentError(
          'SECRET_DATA_INVALID',
          `Secret ${target}: key "${key}" comes from both ${first.from} and ${second.from}${same.length > 2 ? ` (and ${same.length - 2} more)` : ''}; left out`,
        ),
      );
      continue;
    }
    data.set(key, first.value);
    size += first.value.byteLength;
  }
  if (size > MAX_SECRET_BYTES) {
    throw new AgentError(
      'SECRET_DATA_INVALID',
      `Secret ${target}: ${size} bytes of data, over the API's limit of ${MAX_SECRET_BYTES} (1 MiB)`,
    );
  }
  return { data, problems };
}

/** A hash of the data: keys in order, lengths framed, so no two different maps hash alike. */
export function dataHash(data: ReadonlyMap<string, Uint8Array>): string {
  const hash = createHash('sha256');
  for (const key of [...data.keys()].sort()) {
    const value = data.get(key) ?? new Uint8Array();
    hash.update(`${key.length}:${key}${value.byteLength}:`).update(value);
  }
  return `sha256:${hash.digest('hex')}`;
}

export class K8sSecretSink {
  readonly #o: K8sSecretSinkOptions;

  constructor(options: K8sSecretSinkOptions) {
    this.#o = options;
  }

  get target(): string {
    return `${this.#o.namespace}/${this.#o.name}`;
  }

  async write(
    data: ReadonlyMap<string, Uint8Array>,
    signal: AbortSignal,
  ): Promise<SecretWriteOutcome> {
    const hash = dataHash(data);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#writeOnce(data, hash, signal);
      } catch (err) {
        const conflict =
          err instanceof KubeApiError &&
          (err.reason === 'Conflict' || err.reason === 'AlreadyExists');
        if (!conflict || attempt >= SECRET_WRITE_ATTEMPTS || signal.aborted) throw err;
        this.#o.logger.debug('Secret changed meanwhile; retrying on fresh data', {
          secret: this.target,
          attempt,
        });
        // Replicas that collided spread out before reading again.
        await new Promise((r) =>
          setTimeout(r, Math.round((this.#o.random ?? Math.random)() * 20 * attempt)),
        );
      }
    }
  }

  async #writeOnce(
    data: ReadonlyMap<string, Uint8Array>,
    hash: string,
    signal: AbortSignal,
  ): Promise<SecretWriteOutcome> {
    const { client, namespace, name } = this.#o;
    const owners = this.#o.owners ?? [];
    const current = await client.get(namespace, name, signal);
    const encoded = Object.fromEntries(
      [...data]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
    if (current === undefined) {
      await client.create(
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            name,
            namespace,
            labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
            annotations: { [DATA_HASH_ANNOTATION]: hash, [CREATED_BY_ANNOTATION]: 'true' },
            ...(owners.length === 0 ? {} : { ownerReferences: owners.map(ownerReference) }),
          },
          type: 'Opaque',
          data: encoded,
        },
        signal,
      );
      return 'created';
    }
    if (current.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) {
      throw new AgentError(
        'SECRET_NOT_MANAGED',
        `Secret ${this.target} exists and is not managed by secrets-agent (no label ${MANAGED_BY_LABEL}=${MANAGED_BY}); refusing to overwrite it. Rename k8sSecret.name, or label the Secret to hand it over.`,
      );
    }
    const have = current.metadata.ownerReferences ?? [];
    // Owners are added only beside one already there: to a Secret that has an owner, another
    // one only keeps it alive longer (the collector deletes it when every owner is gone). One
    // without (a pre-created one, one a bare pod's agent created) never gets one: an owner
    // named by a pod, absent or gone, would get it deleted under whoever else uses it.
    const missing =
      current.metadata.annotations?.[CREATED_BY_ANNOTATION] === 'true' && have.length > 0
        ? owners.filter((o) => !have.some((h) => h.uid === o.uid))
        : [];
    if (
      current.metadata.annotations?.[DATA_HASH_ANNOTATION] === hash &&
      sameData(current, encoded) &&
      missing.length === 0
    )
      return 'unchanged';
    const next: SecretObject = {
      ...current,
      metadata: {
        ...current.metadata,
        annotations: { ...current.metadata.annotations, [DATA_HASH_ANNOTATION]: hash },
        ...(missing.length === 0
          ? {}
          : { ownerReferences: [...have, ...missing.map(ownerReference)] }),
      },
      data: encoded,
    };
    await client.update(next, signal);
    return 'updated';
  }
}

/** An owner reference that neither makes the owner a controller nor blocks its deletion. */
function ownerReference(owner: SecretOwner): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid };
}

/** The hash says what was written; the data says whether someone changed it since. */
function sameData(current: SecretObject, encoded: Readonly<Record<string, string>>): boolean {
  const have = current.data ?? {};
  const keys = Object.keys(encoded);
  return keys.length === Object.keys(have).length && keys.every((k) => have[k] === encoded[k]);
}
