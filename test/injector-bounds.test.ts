/**
 * What a pod author controls cannot slip past admission into a broken or weakened pod: system
 * mount paths, the agent's volume mounted by the app itself, a hand-set `status: injected`
 * with parts that are not the injector's, and names the API server would refuse later.
 */
import t from 'tap';
import { admit } from '../injector/admission.ts';
import { MAX_DENIAL_LENGTH } from '../injector/inject.ts';
import {
  annotationPath,
  formatProblem,
  MAX_PROBLEMS,
  type ProblemKind,
  type Problem,
} from '../injector/problems.ts';
import type { Container, Pod, Volume } from '../injector/types.ts';
import { applyTo, patchOf, reviewFor, validatePod } from './injector-support.ts';

const P = 'secrets-agent.io/';

function pod(
  extra: Record<string, string> = {},
  spec: { containers?: Container[]; initContainers?: Container[]; volumes?: Volume[] } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'shop',
      namespace: 'prod',
      annotations: {
        [`${P}inject`]: 'true',
        [`${P}secret-db`]: 'prod/db',
        ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`${P}${k}`, v])),
      },
    },
    spec: { containers: spec.containers ?? [{ name: 'app', image: 'app:1' }], ...spec },
  };
}

function problemsOf(p: Pod): readonly Problem[] {
  return admit(reviewFor(p)).problems ?? [];
}

/** The problems by kind and path: what a denial is about, whatever its words. */
function kindsOf(p: Pod): { kind: ProblemKind; path: Problem['path'] }[] {
  return problemsOf(p).map(({ kind, path }) => ({ kind, path }));
}

/** The denial's words, as the pod's author reads them. */
function rendered(p: Pod): string {
  return problemsOf(p).map(formatProblem).join('\n');
}

/** A problem of `kind` with the annotation `secrets-agent.io/<name>`. */
function problem(kind: ProblemKind, name: string): { kind: ProblemKind; path: Problem['path'] } {
  return { kind, path: annotationPath(name) };
}

t.test('mount paths the runtime owns, or that hide a system directory, are denied', (t) => {
  const denied: [string, ProblemKind][] = [
    ['/proc', 'forbidden'],
    ['/proc/self', 'forbidden'],
    ['/sys/fs', 'forbidden'],
    ['/dev', 'forbidden'],
    ['/dev/termination-log', 'forbidden'],
    ['/etc', 'forbidden'],
    ['/usr/', 'forbidden'],
    ['/a\u0000b', 'invalid'],
    ['/a\nb', 'invalid'],
    [`/${'a'.repeat(1100)}`, 'too-long'],
  ];
  for (const [path, kind] of denied) {
    const where = JSON.stringify(path).slice(0, 40);
    const problems = problemsOf(pod({ 'mount-path': path }));
    t.same(kindsOf(pod({ 'mount-path': path })), [problem(kind, 'mount-path')], where);
    t.equal(problems[0]?.badValue, path.slice(0, 100), `${where}: the value, shortened`);
    t.ok(rendered(pod({ 'mount-path': path })).length < 300, 'the value is quoted short');
  }
  for (const path of ['/etc/app/secrets', '/var/run/app-secrets', '/devices', '/secrets']) {
    t.same(problemsOf(pod({ 'mount-path': path })), [], `${path} is fine`);
  }
  t.end();
});

t.test("an app container that mounts the agent's volume itself is denied", (t) => {
  const writable: Container = {
    name: 'app',
    image: 'app:1',
    volumeMounts: [{ name: 'secrets-agent', mountPath: '/elsewhere' }],
  };
  t.same(kindsOf(pod({}, { containers: [writable] })), [problem('forbidden', 'inject')]);
  // Even read-only at the mount path: before injection, the mount is the injector's to add.
  const same: Container = {
    ...writable,
    volumeMounts: [{ name: 'secrets-agent', mountPath: '/secrets', readOnly: true }],
  };
  t.equal(problemsOf(pod({}, { containers: [same] })).length, 1);
  // A container outside `containers:` must not mount it either.
  const other: Container = { ...writable, name: 'proxy' };
  t.equal(
    problemsOf(pod({ containers: 'app' }, { containers: [{ name: 'app', image: 'a' }, other] }))
      .length,
    1,
  );
  t.end();
});

t.test('re-admitting an injected pod stays a no-op (its own mounts are the injector’s)', (t) => {
  const original = pod();
  const first = admit(reviewFor(original));
  t.equal(first.outcome, 'injected');
  const injected = applyTo(original, patchOf(first));
  const again = admit(reviewFor(injected));
  t.equal(again.outcome, 'skipped');
  t.equal(again.reason, 'already-injected');
  t.end();
});

t.test('a hand-set status: injected does not smuggle in foreign parts', (t) => {
  const marked = { status: 'injected' };
  const hostPath: Volume = { name: 'secrets-agent', hostPath: { path: '/' } };
  const foreign = [problem('forbidden', 'status')];
  t.same(kindsOf(pod(marked, { volumes: [hostPath] })), foreign, 'a hostPath volume');
  const token: Volume = { name: 'secrets-agent-token', secret: { secretName: 'x' } };
  t.same(kindsOf(pod(marked, { volumes: [token] })), foreign, 'a Secret for the token');
  const privileged: Container = {
    name: 'secrets-agent',
    image: 'evil',
    command: ['sh', '-c', 'cat /var/run/secrets/*'],
    restartPolicy: 'Always',
    securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } },
  };
  t.same(kindsOf(pod(marked, { initContainers: [privileged] })), foreign, 'a privileged agent');
  const root: Container = { name: 'secrets-agent-init', securityContext: { runAsUser: 0 } };
  t.same(kindsOf(pod(marked, { initContainers: [root] })), foreign, 'an agent run as root');
  t.end();
});

t.test('names the API server would refuse at write time are refused at admission', (t) => {
  for (const name of ['a..b', 'a.-b', '-a', 'a_b', 'A']) {
    t.same(
      problemsOf(pod({ 'k8s-secret': name })).map(({ kind, path, field, badValue }) => ({
        kind,
        path,
        field,
        badValue,
      })),
      [{ ...problem('invalid', 'k8s-secret'), field: ['k8sSecret', 'name'], badValue: name }],
      name,
    );
  }
  const ok = pod({ 'k8s-secret': 'app.secrets-1' });
  const result = admit(reviewFor(ok));
  t.equal(result.outcome, 'injected');
  t.doesNotThrow(() => validatePod(applyTo(ok, patchOf(result))));
  t.end();
});

t.test('refresh intervals past 24h, or absurdly long, are denied by the agent’s own rule', (t) => {
  const cases: [string, ProblemKind][] = [
    ['25h', 'invalid'],
    ['1000h', 'invalid'],
    [`${'9'.repeat(400)}h`, 'too-long'],
  ];
  for (const [value, kind] of cases) {
    const problems = problemsOf(pod({ 'refresh-interval': value }));
    t.same(kindsOf(pod({ 'refresh-interval': value })), [problem(kind, 'refresh-interval')]);
    t.same(problems[0]?.field, ['refreshInterval'], "the agent's own field");
    t.ok(
      rendered(pod({ 'refresh-interval': value })).length < 200,
      'the value is not echoed whole',
    );
  }
  t.end();
});

t.test("an app port equal to the agent's is denied: two listeners cannot share it", (t) => {
  const app: Container = {
    name: 'app',
    image: 'app:1',
    ports: [{ name: 'metrics', containerPort: 9102 }],
  };
  t.same(kindsOf(pod({}, { containers: [app] })), [problem('duplicate', 'inject')]);
  const init: Container = { name: 'setup', image: 'x', ports: [{ containerPort: 9102 }] };
  t.equal(problemsOf(pod({}, { initContainers: [init] })).length, 1, 'init containers too');
  t.end();
});

t.test('a denial stays short however many annotations are wrong, and counts them all', (t) => {
  const extra = Object.fromEntries(
    Array.from({ length: 700 }, (_, i) => [`bogus-${i}`, 'x'.repeat(300)]),
  );
  const result = admit(reviewFor(pod(extra)));
  t.equal(result.outcome, 'denied');
  t.equal(result.problems?.length, MAX_PROBLEMS + 1, 'the collector keeps MAX_PROBLEMS…');
  t.equal(result.problems?.at(-1)?.more, 700 - MAX_PROBLEMS, '…and counts the rest');
  const message = result.review.response.status?.message ?? '';
  t.ok(message.length <= MAX_DENIAL_LENGTH, `the message is ${message.length} characters`);
  t.match(message, /700 problems with secrets-agent\.io annotations: /);
  t.match(message, /; … and \d+ more$/);
  t.end();
});
