/**
 * The kustomize base and examples build with the kubectl on the machine, and what they build
 * holds the decisions of docs/adr/0001-webhook-failure-policy.md and the Pod Security
 * `restricted` profile. Built-in kinds are also checked against the Kubernetes schemas.
 */
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import {
  MutatingWebhookConfiguration,
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
} from 'kubernetes-models/admissionregistration.k8s.io/v1';
import t, { type Test } from 'tap';
import { OPT_IN_CEL } from '../injector/opt-in.ts';
import { WEBHOOK_COMMAND } from '../injector/webhook-command.ts';
import type { Container, Pod } from '../injector/types.ts';
import { applyTo, patchOf } from './injector-support.ts';
import { admitTemplate, at, build, find, type Obj, podTemplate } from './helpers/manifests.ts';
import { fileNeeds } from './helpers/needs.ts';

fileNeeds(t, 'kubectl');

type Assert = Pick<Test, 'ok' | 'equal' | 'same' | 'doesNotThrow'>;

const SCHEMAS: Readonly<Record<string, new (data: never) => { validate(): void }>> = {
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': ValidatingAdmissionPolicy,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding':
    ValidatingAdmissionPolicyBinding,
};

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'ClusterRole',
  'ClusterRoleBinding',
]);

function checkSchemas(t: Assert, objects: readonly Obj[]): void {
  for (const o of objects) {
    const Schema = SCHEMAS[`${o.apiVersion}/${o.kind}`];
    if (Schema !== undefined)
      t.doesNotThrow(
        () => new Schema(o as never).validate(),
        `${o.kind} ${o.metadata.name} matches the schema`,
      );
    t.ok(
      CLUSTER_SCOPED.has(o.kind) === (o.metadata.namespace === undefined),
      `${o.kind} ${o.metadata.name}: namespace set iff namespaced`,
    );
  }
}

function checkRestricted(t: Assert, podSpec: unknown, where: string): void {
  t.equal(at(podSpec, 'securityContext', 'runAsNonRoot'), true, `${where}: runAsNonRoot`);
  t.equal(
    at(podSpec, 'securityContext', 'seccompProfile', 'type'),
    'RuntimeDefault',
    `${where}: seccomp`,
  );
  const containers = [
    ...((at(podSpec, 'containers') as unknown[] | undefined) ?? []),
    ...((at(podSpec, 'initContainers') as unknown[] | undefined) ?? []),
  ];
  t.ok(containers.length > 0);
  for (const c of containers) {
    const name = String(at(c, 'name'));
    t.equal(
      at(c, 'securityContext', 'allowPrivilegeEscalation'),
      false,
      `${where}/${name}: no privilege escalation`,
    );
    t.same(
      at(c, 'securityContext', 'capabilities', 'drop'),
      ['ALL'],
      `${where}/${name}: all capabilities dropped`,
    );
    t.equal(
      at(c, 'securityContext', 'readOnlyRootFilesystem'),
      true,
      `${where}/${name}: read-only root filesystem`,
    );
    t.ok(
      at(c, 'resources', 'requests', 'memory') !== undefined &&
        at(c, 'resources', 'limits', 'memory') !== undefined,
      `${where}/${name}: memory request and limit`,
    );
  }
}

t.test('the base builds and holds the webhook decisions', async (t) => {
  const objects = await build('manifests');
  checkSchemas(t, objects);
  const kinds = objects.map((o) => o.kind);
  for (const kind of [
    'Namespace',
    'ServiceAccount',
    'Deployment',
    'PodDisruptionBudget',
    'Service',
    'MutatingWebhookConfiguration',
    'Issuer',
    'Certificate',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
  ]) {
    t.ok(kinds.includes(kind), `has a ${kind}`);
  }
  for (const kind of ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']) {
    t.notOk(kinds.includes(kind), `no ${kind}: the injector needs no Kubernetes API access`);
  }

  const ns = find(objects, 'Namespace', 'secrets-agent');
  t.equal(at(ns, 'metadata', 'labels', 'pod-security.kubernetes.io/enforce'), 'restricted');
  t.equal(at(find(objects, 'ServiceAccount'), 'automountServiceAccountToken'), false);

  const mwc = find(objects, 'MutatingWebhookConfiguration');
  const webhooks = at(mwc, 'webhooks') as unknown[];
  t.equal(webhooks.length, 1);
  const hook = webhooks[0];
  t.match(hook, {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    reinvocationPolicy: 'IfNeeded',
    clientConfig: {
      service: {
        name: 'secrets-agent-injector',
        namespace: 'secrets-agent',
        path: '/mutate',
        port: 443,
      },
    },
  });
  t.equal(
    at(hook, 'objectSelector', 'matchLabels', 'secrets-agent.io/inject'),
    undefined,
    'no objectSelector on the label: the annotation alone opts in',
  );
  t.notMatch(
    JSON.stringify(at(hook, 'objectSelector') ?? {}),
    /secrets-agent\.io\/inject/,
    'no objectSelector names the inject key',
  );
  const conditions = at(hook, 'matchConditions') as { name: string; expression: string }[];
  t.equal(conditions.length, 1, 'one match condition');
  // The rule's text is the injector's (injector/opt-in.ts); what it selects is evaluated, with
  // the policy's CEL and the injector, in opt-in-cel.test.ts.
  t.equal(
    conditions[0]?.expression,
    OPT_IN_CEL,
    "the injector's own opt-in rule (injector/opt-in.ts), every access guarded",
  );
  t.match(
    conditions[0]?.expression,
    /object\.metadata\.annotations\['secrets-agent\.io\/inject'\] != 'false'/,
    "names the annotation and compares with 'false'",
  );
  const timeout = at(hook, 'timeoutSeconds') as number;
  t.ok(timeout >= 1 && timeout <= 15, 'a short timeout');
  t.same(at(hook, 'rules'), [
    {
      operations: ['CREATE'],
      apiGroups: [''],
      apiVersions: ['v1'],
      resources: ['pods'],
      scope: 'Namespaced',
    },
  ]);
  const excluded = at(hook, 'namespaceSelector', 'matchExpressions', 0);
  t.match(excluded, { key: 'kubernetes.io/metadata.name', operator: 'NotIn' });
  t.ok(
    ['kube-system', 'secrets-agent'].every((n) => (at(excluded, 'values') as string[]).includes(n)),
    'kube-system and its own namespace excluded',
  );

  const tls = find(objects, 'Certificate', 'secrets-agent-injector-tls');
  t.equal(
    at(mwc, 'metadata', 'annotations', 'cert-manager.io/inject-ca-from'),
    'secrets-agent/secrets-agent-injector-tls',
  );
  t.ok(
    (at(tls, 'spec', 'dnsNames') as string[]).includes('secrets-agent-injector.secrets-agent.svc'),
  );
  t.equal(at(tls, 'spec', 'issuerRef', 'name'), 'secrets-agent-ca');
  t.equal(at(find(objects, 'Certificate', 'secrets-agent-ca'), 'spec', 'isCA'), true);
  t.same(at(find(objects, 'Issuer', 'secrets-agent-selfsigned'), 'spec', 'selfSigned'), {});
  t.equal(
    at(find(objects, 'Issuer', 'secrets-agent-ca'), 'spec', 'ca', 'secretName'),
    'secrets-agent-ca',
  );

  const service = find(objects, 'Service');
  t.ok((at(service, 'spec', 'ports') as { port: number }[]).some((p) => p.port === 443));

  const deployment = find(objects, 'Deployment', 'secrets-agent-injector');
  const pod = at(deployment, 'spec', 'template', 'spec');
  t.equal(at(deployment, 'spec', 'replicas'), 2);
  t.equal(at(pod, 'automountServiceAccountToken'), false);
  t.ok(
    at(pod, 'topologySpreadConstraints') !== undefined &&
      at(pod, 'affinity', 'podAntiAffinity') !== undefined,
    'spread over nodes and zones',
  );
  checkRestricted(t, pod, 'injector');
  t.same(
    at(service, 'spec', 'selector'),
    at(deployment, 'spec', 'selector', 'matchLabels'),
    'the Service selects the pods',
  );
  const pdb = find(objects, 'PodDisruptionBudget');
  t.equal(at(pdb, 'spec', 'minAvailable'), 1);
  t.same(
    at(pdb, 'spec', 'selector', 'matchLabels'),
    at(deployment, 'spec', 'selector', 'matchLabels'),
    'the PDB covers the pods',
  );

  const container = at(pod, 'containers', 0);
  t.same(at(container, 'args'), ['webhook']);
  t.match(at(container, 'readinessProbe'), { httpGet: { path: '/readyz', scheme: 'HTTPS' } });
  t.match(at(container, 'livenessProbe'), { httpGet: { path: '/healthz', scheme: 'HTTPS' } });
  const env = new Map(
    (at(container, 'env') as { name: string; value: string }[]).map((e) => [e.name, e.value]),
  );
  const known = new Set(WEBHOOK_COMMAND.flags.map((f) => f.env));
  // The runtime's own settings (heap, allocator) are checked in test/webhook-limits.test.ts.
  const runtime = new Set(['NODE_OPTIONS', 'MALLOC_MMAP_THRESHOLD_']);
  for (const name of env.keys())
    t.ok(known.has(name) || runtime.has(name), `${name} is a webhook flag's environment twin`);
  t.equal(
    env.get('SECRETS_AGENT_WEBHOOK_IMAGE'),
    at(container, 'image'),
    'the injected agent image is the injector image',
  );
  const mountPath = at(container, 'volumeMounts', 0, 'mountPath') as string;
  t.equal(env.get('SECRETS_AGENT_WEBHOOK_TLS_CERT_FILE'), `${mountPath}/tls.crt`);
  t.equal(env.get('SECRETS_AGENT_WEBHOOK_TLS_KEY_FILE'), `${mountPath}/tls.key`);
  t.equal(
    at(container, 'volumeMounts', 0, 'subPath'),
    undefined,
    'no subPath: a subPath mount never sees Secret updates',
  );
  t.equal(
    at(pod, 'volumes', 0, 'secret', 'secretName'),
    at(tls, 'spec', 'secretName'),
    "the mounted Secret is cert-manager's",
  );

  const vap = find(
    objects,
    'ValidatingAdmissionPolicy',
    'secrets-agent-opted-in-pods-are-injected',
  );
  t.equal(at(vap, 'spec', 'failurePolicy'), 'Fail');
  const expressions = JSON.stringify(at(vap, 'spec'));
  t.notMatch(expressions, /object\.metadata\.labels/, 'the policy does not look at labels');
  const optedIn = (at(vap, 'spec', 'variables') as { name: string; expression: string }[])[0];
  t.equal(optedIn?.expression, OPT_IN_CEL, "the opt-in rule, word for word the webhook's");
  t.match(
    expressions,
    /object\.metadata\.annotations\['secrets-agent\.io\/status'\] == 'injected'/,
  );
  const validations = at(vap, 'spec', 'validations') as { expression: string }[];
  t.equal(validations.length, 1, 'one rule: opted-in pods are injected');
  t.equal(validations[0]?.expression, '!variables.optedIn || variables.injected');
  t.same(
    (at(vap, 'spec', 'variables') as { name: string }[]).map((v) => v.name),
    ['optedIn', 'injected'],
  );
  const binding = find(
    objects,
    'ValidatingAdmissionPolicyBinding',
    'secrets-agent-opted-in-pods-are-injected',
  );
  t.equal(at(binding, 'spec', 'policyName'), vap.metadata.name);
  t.same(at(binding, 'spec', 'validationActions'), ['Deny']);
});

/**
 * The example's database takes the user and password the catalog container gets, from the Secret
 * its agent writes, and answers where the catalog connects.
 */
function checkCatalogDatabase(t: Assert, objects: readonly Obj[], catalog: unknown): void {
  const database = podTemplate(find(objects, 'StatefulSet', 'catalog-mysql'));
  checkRestricted(t, at(database, 'spec'), 'catalog-mysql');
  const env = (template: unknown): Map<string, unknown> =>
    new Map(
      ((at(template, 'spec', 'containers', 0, 'env') ?? []) as { name: string }[]).map((e) => [
        e.name,
        e,
      ]),
    );
  const db = env(database);
  const app = env(catalog);
  const annotations = at(catalog, 'metadata', 'annotations') as Record<string, string>;
  const secret = annotations['secrets-agent.io/k8s-secret'];
  for (const [dbVar, appVar] of [
    ['MYSQL_USER', 'RETAIL_CATALOG_PERSISTENCE_USER'],
    ['MYSQL_PASSWORD', 'RETAIL_CATALOG_PERSISTENCE_PASSWORD'],
  ] as const) {
    t.same(
      at(db.get(dbVar), 'valueFrom', 'secretKeyRef'),
      { name: secret, key: annotations[`secrets-agent.io/env-${appVar}`] },
      `${dbVar} is the key the catalog gets as ${appVar}`,
    );
  }
  t.equal(
    at(db.get('MYSQL_DATABASE'), 'value'),
    at(app.get('RETAIL_CATALOG_PERSISTENCE_DB_NAME'), 'value'),
  );
  const service = find(objects, 'Service', 'catalog-mysql');
  t.same(at(service, 'spec', 'selector'), at(database, 'metadata', 'labels'));
  t.equal(
    at(app.get('RETAIL_CATALOG_PERSISTENCE_ENDPOINT'), 'value'),
    `${service.metadata.name}:${String(at(service, 'spec', 'ports', 0, 'port'))}`,
  );
}

t.test(
  'the catalog example builds, opts in with the annotation alone, and is injected',
  async (t) => {
    const objects = await build('manifests/examples/catalog');
    checkSchemas(t, objects);
    const template = podTemplate(find(objects, 'Deployment', 'catalog'));
    t.same(
      at(template, 'metadata', 'labels'),
      { 'app.kubernetes.io/name': 'catalog' },
      'no secrets-agent.io/inject label',
    );
    t.same(
      at(template, 'metadata', 'annotations'),
      {
        'secrets-agent.io/inject': 'true',
        'secrets-agent.io/secret-catalog': 'eks-workshop-catalog-secret',
        'secrets-agent.io/extract-catalog': 'true',
        'secrets-agent.io/k8s-secret': 'catalog-external-secret',
        'secrets-agent.io/env-RETAIL_CATALOG_PERSISTENCE_USER': 'username',
        'secrets-agent.io/env-RETAIL_CATALOG_PERSISTENCE_PASSWORD': 'password',
      },
      'the catalog annotations',
    );
    checkRestricted(t, at(template, 'spec'), 'catalog');
    const role = find(objects, 'Role');
    t.same(
      at(role, 'rules'),
      [
        {
          apiGroups: [''],
          resources: ['secrets'],
          resourceNames: ['catalog-external-secret'],
          verbs: ['get', 'update'],
        },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ],
      'the agent may touch its one Secret, and post Events on its pod',
    );
    find(objects, 'Secret', 'catalog-external-secret');
    t.equal(
      at(find(objects, 'RoleBinding'), 'subjects', 0, 'name'),
      at(template, 'spec', 'serviceAccountName'),
    );
    // With EKS Pod Identity nothing in the example names an account; a placeholder role ARN
    // would make the pod identity webhook hand the pod a role it cannot assume.
    t.equal(at(find(objects, 'ServiceAccount', 'catalog'), 'metadata', 'annotations'), undefined);
    checkCatalogDatabase(t, objects, template);
    const result = admitTemplate(template, 'catalog');
    t.equal(result.outcome, 'injected', 'the injector injects it');
    // The Role's rights reach only the agent: the app has no token, the agent has its own.
    t.equal(at(template, 'spec', 'automountServiceAccountToken'), false);
    const pod = applyTo(
      { apiVersion: 'v1', kind: 'Pod', ...(template as object) } as Pod,
      patchOf(result),
    );
    const tokenPath = '/var/run/secrets/kubernetes.io/serviceaccount';
    const mountsToken = (c: Container): boolean =>
      (c.volumeMounts ?? []).some((m) => m.mountPath === tokenPath);
    const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
    t.same(
      all.filter(mountsToken).map((c) => c.name),
      ['secrets-agent'],
      'only the agent holds a Kubernetes API token',
    );
  },
);

t.test(
  'the Job example builds, opts in with the annotation alone, and uses init mode',
  async (t) => {
    const objects = await build('manifests/examples/job');
    checkSchemas(t, objects);
    const template = podTemplate(find(objects, 'Job'));
    t.equal(
      at(template, 'metadata', 'labels', 'secrets-agent.io/inject'),
      undefined,
      'no secrets-agent.io/inject label: the annotation alone opts in',
    );
    t.equal(at(template, 'metadata', 'labels', 'app.kubernetes.io/name'), 'nightly-report');
    t.equal(at(template, 'metadata', 'annotations', 'secrets-agent.io/inject'), 'true');
    t.equal(at(template, 'metadata', 'annotations', 'secrets-agent.io/mode'), 'init');
    t.equal(at(template, 'spec', 'restartPolicy'), 'Never');
    checkRestricted(t, at(template, 'spec'), 'job');
    t.equal(admitTemplate(template, 'reports').outcome, 'injected', 'the injector injects it');
    t.equal(
      at(find(objects, 'ServiceAccount'), 'metadata', 'annotations'),
      undefined,
      'no placeholder role ARN for the pod identity webhook to hand out',
    );
  },
);
