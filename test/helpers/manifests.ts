/** The shipped manifests as kustomize builds them, and the injector run over their pod templates. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { admit, type AdmissionResult } from '../../injector/admission.ts';

const run = promisify(execFile);

export type Obj = Record<string, unknown> & {
  kind: string;
  apiVersion: string;
  metadata: { name: string; namespace?: string };
};

export async function build(dir: string): Promise<Obj[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], {
    cwd: new URL('../..', import.meta.url).pathname,
  });
  return parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
}

export function find(objects: readonly Obj[], kind: string, name?: string): Obj {
  const found = objects.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (found.length !== 1)
    throw new Error(
      `expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${found.length}`,
    );
  return found[0] as Obj;
}

/** Loose access into parsed YAML for assertions: a missing path is undefined, never a throw. */
export function at(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

export function podTemplate(workload: Obj): unknown {
  return at(workload, 'spec', 'template');
}

/** The injector's answer for a pod made from `template`, with the options the tests use. */
export function admitTemplate(template: unknown, namespace: string): AdmissionResult {
  return admit(
    {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'manifest-test',
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace,
        operation: 'CREATE',
        object: { apiVersion: 'v1', kind: 'Pod', ...(template as object) },
      },
    },
    {
      image: 'secrets-agent:test',
      nativeSidecar: true,
      agentPort: 9102,
      defaultRegion: 'eu-west-1',
      resources: { requests: {}, limits: {} },
      volumeSizeLimit: '16Mi',
      fallbackUser: 65532,
    },
  );
}
