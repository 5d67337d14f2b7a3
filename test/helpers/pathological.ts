/** AdmissionReviews built to cost a webhook the most per byte: a million tiny objects. */
import { podReview } from './admission.ts';

export const OPTED_IN = {
  'secrets-agent.io/inject': 'true',
  'secrets-agent.io/secret-db': 'prod/db',
} as const;

/** The API server's request size limit. */
export const THREE_MIB = 3 * 1024 * 1024;

/**
 * Where the million objects go: a field the injector never reads (`tolerations`, a container's
 * `envFrom`), or a list it reads (refused past its bound, POD_BOUNDS, before it is built).
 */
export type Filler =
  | 'tolerations'
  | 'app-envFrom'
  | 'init-envFrom'
  | 'app-env'
  | 'app-volumeMounts'
  | 'app-ports'
  | 'containers'
  | 'initContainers'
  | 'volumes'
  | 'ownerReferences';

/** The lists the injector reads, as fillers. */
export const READ_LISTS: readonly Filler[] = [
  'app-env',
  'app-volumeMounts',
  'app-ports',
  'containers',
  'initContainers',
  'volumes',
  'ownerReferences',
];

/**
 * An opted-in pod's review of exactly `bytes` bytes (3 MiB by default), padded with `{}` items:
 * `spec.tolerations` (what the API server passes through for any pod author), a field of the
 * app container, or of an init container that the agent's moves one place down.
 */
export function pathologicalReview(
  uid: string,
  filler: Filler = 'tolerations',
  bytes = THREE_MIB,
): string {
  const review = JSON.parse(podReview({ uid, annotations: OPTED_IN })) as {
    request: {
      object: {
        metadata: Record<string, unknown>;
        spec: Record<string, unknown> & { containers: object[] };
      };
    };
  };
  const { metadata, spec } = review.request.object;
  const marker = '"__filler__"';
  const app = spec.containers[0];
  if (filler === 'tolerations') spec['tolerations'] = '__filler__';
  else if (filler === 'app-envFrom') spec.containers = [{ ...app, envFrom: '__filler__' }];
  else if (filler === 'init-envFrom')
    spec['initContainers'] = [{ name: 'setup', image: 'busybox:1', envFrom: '__filler__' }];
  else if (filler.startsWith('app-'))
    spec.containers = [{ ...app, [filler.slice(4)]: '__filler__' }];
  else if (filler === 'ownerReferences') metadata['ownerReferences'] = '__filler__';
  else (spec as Record<string, unknown>)[filler] = '__filler__';
  const frame = JSON.stringify(review);
  const room = bytes - (frame.length - marker.length) - 2; // the brackets
  if (room < 2) throw new Error(`${bytes} bytes is too small for a review`);
  const items = Math.floor((room + 1) / 3); // "{}" and a comma each, the last without
  const list = `[${'{},'.repeat(items - 1)}{}]`;
  const pad = ' '.repeat(room - (items * 3 - 1)); // whitespace: still exactly `bytes`
  const text = frame.replace(marker, `${list}${pad}`);
  if (text.length !== bytes) throw new Error(`built ${text.length} bytes, not ${bytes}`);
  return text;
}
