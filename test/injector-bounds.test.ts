/**
 * What a pod author controls cannot slip past admission into a broken or weakened pod: system
 * mount paths, the agent's volume mounted by the app itself, a hand-set `status: injected`
 * with parts that are not the injector's, and names the API server would refuse later.
 */
import t from 'tap';
import { admit } from '../injector/admission.ts';
import { MAX_DENIAL_LENGTH } from '../injector/inject.ts';
import { annotationOf, MAX_PROBLEMS } from '../injector/problems.ts';
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

function problemsOf(p: Pod): string[] {
  const result = admit(reviewFor(p));
  return (result.problems ?? []).map((x) => `${annotationOf(x)}: ${x.message}`);
}

t.test('mount paths the runtime owns, or that hide a system directory, are denied', (t) => {
  const denied: [string, RegExp][] = [
    ['/proc', /must not be \/proc or under it/],
    ['/proc/self', /must not be \/proc or under it/],
    ['/sys/fs', /must not be \/sys or under it/],
    ['/dev', /must not be \/dev or under it/],
    ['/dev/termination-log', /must not be \/dev or under it/],
    ['/etc', /must not be \/etc: the mount would hide the whole directory/],
    ['/usr/', /must not be \/usr/],
    ['/a\u0000b', /control characters/],
    ['/a\nb', /control characters/],
    [`/${'a'.repeat(1100)}`, /at most 1024 characters/],
  ];
  for (const [path, message] of denied) {
    const problems = problemsOf(pod({ 'mount-path': path }));
    t.equal(problems.length, 1, `${JSON.stringify(path).slice(0, 40)}: one problem`);
    t.match(problems[0], new RegExp(`^${P}mount-path: `));
    t.match(problems[0], message);
    t.ok((problems[0] ?? '').length < 300, 'the value is quoted short');
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
  t.match(problemsOf(pod({}, { containers: [writable] })), [
    /secrets-agent\.io\/inject: container "app" mounts volume "secrets-agent" itself/,
  ]);
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
  t.match(problemsOf(pod(marked, { volumes: [hostPath] })), [
    /secrets-agent\.io\/status: says injected, but volume "secrets-agent" is not the injector's \(it has hostPath\)/,
  ]);
  const token: Volume = { name: 'secrets-agent-token', secret: { secretName: 'x' } };
  t.match(problemsOf(pod(marked, { volumes: [token] })), [/volume "secrets-agent-token"/]);
  const privileged: Container = {
    name: 'secrets-agent',
    image: 'evil',
    command: ['sh', '-c', 'cat /var/run/secrets/*'],
    restartPolicy: 'Always',
    securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } },
  };
  const problems = problemsOf(pod(marked, { initContainers: [privileged] }));
  t.equal(problems.length, 1);
  t.match(
    problems[0],
    /container "secrets-agent" is not the injector's \(it sets command, securityContext\.privileged, securityContext\.capabilities\.add\)/,
  );
  const root: Container = { name: 'secrets-agent-init', securityContext: { runAsUser: 0 } };
  t.match(problemsOf(pod(marked, { initContainers: [root] })), [/a root user/]);
  t.end();
});

t.test('names the API server would refuse at write time are refused at admission', (t) => {
  for (const name of ['a..b', 'a.-b', '-a', 'a_b', 'A']) {
    t.match(
      problemsOf(pod({ 'k8s-secret': name })),
      [
        new RegExp(
          `^${P}k8s-secret: "${name.replace('.', '\\.')}" is not a valid Kubernetes Secret name`,
        ),
      ],
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
  for (const value of ['25h', '1000h', `${'9'.repeat(400)}h`]) {
    const problems = problemsOf(pod({ 'refresh-interval': value }));
    t.equal(problems.length, 1, value.slice(0, 10));
    t.match(problems[0], /^secrets-agent\.io\/refresh-interval: /);
    t.ok((problems[0] ?? '').length < 200, 'the value is not echoed whole');
  }
  t.end();
});

t.test("an app port equal to the agent's is denied: two listeners cannot share it", (t) => {
  const app: Container = {
    name: 'app',
    image: 'app:1',
    ports: [{ name: 'metrics', containerPort: 9102 }],
  };
  t.match(problemsOf(pod({}, { containers: [app] })), [
    /^secrets-agent\.io\/inject: container "app" already uses port 9102, the agent's health and metrics port/,
  ]);
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
