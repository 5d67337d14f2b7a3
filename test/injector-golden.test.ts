/**
 * Golden files of whole patches (every value kept) for every pod shape and annotation, plus the
 * invariants each patch must keep: it applies, the result is a valid Pod by the Kubernetes
 * schema, admitting the result again changes nothing, and the agent configs parse.
 * `UPDATE_GOLDEN=1 npx tap test/injector-golden.test.ts` rewrites the files; the files are then
 * checked again as data, whatever wrote them (see the end): a regenerated file is reviewed by the
 * same schema and invariants, so regenerating cannot bless a broken patch.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { checkAgentConfig } from '../common/config.ts';
import { ENGINES } from '../injector/annotations.ts';
import { admit, DEFAULT_INJECTOR_OPTIONS, reviewJson } from '../injector/admission.ts';
import type { InjectorOptions } from '../injector/admission.ts';
import type { Operation } from 'fast-json-patch';
import {
  AGENT_COMMAND,
  AGENT_NAMES,
  AGENT_NODE_OPTIONS,
  type Container,
  type Pod,
} from '../injector/types.ts';
import {
  agentConfigs,
  applyTo,
  loadPod,
  patchOf,
  podInvariantProblems,
  reviewFor,
  validatePod,
} from './injector-support.ts';

const GOLDEN = join(import.meta.dirname, 'golden', 'injector');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

interface Case {
  readonly name: string;
  readonly fixture: string;
  readonly options?: Partial<InjectorOptions>;
}

const CASES: readonly Case[] = [
  { name: 'minimal', fixture: 'minimal.yaml' },
  { name: 'init-mode', fixture: 'init-mode.yaml' },
  { name: 'non-native', fixture: 'non-native.yaml' },
  { name: 'non-native-by-option', fixture: 'minimal.yaml', options: { nativeSidecar: false } },
  {
    name: 'default-region-option',
    fixture: 'minimal.yaml',
    options: {
      defaultRegion: 'ap-southeast-2',
      image: 'registry.example.com/secrets-agent:latest',
    },
  },
  { name: 'existing-init', fixture: 'existing-init.yaml' },
  { name: 'several-containers', fixture: 'several-containers.yaml' },
  { name: 'containers-subset', fixture: 'containers-subset.yaml' },
  { name: 'job-non-native', fixture: 'job-non-native.yaml' },
  { name: 'job-native', fixture: 'job-native.yaml' },
  { name: 'irsa-webhook-first', fixture: 'irsa-webhook-first.yaml' },
  { name: 'pod-identity', fixture: 'pod-identity.yaml' },
  { name: 'role-arn', fixture: 'role-arn.yaml' },
  { name: 'role-arn-with-webhook', fixture: 'role-arn-with-webhook.yaml' },
  { name: 'env-vars', fixture: 'env-vars.yaml' },
  { name: 'automount-off', fixture: 'automount-off.yaml' },
  { name: 'all-annotations', fixture: 'all-annotations.yaml' },
  { name: 'run-as-container-user', fixture: 'run-as-container-user.yaml' },
  { name: 'local-api', fixture: 'local-api.yaml' },
  { name: 'not-opted-in', fixture: 'not-opted-in.yaml' },
  { name: 'opted-out', fixture: 'opted-out.yaml' },
];

function optionsFor(c: Case): InjectorOptions {
  return { ...DEFAULT_INJECTOR_OPTIONS, ...c.options };
}

function agents(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].filter((c) =>
    c.name.startsWith('secrets-agent'),
  );
}

function checkGolden(t: Test, name: string, actual: unknown): void {
  const file = join(GOLDEN, `${name}.json`);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (UPDATE) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
    t.pass(`wrote ${file}`);
    return;
  }
  t.same(
    JSON.parse(text),
    JSON.parse(readFileSync(file, 'utf8')),
    `matches golden/injector/${name}.json`,
  );
}

for (const c of CASES) {
  t.test(c.name, (t) => {
    const pod = loadPod(c.fixture);
    const options = optionsFor(c);
    const result = admit(reviewFor(pod), options);
    const patch = patchOf(result);
    checkGolden(t, c.name, {
      outcome: result.outcome,
      warnings: result.review.response.warnings ?? [],
      patch,
    });
    t.equal(result.review.response.allowed, true, 'allowed');
    t.equal(
      reviewJson(result.review),
      JSON.stringify(result.review),
      'the answer is written as JSON.stringify writes it',
    );
    if (result.outcome === 'skipped') {
      t.same(patch, [], 'a pod that did not opt in is untouched');
      t.end();
      return;
    }
    t.equal(result.outcome, 'injected');
    t.equal(result.review.response.patchType, 'JSONPatch');

    const injected = applyTo(pod, patch);
    t.doesNotThrow(
      () => validatePod(injected),
      'the patched pod is valid by the Kubernetes schema',
    );
    t.same(podInvariantProblems(injected), [], 'unique names, mounts of declared volumes');
    t.equal(injected.metadata?.annotations?.['secrets-agent.io/status'], 'injected');

    const again = admit(reviewFor(injected), options);
    t.equal(again.outcome, 'skipped', 're-admitting the injected pod is a no-op');
    t.equal(again.reason, 'already-injected');
    t.same(patchOf(again), [], 'empty patch on re-admission');

    const configs = agentConfigs(injected);
    t.ok(configs.length > 0, 'the agent is there');
    for (const config of configs)
      t.ok(checkAgentConfig(config, ENGINES).ok, 'the agent accepts its config');
    for (const agent of agents(injected)) checkRestricted(t, agent);
    t.end();
  });
}

function checkRestricted(t: Test, agent: Container): void {
  const sc = agent.securityContext;
  t.equal(sc?.runAsNonRoot, true, `${agent.name}: runAsNonRoot`);
  t.ok((sc?.runAsUser ?? 0) > 0, `${agent.name}: non-root uid`);
  t.equal(sc?.readOnlyRootFilesystem, true, `${agent.name}: read-only root filesystem`);
  t.equal(sc?.allowPrivilegeEscalation, false, `${agent.name}: no privilege escalation`);
  t.same(sc?.capabilities?.drop, ['ALL'], `${agent.name}: drops all capabilities`);
  t.same(sc?.seccompProfile, { type: 'RuntimeDefault' }, `${agent.name}: RuntimeDefault seccomp`);
  t.equal(agent.command, undefined, `${agent.name}: the image's entrypoint runs`);
  t.same(
    agent.args?.slice(0, 2),
    [AGENT_COMMAND, '--config-json'],
    `${agent.name}: args only, the agent command first, then the configuration`,
  );
  const runs = agent.name === AGENT_NAMES.init ? 'init' : 'sidecar';
  t.equal(
    agent.env?.find((e) => e.name === 'NODE_OPTIONS')?.value,
    AGENT_NODE_OPTIONS[runs],
    `${agent.name}: the NODE_OPTIONS of an agent that runs as ${runs}`,
  );
}

t.test('the schema check can fail: a broken pod is rejected', (t) => {
  const pod = loadPod('minimal.yaml');
  const injected = applyTo(pod, patchOf(admit(reviewFor(pod))));
  const broken = structuredClone(injected) as unknown as {
    spec: { initContainers: Record<string, unknown>[] };
  };
  const agent = broken.spec.initContainers[0];
  if (agent === undefined) throw new Error('no agent');
  agent['ports'] = [{ containerPort: 'not-a-number' }];
  t.throws(() => validatePod(broken as unknown as Pod), 'a string containerPort is rejected');
  delete agent['name'];
  t.throws(() => validatePod(broken as unknown as Pod), 'a nameless container is rejected');
  t.end();
});

t.test("docs/annotations.md states the agent containers' args and NODE_OPTIONS", (t) => {
  const docs = readFileSync(join(import.meta.dirname, '..', 'docs', 'annotations.md'), 'utf8');
  const flat = docs.replace(/\n\s*/g, ' ');
  t.ok(flat.includes(`\`args: [${AGENT_COMMAND}, --config-json, …]\``), 'the args');
  t.ok(flat.includes(`\`NODE_OPTIONS: ${AGENT_NODE_OPTIONS.sidecar}\``), "the sidecar's");
  t.equal(AGENT_NODE_OPTIONS.init, undefined);
  t.ok(flat.includes("the init container's sets none"), "the init container's");
  t.end();
});

interface Golden {
  readonly outcome: string;
  readonly warnings: readonly string[];
  readonly patch: Operation[];
}

/** Where a patch may write: our annotation, containers, init containers, volumes. */
const OWNED =
  /^\/(metadata\/annotations\/secrets-agent\.io~1[a-z-]+|spec\/(containers|initContainers|volumes)(\/.*)?)$/;

/** What of the original pod the patched one must keep, as problems (empty: all kept). */
function lostFromOriginal(pod: Pod, injected: Pod): string[] {
  const problems: string[] = [];
  const { containers, initContainers, volumes } = pod.spec;
  const rest = (spec: Pod['spec']): string =>
    JSON.stringify(
      Object.entries(spec).filter(
        ([key]) => !['containers', 'initContainers', 'volumes'].includes(key),
      ),
    );
  if (rest(pod.spec) !== rest(injected.spec)) problems.push('other spec fields');
  const { annotations } = pod.metadata ?? {};
  const after = injected.metadata?.annotations;
  const meta = (m: Pod['metadata']): string =>
    JSON.stringify(Object.entries(m ?? {}).filter(([key]) => key !== 'annotations'));
  if (meta(pod.metadata) !== meta(injected.metadata)) problems.push('metadata');
  for (const [key, value] of Object.entries(annotations ?? {}))
    if (after?.[key] !== value) problems.push(`annotation ${key}`);
  const byName = new Map(
    [...(injected.spec.initContainers ?? []), ...injected.spec.containers].map((c) => [c.name, c]),
  );
  for (const original of [...(initContainers ?? []), ...containers]) {
    const now = byName.get(original.name);
    if (now === undefined) {
      problems.push(`container ${original.name}`);
      continue;
    }
    // Its own fields as they were; env and mounts only added to, never changed or reordered.
    for (const [key, value] of Object.entries(original)) {
      const kept = (now as unknown as Record<string, unknown>)[key];
      const list = key === 'env' || key === 'volumeMounts';
      const same = list
        ? JSON.stringify((kept as unknown[]).slice(0, (value as unknown[]).length)) ===
          JSON.stringify(value)
        : JSON.stringify(kept) === JSON.stringify(value);
      if (!same) problems.push(`${original.name}.${key}`);
    }
  }
  const order = (list: readonly Container[] | undefined, names: Set<string>): string[] =>
    (list ?? []).map((c) => c.name).filter((n) => names.has(n));
  const originalInit = new Set((initContainers ?? []).map((c) => c.name));
  if (
    JSON.stringify(order(injected.spec.initContainers, originalInit)) !==
    JSON.stringify([...originalInit])
  )
    problems.push('the order of the init containers');
  const volumeNames = new Set((injected.spec.volumes ?? []).map((v) => v.name));
  for (const v of volumes ?? []) if (!volumeNames.has(v.name)) problems.push(`volume ${v.name}`);
  return problems;
}

t.test('the golden files as data: one per case, each patch valid on its own', (t) => {
  const files = readdirSync(GOLDEN)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
  t.same(files, CASES.map((c) => c.name).sort(), 'one golden file per case, none left over');
  for (const c of CASES) {
    const golden = JSON.parse(readFileSync(join(GOLDEN, `${c.name}.json`), 'utf8')) as Golden;
    const pod = loadPod(c.fixture);
    const optedIn = pod.metadata?.annotations?.['secrets-agent.io/inject'] === 'true';
    t.equal(golden.outcome, optedIn ? 'injected' : 'skipped', `${c.name}: the outcome`);
    if (!optedIn) {
      t.same(golden.patch, [], `${c.name}: no patch`);
      continue;
    }
    const outside = golden.patch.filter((op) => !OWNED.test(op.path)).map((op) => op.path);
    t.same(outside, [], `${c.name}: writes only our annotations, containers and volumes`);
    // fast-json-patch validates each operation against the document as it applies it.
    const injected = applyTo(pod, golden.patch);
    t.doesNotThrow(() => validatePod(injected), `${c.name}: a valid Pod by the Kubernetes schema`);
    t.same(podInvariantProblems(injected), [], `${c.name}: unique names, declared volumes`);
    t.same(lostFromOriginal(pod, injected), [], `${c.name}: everything of the pod kept`);
    t.equal(injected.metadata?.annotations?.['secrets-agent.io/status'], 'injected');
    const configs = agentConfigs(injected);
    t.ok(configs.length > 0, `${c.name}: an agent`);
    for (const config of configs)
      t.ok(checkAgentConfig(config, ENGINES).ok, `${c.name}: the agent accepts its config`);
    for (const agent of agents(injected)) checkRestricted(t, agent);
  }
  t.end();
});

t.test('the data checks can fail: a patch that loses a field of the app is caught', (t) => {
  const pod = loadPod('minimal.yaml');
  const golden = JSON.parse(readFileSync(join(GOLDEN, 'minimal.json'), 'utf8')) as Golden;
  const app = pod.spec.containers[0]?.name ?? '';
  const lossy = [...golden.patch, { op: 'remove', path: '/spec/containers/0/image' } as Operation];
  t.same(lostFromOriginal(pod, applyTo(pod, lossy)), [`${app}.image`]);
  const stray = { op: 'add', path: '/spec/hostNetwork', value: true } as Operation;
  t.notOk(OWNED.test(stray.path), 'a write outside what we own is flagged');
  t.end();
});
