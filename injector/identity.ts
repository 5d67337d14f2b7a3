/**
 * The agent fetches with the pod's own AWS identity. Identity webhooks (the EKS pod identity
 * webhook for IRSA, EKS Pod Identity) add env vars and token mounts to the containers that exist
 * when they run; when they ran before the injector, the agent's containers missed them, so they
 * are copied from the app's containers. `role-arn` sets IRSA up for the agent alone.
 */
import { AGENT_OUTPUT_DIR } from './plan.ts';
import { AGENT_NAMES, appContainers } from './types.ts';
import type { EnvVar, Pod, Volume, VolumeMount } from './types.ts';
import { SERVICE_ACCOUNT_DIR } from '../common/kube.ts';

/** The env vars that carry an AWS identity, in the order they are copied. */
export const IDENTITY_ENV = [
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_STS_REGIONAL_ENDPOINTS',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
] as const;

export const IRSA_TOKEN_DIR = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
export const POD_IDENTITY_TOKEN_DIR = '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount';

/** The token volumes the identity webhooks add, by the names and paths they use. */
const TOKEN_VOLUMES = [
  { name: AGENT_NAMES.irsaVolume, mountPath: IRSA_TOKEN_DIR },
  { name: 'eks-pod-identity-token', mountPath: POD_IDENTITY_TOKEN_DIR },
] as const;

export interface AgentIdentity {
  readonly env: readonly EnvVar[];
  readonly mounts: readonly VolumeMount[];
  /** Volumes the agent's identity needs that the pod lacks. */
  readonly volumes: readonly Volume[];
}

/**
 * What the agent's containers need to run as the pod's AWS identity (and, with a k8s-secret,
 * its Kubernetes identity): copied from the app's containers, plus `role-arn`'s own IRSA setup.
 */
export function agentIdentity(
  pod: Pod,
  roleArn: string | undefined,
  k8sSecret: string | undefined,
): AgentIdentity {
  // role-arn replaces whatever IRSA role the app has, for the agent only.
  const replaced: readonly string[] =
    roleArn === undefined ? [] : ['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'];
  const { mounts, moved } = copiedTokenMounts(pod);
  const copiedEnv = copiedIdentityEnv(pod, k8sSecret, moved).filter(
    (e) => !replaced.includes(e.name),
  );
  const volumes: Volume[] = [];
  const env = [...copiedEnv];
  if (roleArn !== undefined) {
    env.push(
      { name: 'AWS_ROLE_ARN', value: roleArn },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${IRSA_TOKEN_DIR}/token` },
    );
    if (!hasVolume(pod, AGENT_NAMES.irsaVolume)) volumes.push(irsaTokenVolume());
    if (!mounts.some((m) => m.mountPath === IRSA_TOKEN_DIR)) {
      mounts.push({ name: AGENT_NAMES.irsaVolume, mountPath: IRSA_TOKEN_DIR, readOnly: true });
    }
  }
  if (k8sSecret !== undefined) addKubernetesToken(pod, mounts, volumes);
  return { env, mounts, volumes };
}

/**
 * Variables read from the k8s-secret Secret are skipped: the agent writes that Secret, so it
 * cannot start before it exists (an `env-AWS_REGION` annotation puts one on the app, and a
 * reinvocation would otherwise copy it). Token file paths follow a token mount that was moved.
 */
function copiedIdentityEnv(
  pod: Pod,
  k8sSecret: string | undefined,
  moved: ReadonlyMap<string, string>,
): EnvVar[] {
  const { containers, initContainers } = appContainers(pod);
  const all = [...containers, ...initContainers]
    .flatMap((c) => c.env ?? [])
    .filter((e) => k8sSecret === undefined || e.valueFrom?.secretKeyRef?.name !== k8sSecret);
  const found: EnvVar[] = [];
  for (const name of IDENTITY_ENV) {
    const first = all.find((e) => e.name === name);
    if (first !== undefined) found.push(movedValue(first, moved));
  }
  return found;
}

function movedValue(e: EnvVar, moved: ReadonlyMap<string, string>): EnvVar {
  for (const [from, to] of moved)
    if (e.value?.startsWith(`${from}/`) === true)
      return { name: e.name, value: `${to}${e.value.slice(from.length)}` };
  return e;
}

function overlaps(a: string, b: string): boolean {
  const [x, y] = [a.replace(/\/+$/, ''), b.replace(/\/+$/, '')];
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`) || x === '' || y === '';
}

/**
 * The app's token mounts, for the agent. One the app put where the agent writes its output
 * (a custom mount at /secrets) or where another token already is goes to the token's standard
 * path instead: two mounts at one path make an invalid pod. `moved` maps the app's path to the
 * agent's.
 */
function copiedTokenMounts(pod: Pod): { mounts: VolumeMount[]; moved: Map<string, string> } {
  const { containers, initContainers } = appContainers(pod);
  const all = [...containers, ...initContainers].flatMap((c) => c.volumeMounts ?? []);
  const mounts: VolumeMount[] = [];
  const moved = new Map<string, string>();
  for (const token of TOKEN_VOLUMES) {
    const first = all.find((m) => m.name === token.name && hasVolume(pod, m.name));
    if (first === undefined) continue;
    const taken = [AGENT_OUTPUT_DIR, ...mounts.map((m) => m.mountPath)];
    const clash = taken.some((path) => overlaps(first.mountPath, path));
    if (clash) moved.set(first.mountPath.replace(/\/+$/, ''), token.mountPath);
    mounts.push({
      name: first.name,
      mountPath: clash ? token.mountPath : first.mountPath,
      readOnly: true,
    });
  }
  return { mounts, moved };
}

/**
 * The ServiceAccount admission plugin mounts the API token before webhooks run, so the agent's
 * containers never get it: copy the app's mount, or, where the pod has none (automount off),
 * give the agent a token of its own at the standard path.
 */
function addKubernetesToken(pod: Pod, mounts: VolumeMount[], volumes: Volume[]): void {
  const { containers, initContainers } = appContainers(pod);
  const appMount = [...containers, ...initContainers]
    .flatMap((c) => c.volumeMounts ?? [])
    .find((m) => m.mountPath.replace(/\/+$/, '') === SERVICE_ACCOUNT_DIR);
  if (appMount !== undefined) {
    mounts.push({ name: appMount.name, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true });
    return;
  }
  volumes.push(serviceAccountTokenVolume());
  mounts.push({ name: AGENT_NAMES.tokenVolume, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true });
}

function hasVolume(pod: Pod, name: string): boolean {
  return (pod.spec.volumes ?? []).some((v) => v.name === name);
}

/** The volume the EKS pod identity webhook would add, for `role-arn` without that webhook. */
export function irsaTokenVolume(): Volume {
  return {
    name: AGENT_NAMES.irsaVolume,
    projected: {
      defaultMode: 0o644,
      sources: [
        {
          serviceAccountToken: {
            audience: 'sts.amazonaws.com',
            expirationSeconds: 86400,
            path: 'token',
          },
        },
      ],
    },
  };
}

/** The same projection as Kubernetes' own `kube-api-access-*` volume. */
export function serviceAccountTokenVolume(): Volume {
  return {
    name: AGENT_NAMES.tokenVolume,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [
              {
                path: 'namespace',
                fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' },
              },
            ],
          },
        },
      ],
    },
  };
}
