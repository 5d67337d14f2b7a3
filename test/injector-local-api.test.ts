/**
 * The injector and the local API: the port on the long-running agent, AWS_TOKEN in the target
 * containers, the init container beside a sidecar without it, and every collision denied by
 * name; the Kubernetes Secret's owners taken from the pod's controller.
 */
import t from 'tap';
import { checkAgentConfig, type AgentConfigInput } from '../common/config.ts';
import { ENGINES } from '../injector/annotations.ts';
import { injectPod } from '../injector/inject.ts';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import type { Container, Pod } from '../injector/types.ts';
import { loadPod } from './injector-support.ts';
import { annotationOf } from '../injector/problems.ts';

const P = 'secrets-agent.io/';

const BASE = loadPod('local-api.yaml');

function withChanges(
  annotations: Record<string, string>,
  change: (pod: Pod) => Pod = (p) => p,
): Pod {
  const own: Record<string, string> = { ...BASE.metadata?.annotations };
  for (const [k, v] of Object.entries(annotations))
    if (v !== undefined) own[`secrets-agent.io/${k}`] = v;
  return change({ ...BASE, metadata: { ...BASE.metadata, annotations: own } });
}

/** What the denial finds: each problem's kind at its annotation (without the prefix). */
function findings(pod: Pod, options = DEFAULT_INJECTOR_OPTIONS): string[] {
  const result = injectPod(pod, options);
  if (result.outcome !== 'denied') throw new Error(`not denied: ${result.outcome}`);
  return result.problems.map((p) => `${p.kind} at ${annotationOf(p).slice(P.length)}`);
}

function injected(pod: Pod, options = DEFAULT_INJECTOR_OPTIONS): Pod {
  const result = injectPod(pod, options);
  if (result.outcome !== 'injected') throw new Error(`not injected: ${JSON.stringify(result)}`);
  return result.pod;
}

function agentConfig(c: Container | undefined): AgentConfigInput {
  const args = c?.args ?? [];
  return JSON.parse(args[args.indexOf('--config-json') + 1] ?? '{}') as AgentConfigInput;
}

t.test('native sidecar: the port, the env var, the config', async (t) => {
  const pod = injected(withChanges({ 'local-api-port': '3001' }));
  const agent = pod.spec.initContainers?.find((c) => c.name === 'secrets-agent');
  t.same(agent?.ports?.[1], { name: 'local-api', containerPort: 3001, protocol: 'TCP' });
  const config = agentConfig(agent);
  t.equal(config.localApi, true);
  t.equal(config.localApiPort, 3001);
  t.ok(checkAgentConfig(config, ENGINES).ok, 'the agent accepts it');
  t.same(
    pod.spec.containers[0]?.env?.find((e) => e.name === 'AWS_TOKEN'),
    { name: 'AWS_TOKEN', value: 'file:///secrets/.secrets-agent-token' },
  );
  t.equal(
    injectPod(pod, DEFAULT_INJECTOR_OPTIONS).outcome,
    'skipped',
    'admitting it again changes nothing',
  );
});

t.test('init container beside a regular sidecar: only the sidecar serves', async (t) => {
  const pod = injected(withChanges({ 'native-sidecar': 'false', 'mount-path': '/etc/app' }));
  const init = pod.spec.initContainers?.find((c) => c.name === 'secrets-agent-init');
  const sidecar = pod.spec.containers.find((c) => c.name === 'secrets-agent');
  t.equal(agentConfig(init).localApi, undefined, 'the init container has no local API');
  t.equal(init?.ports, undefined);
  t.equal(agentConfig(sidecar).localApi, true);
  t.same(
    sidecar?.ports?.map((p) => p.name),
    ['agent-http', 'local-api'],
  );
  t.equal(
    pod.spec.containers[0]?.env?.find((e) => e.name === 'AWS_TOKEN')?.value,
    'file:///etc/app/.secrets-agent-token',
  );
});

t.test('denied, at the annotation, with the kind of problem', async (t) => {
  t.same(findings(withChanges({ mode: 'init' })), ['forbidden at local-api']);
  const job = withChanges({}, (p) => ({
    ...p,
    metadata: {
      ...p.metadata,
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          name: 'j',
          uid: '3f6c2a1e-9b7d-4c5e-8f0a-1b2c3d4e5f61',
          controller: true,
        },
      ],
    },
  }));
  t.same(
    findings(job, { ...DEFAULT_INJECTOR_OPTIONS, nativeSidecar: false }),
    ['forbidden at local-api'],
    'a Job without native sidecars runs the agent once: no local API',
  );
  t.same(findings(withChanges({ 'local-api-port': '80' })), ['invalid at local-api-port']);
  t.same(findings(withChanges({ 'local-api-port': 'http' })), ['invalid at local-api-port']);
  t.same(findings(withChanges({ 'local-api': 'yes' })), ['invalid at local-api']);
  t.same(findings(withChanges({ 'local-api-port': '9102' })), ['duplicate at local-api-port']);
  t.same(
    findings(withChanges({}), { ...DEFAULT_INJECTOR_OPTIONS, agentPort: 2773 }),
    ['duplicate at local-api-port'],
    "the injector's --agent-port too",
  );
  const appPort = withChanges({ 'local-api-port': '8080' });
  t.same(findings(appPort), ['duplicate at local-api-port']);
  /** The pod with these annotations, its app setting AWS_TOKEN itself. */
  const withAppToken = (annotations: Record<string, string>): Pod =>
    withChanges(annotations, (p) => ({
      ...p,
      spec: {
        ...p.spec,
        containers: p.spec.containers.map((c) => ({
          ...c,
          env: [{ name: 'AWS_TOKEN', value: 'mine' }],
        })),
      },
    }));
  const appToken = withAppToken({});
  t.same(findings(appToken), ['duplicate at local-api']);
  const offToken = withAppToken({ 'local-api': 'false' });
  t.equal(
    injectPod(offToken, DEFAULT_INJECTOR_OPTIONS).outcome,
    'injected',
    "without the local API, AWS_TOKEN is the app's",
  );
});

t.test("the Kubernetes Secret's owners: the pod's controller", async (t) => {
  const pod = injected(withChanges({}));
  const config = agentConfig(pod.spec.initContainers?.find((c) => c.name === 'secrets-agent'));
  t.same(config.k8sSecret, {
    name: 'orders-secrets',
    owners: [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'orders-7c9d5b6f48',
        uid: '3f6c2a1e-9b7d-4c5e-8f0a-1b2c3d4e5f60',
      },
    ],
  });
  const bare = injected(
    withChanges({}, (p) => ({ ...p, metadata: { ...p.metadata, ownerReferences: [] } })),
  );
  t.same(
    agentConfig(bare.spec.initContainers?.find((c) => c.name === 'secrets-agent')).k8sSecret,
    { name: 'orders-secrets' },
    'a pod without a controller: no owners (the Secret stays, as before)',
  );
  const notController = injected(
    withChanges({}, (p) => ({
      ...p,
      metadata: {
        ...p.metadata,
        ownerReferences: (p.metadata?.ownerReferences ?? []).map((o) => ({
          ...o,
          controller: false,
        })),
      },
    })),
  );
  t.same(
    agentConfig(notController.spec.initContainers?.[0]).k8sSecret,
    { name: 'orders-secrets' },
    'only a controller owns it',
  );
});
