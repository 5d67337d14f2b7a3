/**
 * Part of the agent's configuration schema (common/config.ts): `k8sSecret.owners`, the owner
 * references a Secret the agent created gets, so Kubernetes' garbage collector deletes it once
 * every owner is gone. The injector fills them from the pod's controller at admission.
 */
import { saidOf, type ProblemSink } from './config-problem.ts';
import { child, index, type FieldPath } from './field.ts';
import { isObject } from './json.ts';
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain } from './kube.ts';
import { quote } from './values.ts';

/** An owner reference, as the API server takes it (never a controller, never blocking). */
export interface SecretOwner {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

/** The most owners one configuration names (a pod has one controller). */
export const OWNERS_LIMIT = 4;

const OWNERS: FieldPath = ['k8sSecret', 'owners'];
const OWNER_FIELDS = ['apiVersion', 'kind', 'name', 'uid'] as const;
/** A Kubernetes object's uid (RFC 4122 text, as the API server makes them). */
const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const API_VERSION = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v\d+((alpha|beta)\d+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]{0,62}$/;

const RULES: Readonly<Record<(typeof OWNER_FIELDS)[number], (v: string) => boolean>> = {
  apiVersion: (v) => v.length <= 253 && API_VERSION.test(v),
  kind: (v) => KIND.test(v),
  name: (v) => isDnsSubdomain(v),
  uid: (v) => UID.test(v),
};
const WHAT: Readonly<Record<(typeof OWNER_FIELDS)[number], string>> = {
  apiVersion: 'an API version such as apps/v1',
  kind: 'a kind such as ReplicaSet',
  name: `an object name (${DNS_SUBDOMAIN_RULE})`,
  uid: 'an object uid',
};

/** The owners, each checked; every problem is told to `add`. */
export function parseOwners(
  raw: unknown,
  namespaceGiven: boolean,
  problems: ProblemSink,
): SecretOwner[] | undefined {
  if (raw === undefined) return undefined;
  if (namespaceGiven)
    // An owner lives in the pod's namespace; the garbage collector deletes a dependent whose
    // owner it cannot find in the dependent's own namespace.
    problems.add(
      'forbidden',
      OWNERS,
      "cannot be combined with {0}: owners are in the pod's namespace, and a Secret elsewhere would be deleted at once",
      ['k8sSecret', 'namespace'],
    );
  if (!Array.isArray(raw) || raw.length > OWNERS_LIMIT) {
    problems.add(
      Array.isArray(raw) ? 'too-many' : 'invalid',
      OWNERS,
      `must be a list of at most ${OWNERS_LIMIT} owner references`,
    );
    return undefined;
  }
  const owners: SecretOwner[] = [];
  raw.forEach((item: unknown, i) => {
    const path = index(OWNERS, i);
    if (!isObject(item)) {
      problems.add('invalid', path, 'must be an object with apiVersion, kind, name and uid');
      return;
    }
    for (const key of Object.keys(item))
      if (!(OWNER_FIELDS as readonly string[]).includes(key))
        problems.add(
          'unknown',
          child(path, key),
          `unknown field (known: ${OWNER_FIELDS.join(', ')})`,
        );
    let ok = true;
    for (const field of OWNER_FIELDS) {
      const value = item[field];
      if (value === undefined) problems.add('required', child(path, field), 'is required');
      else if (typeof value !== 'string' || !RULES[field](value))
        problems.add(
          'invalid',
          child(path, field),
          saidOf(`must be ${WHAT[field]}; got ${quote(value)}`, value),
        );
      else continue;
      ok = false;
    }
    if (ok) {
      const [apiVersion, kind, name, uid] = OWNER_FIELDS.map((f) => item[f] as string);
      owners.push({ apiVersion, kind, name, uid } as SecretOwner);
    }
  });
  return owners;
}
