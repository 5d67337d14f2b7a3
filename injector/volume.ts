/** The shared in-memory volume, and what the target containers get: the mount and the env vars. */
import { LOCAL_API_TOKEN_ENV, localApiTokenRef } from './local-api.ts';
import { AGENT_NAMES } from './types.ts';
import type { EnvVar, Volume, VolumeMount } from './types.ts';
import type { Plan } from './plan.ts';

/** Memory-backed (tmpfs): secret values are not written to the node's disk (swap aside, as for Secret volumes). */
export function secretsVolume(plan: Plan): Volume {
  return {
    name: AGENT_NAMES.volume,
    emptyDir: { medium: 'Memory', sizeLimit: plan.volumeSizeLimit },
  };
}

/** Read-only for the app: only the agent writes. */
export function appMount(plan: Plan): VolumeMount {
  return { name: AGENT_NAMES.volume, mountPath: plan.mountPath, readOnly: true };
}

/**
 * `env-<VAR>` annotations: each variable read from the `k8s-secret` Secret; with the local API,
 * AWS_TOKEN naming the token file (as apps written for the AWS agent read it).
 */
export function appEnv(plan: Plan): EnvVar[] {
  const secret = plan.k8sSecret;
  const fromSecret =
    secret === undefined
      ? []
      : plan.env.map((e) => ({
          name: e.name,
          valueFrom: { secretKeyRef: { name: secret, key: e.key } },
        }));
  if (plan.localApiPort === undefined) return fromSecret;
  return [...fromSecret, { name: LOCAL_API_TOKEN_ENV, value: localApiTokenRef(plan.mountPath) }];
}
