/**
 * Hostile and mistaken annotations, end to end through `admit`: each is a denial whose one
 * message lists the problem under the exact annotation key. (Every message of the parser on its
 * own: test/injector-annotations.test.ts; this file is the hardening list of issue #6.)
 *
 * A template that names a field the secret lacks can only fail at run time (the fields are not
 * known at admission): the agent's error names the secret and the option without the data, see
 * "missing field" in test/render.test.ts.
 */
import t from 'tap';
import { samePath, type ProblemKind } from '../common/field.ts';
import { annotationPath } from '../injector/problems.ts';
import { admit } from '../injector/admission.ts';
import { LIMITS } from '../common/config.ts';
import { MAX_VALUE_LENGTH } from '../injector/annotations.ts';

const MAX_TEMPLATE_LENGTH = LIMITS.templateLength;
import type { Pod } from '../injector/types.ts';
import { applyTo, patchOf, reviewFor, validatePod } from './injector-support.ts';

const P = 'secrets-agent.io/';

/** An app that mounts its own volumes and sets its own env vars. */
const POD: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'shop', namespace: 'prod' },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'app:1',
        env: [{ name: 'TOKEN', value: 'literal' }],
        volumeMounts: [
          { name: 'cache', mountPath: '/data/cache' },
          { name: 'config', mountPath: '/etc/config/', readOnly: true },
        ],
      },
    ],
    volumes: [
      { name: 'cache', emptyDir: {} },
      { name: 'config', configMap: { name: 'app-config' } },
    ],
  },
};

function podWith(annotations: Record<string, string>, pod: Pod = POD): Pod {
  return { ...pod, metadata: { ...pod.metadata, annotations } };
}

/** Opted in with one good secret, plus `extra` (keys without the prefix, `!` for a raw key). */
function annotated(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { [`${P}inject`]: 'true', [`${P}secret-db`]: 'prod/db' };
  for (const [k, v] of Object.entries(extra)) out[k.startsWith('!') ? k.slice(1) : `${P}${k}`] = v;
  return out;
}

interface Case {
  readonly name: string;
  readonly extra: Record<string, string>;
  /** The annotation the problem must name, without the prefix. */
  readonly key: string;
  readonly kind: ProblemKind;
}

const LONG = 'x'.repeat(MAX_VALUE_LENGTH + 1);

const CASES: readonly Case[] = [
  // File names: no traversal, no hidden files, no directories.
  {
    name: 'path traversal in the file name',
    extra: { 'secret-../../etc/passwd': 'x' },
    key: 'secret-../../etc/passwd',
    kind: 'invalid',
  },
  {
    name: '..',
    extra: { 'secret-..': 'x' },
    key: 'secret-..',
    kind: 'invalid',
  },
  {
    name: 'a hidden file',
    extra: { 'secret-.hidden': 'x' },
    key: 'secret-.hidden',
    kind: 'invalid',
  },
  {
    name: 'a directory',
    extra: { 'secret-dir/file': 'x' },
    key: 'secret-dir/file',
    kind: 'invalid',
  },
  {
    name: 'a trailing dot',
    extra: { 'secret-db.': 'x' },
    key: 'secret-db.',
    kind: 'invalid',
  },
  {
    name: 'an option for a traversal name',
    extra: { 'perms-../x': '0400' },
    key: 'perms-../x',
    kind: 'invalid',
  },
  // Mount paths: the app's own mounts, relative and dot segments.
  {
    name: 'mount-path on an app mount',
    extra: { 'mount-path': '/data/cache/' },
    key: 'mount-path',
    kind: 'duplicate',
  },
  {
    name: 'mount-path a parent of an app mount',
    extra: { 'mount-path': '/data' },
    key: 'mount-path',
    kind: 'duplicate',
  },
  {
    name: 'mount-path inside an app mount (a read-only ConfigMap)',
    extra: { 'mount-path': '/etc/config/secrets' },
    key: 'mount-path',
    kind: 'duplicate',
  },
  {
    name: 'mount-path relative',
    extra: { 'mount-path': 'secrets' },
    key: 'mount-path',
    kind: 'invalid',
  },
  {
    name: 'mount-path with ..',
    extra: { 'mount-path': '/secrets/../etc' },
    key: 'mount-path',
    kind: 'invalid',
  },
  { name: 'mount-path /', extra: { 'mount-path': '/' }, key: 'mount-path', kind: 'forbidden' },
  // Env vars.
  {
    name: 'env var the app already sets',
    extra: { 'k8s-secret': 'app-secrets', 'env-TOKEN': 'token' },
    key: 'env-TOKEN',
    kind: 'duplicate',
  },
  {
    name: 'env- without k8s-secret',
    extra: { 'env-DB_USER': 'username' },
    key: 'env-DB_USER',
    kind: 'forbidden',
  },
  {
    name: 'env- with an invalid variable name',
    extra: { 'k8s-secret': 's', 'env-DB-USER': 'username' },
    key: 'env-DB-USER',
    kind: 'invalid',
  },
  // Per-secret options.
  {
    name: 'invalid JMESPath',
    extra: { 'key-db': 'users[?name == ' },
    key: 'key-db',
    kind: 'invalid',
  },
  {
    name: 'invalid template syntax',
    extra: { 'template-db': '{{#if user}}' },
    key: 'template-db',
    kind: 'invalid',
  },
  {
    name: 'a template calling an unknown helper (the agent would refuse it)',
    extra: { 'template-db': '{{shout user}}' },
    key: 'template-db',
    kind: 'invalid',
  },
  {
    name: 'a template calling log (it would print the data)',
    extra: { 'template-db': '{{log password}}' },
    key: 'template-db',
    kind: 'invalid',
  },
  {
    name: 'template and key together',
    extra: { 'template-db': '{{ user }}', 'key-db': 'user' },
    key: 'template-db',
    kind: 'forbidden',
  },
  {
    name: 'template with a format',
    extra: { 'template-db': '{{ user }}', 'format-db': 'yaml' },
    key: 'format-db',
    kind: 'forbidden',
  },
  {
    name: 'invalid format',
    extra: { 'format-db': 'xml' },
    key: 'format-db',
    kind: 'not-supported',
  },
  { name: 'perms not octal', extra: { 'perms-db': '0999' }, key: 'perms-db', kind: 'invalid' },
  { name: 'perms symbolic', extra: { 'perms-db': 'rw-r--r--' }, key: 'perms-db', kind: 'invalid' },
  {
    name: 'perms nobody can read',
    extra: { 'perms-db': '0200' },
    key: 'perms-db',
    kind: 'invalid',
  },
  {
    name: 'extract- without k8s-secret',
    extra: { 'extract-db': 'true' },
    key: 'extract-db',
    kind: 'forbidden',
  },
  {
    name: 'an option for a secret nobody names',
    extra: { 'key-dv': 'password' },
    key: 'key-dv',
    kind: 'required',
  },
  // Pod-level values.
  {
    name: 'a duration in words',
    extra: { 'refresh-interval': '5 minutes' },
    key: 'refresh-interval',
    kind: 'invalid',
  },
  {
    name: 'a negative duration',
    extra: { 'refresh-interval': '-5m' },
    key: 'refresh-interval',
    kind: 'invalid',
  },
  {
    name: 'a refresh interval below the minimum',
    extra: { 'refresh-interval': '500ms' },
    key: 'refresh-interval',
    kind: 'invalid',
  },
  {
    name: 'a role name instead of an ARN',
    extra: { 'role-arn': 'my-app-role' },
    key: 'role-arn',
    kind: 'invalid',
  },
  {
    name: 'a user ARN',
    extra: { 'role-arn': 'arn:aws:iam::111122223333:user/bob' },
    key: 'role-arn',
    kind: 'invalid',
  },
  { name: 'a region name', extra: { region: 'N. Virginia' }, key: 'region', kind: 'invalid' },
  {
    name: 'failover to the same region',
    extra: { region: 'us-east-1', 'failover-region': 'us-east-1' },
    key: 'failover-region',
    kind: 'duplicate',
  },
  {
    name: 'a Secret name with upper case',
    extra: { 'k8s-secret': 'App_Secrets' },
    key: 'k8s-secret',
    kind: 'invalid',
  },
  // Keys.
  {
    name: 'an unknown key close to a known one',
    extra: { 'refresh-intreval': '1m' },
    key: 'refresh-intreval',
    kind: 'unknown',
  },
  {
    name: 'a typo in a per-secret key',
    extra: { 'secrte-db': 'prod/db' },
    key: 'secrte-db',
    kind: 'unknown',
  },
  { name: 'a bare prefix', extra: { secret: 'x' }, key: 'secret', kind: 'unknown' },
  // Oversized values: refused before any parser, without quoting them back.
  {
    name: 'an oversized mount path',
    extra: { 'mount-path': `/${LONG}` },
    key: 'mount-path',
    kind: 'too-long',
  },
  {
    name: 'an oversized JMESPath',
    extra: { 'key-db': LONG },
    key: 'key-db',
    kind: 'too-long',
  },
  {
    name: 'an oversized reload URL',
    extra: { 'reload-url': `http://127.0.0.1/${LONG} ` },
    key: 'reload-url',
    kind: 'too-long',
  },
  {
    name: 'an oversized template',
    extra: { 'template-db': '{{ a }}'.repeat(MAX_TEMPLATE_LENGTH / 7 + 1) },
    key: 'template-db',
    kind: 'too-long',
  },
  {
    name: 'an oversized secret id',
    extra: { 'secret-db': LONG },
    key: 'secret-db',
    kind: 'too-long',
  },
];

for (const c of CASES) {
  t.test(c.name, (t) => {
    const result = admit(reviewFor(podWith(annotated(c.extra))));
    const key = `${P}${c.key}`;
    t.equal(result.outcome, 'denied', 'denied');
    t.equal(result.review.response.allowed, false);
    t.equal(result.review.response.status?.code, 400);
    t.equal(result.review.response.patch, undefined, 'nothing half-injected');
    const mine = (result.problems ?? []).filter((p) => samePath(p.path, annotationPath(c.key)));
    t.equal(mine.length, 1, `one problem names ${key}: ${JSON.stringify(result.problems)}`);
    t.equal(mine[0]?.kind, c.kind, 'says what is wrong');
    const message = result.review.response.status?.message ?? '';
    t.ok(message.includes(`${key}: ${mine[0]?.message ?? '?'}`), 'the denial lists it by key');
    t.ok(message.length < 2_000, `a denial stays short (${message.length} characters)`);
    t.end();
  });
}

t.test('one denial lists every problem, each under its key', (t) => {
  const result = admit(
    reviewFor(
      podWith(
        annotated({
          'secret-../x': 'a',
          'mount-path': '/data',
          'key-db': 'a[',
          'refresh-interval': '1s',
          'env-X': 'y',
          frobnicate: 'z',
        }),
      ),
    ),
  );
  const message = result.review.response.status?.message ?? '';
  t.match(message, /^pod prod\/shop: 6 problems with secrets-agent\.io annotations: /);
  for (const key of [
    'secret-../x',
    'mount-path',
    'key-db',
    'refresh-interval',
    'env-X',
    'frobnicate',
  ])
    t.ok(message.includes(`${P}${key}: `), key);
  t.end();
});

t.test('names that differ only in case are two files (annotation keys are case-sensitive)', (t) => {
  const pod = podWith(annotated({ 'secret-DB': 'prod/other', 'perms-DB': '0400' }));
  const result = admit(reviewFor(pod));
  t.equal(result.outcome, 'injected');
  const injected = applyTo(pod, patchOf(result));
  t.doesNotThrow(() => validatePod(injected));
  const args = injected.spec.initContainers?.[0]?.args ?? [];
  const config = JSON.parse(args[args.indexOf('--config-json') + 1] ?? '{}') as {
    secrets: { name: string; id: string }[];
  };
  t.same(
    config.secrets.map((s) => [s.name, s.id]),
    [
      ['DB', 'prod/other'],
      ['db', 'prod/db'],
    ],
  );
  t.end();
});

t.test('a pod marked injected by hand with the init name on a regular container', (t) => {
  const pod = podWith(annotated({ status: 'injected' }), {
    ...POD,
    spec: { ...POD.spec, containers: [...POD.spec.containers, { name: 'secrets-agent-init' }] },
  });
  const result = admit(reviewFor(pod));
  t.equal(result.outcome, 'denied');
  t.match(result.problems, [{ kind: 'forbidden', path: annotationPath('status') }]);
  t.end();
});

t.test('a pod that did not opt in is never denied, whatever its annotations', (t) => {
  const bad = annotated(Object.fromEntries(CASES.flatMap((c) => Object.entries(c.extra))));
  for (const inject of [undefined, 'false']) {
    const others = Object.entries(bad).filter(([k]) => k !== `${P}inject`);
    const annotations = Object.fromEntries(
      inject === undefined ? others : [...others, [`${P}inject`, inject]],
    );
    const result = admit(reviewFor(podWith(annotations)));
    t.equal(result.outcome, 'skipped');
    t.same(result.review.response, { uid: result.review.response.uid, allowed: true });
  }
  t.end();
});

t.test('an oversized value costs no time (no parser runs on it)', (t) => {
  // Within Kubernetes' 256 KiB for all annotations (past it, the pod is refused whole: 400).
  const huge = `http://127.0.0.1/${'a'.repeat(100_000)} `;
  const started = performance.now();
  const result = admit(reviewFor(podWith(annotated({ 'reload-url': huge, 'template-db': huge }))));
  t.equal(result.outcome, 'denied');
  t.ok(performance.now() - started < 500, 'answered quickly');
  t.ok((result.review.response.status?.message ?? '').length < 1_000, 'the value is not echoed');
  t.end();
});
