/** AdmissionReview bodies as the API server sends them, for webhook tests. */

export interface PodReviewOptions {
  readonly uid: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly name?: string;
  readonly namespace?: string;
  readonly image?: string;
}

/** A Pod CREATE review with one container, as JSON text. */
export function podReview(options: PodReviewOptions): string {
  const namespace = options.namespace ?? 'shop';
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: options.name ?? 'catalog',
          namespace,
          annotations: options.annotations ?? {},
        },
        spec: { containers: [{ name: 'app', image: options.image ?? 'app:1' }] },
      },
    },
  });
}
