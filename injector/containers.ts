/**
 * The agent's containers. Every field the API server would default is written out, so that
 * admitting the stored pod again finds nothing to change (the patch stays empty).
 */
import { type AgentConfigInput, DEFAULTS } from '../common/config.ts';
import { parseDuration } from '../common/duration.ts';
import { AGENT_OUTPUT_DIR } from './plan.ts';
import type { Plan } from './plan.ts';
import { AGENT_COMMAND, AGENT_NAMES, AGENT_NODE_OPTIONS } from './types.ts';
import type { Container, EnvVar, Probe, SecurityContext } from './types.ts';
import type { AgentIdentity } from './identity.ts';

/** How one agent container runs: `native` is the restartable init container. */
export type AgentRole = 'init' | 'native' | 'sidecar';

/**
 * How long the startup probe waits, in 1 s periods: the agent's initTimeout, within which its
 * first write completes or it exits with the reason (as an init container does), plus a grace
 * for its own start and exit. The probe is the backstop; the agent's exit says why.
 */
export const STARTUP_FAILURE_THRESHOLD =
  Math.ceil((parseDuration(DEFAULTS.initTimeout) ?? 0) / 1000) + 30;

export function agentContainer(
  plan: Plan,
  role: AgentRole,
  config: AgentConfigInput,
  identity: AgentIdentity,
): Container {
  const serving = role !== 'init';
  const nodeOptions = AGENT_NODE_OPTIONS[role === 'init' ? 'init' : 'sidecar'];
  return {
    name: role === 'init' ? AGENT_NAMES.init : AGENT_NAMES.sidecar,
    image: plan.image,
    imagePullPolicy: defaultPullPolicy(plan.image),
    args: [AGENT_COMMAND, '--config-json', JSON.stringify(config)],
    env: [
      ...podEnv(),
      ...(nodeOptions === undefined ? [] : [{ name: 'NODE_OPTIONS', value: nodeOptions }]),
      ...identity.env,
    ],
    ...(serving
      ? {
          ports: [
            { name: 'agent-http', containerPort: plan.port, protocol: 'TCP' },
            ...(plan.localApiPort === undefined
              ? []
              : [{ name: 'local-api', containerPort: plan.localApiPort, protocol: 'TCP' }]),
          ],
        }
      : {}),
    resources: plan.resources,
    securityContext: restrictedSecurityContext(plan),
    volumeMounts: [{ name: AGENT_NAMES.volume, mountPath: AGENT_OUTPUT_DIR }, ...identity.mounts],
    ...(role === 'native'
      ? {
          restartPolicy: 'Always',
          startupProbe: httpProbe('/readyz', plan.port, 1, STARTUP_FAILURE_THRESHOLD),
        }
      : {}),
    ...(serving ? { livenessProbe: httpProbe('/healthz', plan.port, 10, 3) } : {}),
    // Where the agent writes it by default: the kubelet's own default path, said once.
    terminationMessagePath: DEFAULTS.terminationLogPath,
    // The agent writes its one-line reason there; the log tail is the fallback if it could not.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** The Pod Security Standards `restricted` profile, with the user chosen by the plan. */
function restrictedSecurityContext(plan: Plan): SecurityContext {
  return {
    runAsUser: plan.runAsUser,
    runAsGroup: plan.runAsGroup,
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * The pod's namespace (the k8s-secret target's default), name and uid (the object the agent's
 * Kubernetes Events are about), from the downward API: the agent never reads its own pod.
 */
function podEnv(): EnvVar[] {
  const field = (name: string, fieldPath: string): EnvVar => ({
    name,
    valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } },
  });
  return [
    field('POD_NAMESPACE', 'metadata.namespace'),
    field('POD_NAME', 'metadata.name'),
    field('POD_UID', 'metadata.uid'),
  ];
}

function httpProbe(
  path: string,
  port: number,
  periodSeconds: number,
  failureThreshold: number,
): Probe {
  return {
    httpGet: { path, port, scheme: 'HTTP' },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 1,
    successThreshold: 1,
  };
}

/** Kubernetes' own default: Always for `:latest` or an untagged image, else IfNotPresent. */
export function defaultPullPolicy(image: string): string {
  if (image.includes('@')) return 'IfNotPresent';
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const tag = lastPart.includes(':') ? lastPart.slice(lastPart.indexOf(':') + 1) : undefined;
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
}
