/** Shared by the injector tests: fixtures, AdmissionReviews, decoding patches, Kubernetes schema checks. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { Pod as PodModel } from 'kubernetes-models/v1/Pod';
import { parse } from 'yaml';
import type { AdmissionResult } from '../injector/admission.ts';
import { parsePod } from '../injector/types.ts';
import type { Pod } from '../injector/types.ts';

export const FIXTURES = join(import.meta.dirname, 'fixtures', 'pods');

export function loadPod(file: string): Pod {
  return parsePod(parse(readFileSync(join(FIXTURES, file), 'utf8')));
}

export function reviewFor(object: unknown, overrides: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: 'shop',
      object,
      ...overrides,
    },
  };
}

export function patchOf(result: AdmissionResult): Operation[] {
  const encoded = result.review.response.patch;
  if (encoded === undefined) return [];
  return JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as Operation[];
}

export function applyTo(pod: Pod, patch: readonly Operation[]): Pod {
  const doc = fastJsonPatch.deepClone(pod) as Pod;
  return fastJsonPatch.applyPatch(doc, [...patch], true, true).newDocument;
}

/** Validates against the Kubernetes OpenAPI schema (kubernetes-models' ajv validator). Throws. */
export function validatePod(pod: Pod): void {
  new PodModel(pod as unknown as ConstructorParameters<typeof PodModel>[0]).validate();
}

/**
 * What the schema cannot say: names unique across containers and init containers, every mount
 * naming a declared volume, mount paths unique per container, volume names unique.
 */
export function podInvariantProblems(pod: Pod): string[] {
  const problems: string[] = [];
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const names = all.map((c) => c.name);
  if (new Set(names).size !== names.length)
    problems.push(`duplicate container names: ${names.join(',')}`);
  const volumes = (pod.spec.volumes ?? []).map((v) => v.name);
  if (new Set(volumes).size !== volumes.length)
    problems.push(`duplicate volumes: ${volumes.join(',')}`);
  for (const c of all) {
    const mounts = c.volumeMounts ?? [];
    for (const m of mounts)
      if (!volumes.includes(m.name)) problems.push(`${c.name} mounts undeclared ${m.name}`);
    const paths = mounts.map((m) => m.mountPath);
    if (new Set(paths).size !== paths.length) problems.push(`${c.name} has duplicate mount paths`);
    const env = (c.env ?? []).map((e) => e.name);
    if (new Set(env).size !== env.length) problems.push(`${c.name} has duplicate env vars`);
  }
  return problems;
}

/** The agent containers' `--config-json` documents. */
export function agentConfigs(pod: Pod): unknown[] {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  return all
    .filter((c) => c.name === 'secrets-agent' || c.name === 'secrets-agent-init')
    .map((c) => {
      const args = c.args ?? [];
      const i = args.indexOf('--config-json');
      return JSON.parse(args[i + 1] ?? 'null') as unknown;
    });
}
