/**
 * Every annotation, its default, and every problem message, each naming its annotation; the
 * "did you mean" suggestions; and a property: any annotation set gives a plan or a denial,
 * never a throw (and a plan always makes a valid pod with a valid agent config).
 */
import fc from 'fast-check';
import t from 'tap';
import { samePath, type FieldPath, type ProblemKind } from '../common/field.ts';
import { annotationOf, annotationPath } from '../injector/problems.ts';
import { checkAgentConfig } from '../common/config.ts';
import { admit } from '../injector/admission.ts';
import { parseAnnotations, quantityValue, ENGINES } from '../injector/annotations.ts';
import { editDistance, suggestKey } from '../injector/suggest.ts';
import type { OptedIn, Problem } from '../injector/annotations.ts';
import { agentResources, buildPlan, DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import type { Pod } from '../injector/types.ts';
import {
  agentConfigs,
  applyTo,
  patchOf,
  podInvariantProblems,
  reviewFor,
  validatePod,
} from './injector-support.ts';

const P = 'secrets-agent.io/';

function ann(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { [`${P}inject`]: 'true', [`${P}secret-db`]: 'prod/db' };
  for (const [k, v] of Object.entries(extra)) out[k.startsWith('!') ? k.slice(1) : `${P}${k}`] = v;
  return out;
}

function optedIn(extra: Record<string, string>, pod?: Pod): OptedIn {
  const result = parseAnnotations(ann(extra), pod);
  if (!result.ok) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
  if (!result.value.inject) throw new Error('not opted in');
  return result.value;
}

function problems(annotations: Record<string, string>, pod?: Pod): readonly Problem[] {
  const result = parseAnnotations(annotations, pod);
  return result.ok ? [] : result.problems;
}

const POD: Pod = {
  metadata: { name: 'p' },
  spec: {
    initContainers: [{ name: 'setup', image: 'x' }],
    containers: [
      {
        name: 'app',
        image: 'x',
        volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
        env: [{ name: 'TOKEN', value: 'literal' }],
      },
      { name: 'proxy', image: 'y' },
    ],
    volumes: [{ name: 'cache', emptyDir: {} }],
  },
};

t.test('pods that did not opt in are never looked at', (t) => {
  const garbage = {
    [`${P}mode`]: 'x',
    [`${P}secrte-db`]: 'y',
    [`${P}refresh-interval`]: '1ms',
    [`${P}containers`]: '',
  };
  t.same(parseAnnotations(undefined), { ok: true, value: { inject: false } });
  t.same(parseAnnotations({}), { ok: true, value: { inject: false } });
  t.same(parseAnnotations(garbage, POD), { ok: true, value: { inject: false } });
  t.same(parseAnnotations({ ...garbage, [`${P}inject`]: 'false' }, POD), {
    ok: true,
    value: { inject: false },
  });
  t.end();
});

t.test('defaults (never written back into the annotations)', (t) => {
  const parsed = optedIn({});
  t.same(parsed, {
    inject: true,
    injected: false,
    mode: 'sidecar',
    mountPath: '/secrets',
    resources: {},
    config: { secrets: [{ name: 'db', id: 'prod/db' }] },
    env: [],
    warnings: [],
  });
  const plan = buildPlan(POD, parsed, DEFAULT_INJECTOR_OPTIONS);
  t.equal(plan.layout, 'native');
  t.same(plan.targets, ['setup', 'app', 'proxy'], 'all containers and init containers');
  t.equal(plan.runAsUser, 65532);
  t.equal(plan.runAsGroup, 65532);
  t.same(plan.resources, { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } });
  t.same(plan.config, {
    mode: 'sidecar',
    outputDir: '/secrets',
    refreshInterval: '5m',
    httpPort: 9102,
    secrets: [{ name: 'db', id: 'prod/db' }],
  });
  t.end();
});

t.test('every pod-level annotation', (t) => {
  const cases: [
    Record<string, string>,
    Partial<Omit<OptedIn, 'config'>> & { config?: Partial<OptedIn['config']> },
  ][] = [
    [{ mode: 'init' }, { mode: 'init' }],
    [{ mode: 'sidecar' }, { mode: 'sidecar' }],
    [{ 'native-sidecar': 'false' }, { nativeSidecar: false }],
    [{ 'native-sidecar': 'true' }, { nativeSidecar: true }],
    [{ 'mount-path': '/etc/secrets/' }, { mountPath: '/etc/secrets' }],
    [{ containers: ' app ,setup,app' }, { containers: ['app', 'setup'] }],
    [{ 'refresh-interval': '1h30m' }, { config: { refreshInterval: '1h30m' } }],
    [{ 'refresh-interval': '5s' }, { config: { refreshInterval: '5s' } }],
    [{ 'refresh-interval': '24h' }, { config: { refreshInterval: '24h' } }],
    [{ region: 'eu-west-1' }, { config: { region: 'eu-west-1' } }],
    [
      { region: 'us-gov-west-1', 'failover-region': 'us-gov-east-1' },
      { config: { region: 'us-gov-west-1', failoverRegion: 'us-gov-east-1' } },
    ],
    [
      { 'role-arn': 'arn:aws-cn:iam::111122223333:role/path/app' },
      { roleArn: 'arn:aws-cn:iam::111122223333:role/path/app' },
    ],
    [
      { 'k8s-secret': 'app-secrets' },
      { k8sSecret: 'app-secrets', config: { k8sSecret: { name: 'app-secrets' } } },
    ],
    [
      { 'reload-url': 'http://127.0.0.1:8080/-/reload' },
      { config: { reloadUrl: 'http://127.0.0.1:8080/-/reload' } },
    ],
    [
      { 'agent-cpu-request': '0.05', 'agent-memory-limit': '1Gi' },
      { resources: { 'agent-cpu-request': '0.05', 'agent-memory-limit': '1Gi' } },
    ],
    [
      { 'run-as-user': '1000', 'run-as-group': '2000' },
      { runAsUser: 1000, runAsGroup: 2000 },
    ],
    [{ status: 'injected' }, { injected: true }],
  ];
  for (const [extra, expected] of cases) {
    t.match(optedIn(extra, POD), expected, JSON.stringify(extra));
  }
  t.end();
});

t.test('every per-secret annotation and env var', (t) => {
  const parsed = optedIn({
    'key-db': 'password',
    'format-db': 'json',
    'version-stage-db': 'AWSPREVIOUS',
    'version-id-db': 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
    'perms-db': '400',
    'secret-tpl': 'prod/db',
    'template-tpl': 'u={{ username }}',
    'extract-tpl': 'true',
    'format-tpl': 'raw',
    'k8s-secret': 'copy',
    'env-DB_USER': 'username',
    'env-_x1': 'tpl',
  });
  t.same(parsed.config.secrets, [
    {
      name: 'db',
      id: 'prod/db',
      key: 'password',
      format: 'json',
      versionStage: 'AWSPREVIOUS',
      versionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
      mode: '400',
    },
    { name: 'tpl', id: 'prod/db', template: 'u={{ username }}', extract: true, format: 'raw' },
  ]);
  t.same(parsed.env, [
    { name: 'DB_USER', key: 'username' },
    { name: '_x1', key: 'tpl' },
  ]);
  t.end();
});

/** What a problem must be: its kind, and for a problem of the agent's schema the field. */
interface Want {
  readonly kind: ProblemKind;
  readonly field?: FieldPath;
}

t.test('every problem names its annotation, with its kind and the field it is about', (t) => {
  const cases: [Record<string, string>, string, Want][] = [
    [{ '!secrets-agent.io/inject': 'yes' }, 'inject', { kind: 'invalid' }],
    [{ mode: 'daemon' }, 'mode', { kind: 'not-supported', field: ['mode'] }],
    [{ 'native-sidecar': 'True' }, 'native-sidecar', { kind: 'invalid' }],
    [{ 'mount-path': 'secrets' }, 'mount-path', { kind: 'invalid' }],
    [{ 'mount-path': '/' }, 'mount-path', { kind: 'forbidden' }],
    [{ 'mount-path': '/a/../etc' }, 'mount-path', { kind: 'invalid' }],
    [{ 'mount-path': '/a b' }, 'mount-path', { kind: 'invalid' }],
    [{ containers: ' , ' }, 'containers', { kind: 'required' }],
    [
      { 'refresh-interval': '5 minutes' },
      'refresh-interval',
      { kind: 'invalid', field: ['refreshInterval'] },
    ],
    [
      { 'refresh-interval': '4s' },
      'refresh-interval',
      { kind: 'invalid', field: ['refreshInterval'] },
    ],
    [{ region: 'Europe' }, 'region', { kind: 'invalid', field: ['region'] }],
    [
      { 'failover-region': 'west' },
      'failover-region',
      { kind: 'invalid', field: ['failoverRegion'] },
    ],
    [
      { region: 'us-east-1', 'failover-region': 'us-east-1' },
      'failover-region',
      { kind: 'duplicate', field: ['failoverRegion'] },
    ],
    [{ 'role-arn': 'app-role' }, 'role-arn', { kind: 'invalid' }],
    [{ 'k8s-secret': 'Bad_Name' }, 'k8s-secret', { kind: 'invalid', field: ['k8sSecret', 'name'] }],
    [{ 'reload-url': 'localhost:8080' }, 'reload-url', { kind: 'invalid', field: ['reloadUrl'] }],
    [
      { 'reload-url': 'http://10.0.0.5:8080/-/reload' },
      'reload-url',
      { kind: 'invalid', field: ['reloadUrl'] },
    ],
    [{ 'agent-cpu-request': 'lots' }, 'agent-cpu-request', { kind: 'invalid' }],
    [{ 'agent-memory-request': '-1Mi' }, 'agent-memory-request', { kind: 'invalid' }],
    [{ 'agent-cpu-limit': '1 core' }, 'agent-cpu-limit', { kind: 'invalid' }],
    [{ 'agent-memory-limit': '64MB' }, 'agent-memory-limit', { kind: 'invalid' }],
    [
      { 'agent-memory-request': '128Mi', 'agent-memory-limit': '64Mi' },
      'agent-memory-request',
      { kind: 'invalid' },
    ],
    [{ 'run-as-user': '0' }, 'run-as-user', { kind: 'invalid' }],
    [{ 'run-as-group': 'nobody' }, 'run-as-group', { kind: 'invalid' }],
    [{ 'run-as-user': '99999999999' }, 'run-as-user', { kind: 'invalid' }],
    [{ 'secret-api': '' }, 'secret-api', { kind: 'invalid', field: ['secrets', 0, 'id'] }],
    [{ 'secret-api': 'has space' }, 'secret-api', { kind: 'invalid', field: ['secrets', 0, 'id'] }],
    [
      { 'secret-.hidden': 'x' },
      'secret-.hidden',
      { kind: 'invalid', field: ['secrets', 0, 'name'] },
    ],
    [{ 'secret-a/b': 'x' }, 'secret-a/b', { kind: 'invalid' }],
    [{ [`secret-${'n'.repeat(60)}`]: 'x' }, `secret-${'n'.repeat(60)}`, { kind: 'invalid' }],
    [{ 'key-db': 'a[' }, 'key-db', { kind: 'invalid', field: ['secrets', 0, 'key'] }],
    [
      { 'template-db': '{{ unclosed' },
      'template-db',
      { kind: 'invalid', field: ['secrets', 0, 'template'] },
    ],
    [
      { 'key-db': 'a', 'template-db': '{{ a }}' },
      'template-db',
      { kind: 'forbidden', field: ['secrets', 0, 'template'] },
    ],
    [
      { 'template-db': '{{ a }}', 'format-db': 'json' },
      'format-db',
      { kind: 'forbidden', field: ['secrets', 0, 'format'] },
    ],
    [
      { 'format-db': 'xml' },
      'format-db',
      { kind: 'not-supported', field: ['secrets', 0, 'format'] },
    ],
    [
      { 'version-stage-db': 'has space' },
      'version-stage-db',
      { kind: 'invalid', field: ['secrets', 0, 'versionStage'] },
    ],
    [
      { 'version-id-db': 'v1' },
      'version-id-db',
      { kind: 'invalid', field: ['secrets', 0, 'versionId'] },
    ],
    [{ 'perms-db': '0999' }, 'perms-db', { kind: 'invalid', field: ['secrets', 0, 'mode'] }],
    [{ 'perms-db': '0200' }, 'perms-db', { kind: 'invalid', field: ['secrets', 0, 'mode'] }],
    [{ 'extract-db': 'yes' }, 'extract-db', { kind: 'invalid' }],
    [
      { 'extract-db': 'true' },
      'extract-db',
      { kind: 'forbidden', field: ['secrets', 0, 'extract'] },
    ],
    [{ 'env-DB_PASSWORD': 'password' }, 'env-DB_PASSWORD', { kind: 'forbidden' }],
    [{ 'k8s-secret': 's', 'env-1BAD': 'password' }, 'env-1BAD', { kind: 'invalid' }],
    [{ 'k8s-secret': 's', 'env-BAD-NAME': 'password' }, 'env-BAD-NAME', { kind: 'invalid' }],
    [{ 'k8s-secret': 's', 'env-OK': 'a key' }, 'env-OK', { kind: 'invalid' }],
    [{ 'key-dbb': 'password' }, 'key-dbb', { kind: 'required' }],
    [{ 'perms-other': '0400' }, 'perms-other', { kind: 'required' }],
    [{ 'refresh-intervall': '1m' }, 'refresh-intervall', { kind: 'unknown' }],
    [{ 'secret-': 'x' }, 'secret-', { kind: 'required' }],
    [{ 'version-stage': 'x' }, 'version-stage', { kind: 'unknown' }],
    [{ frobnicate: 'x' }, 'frobnicate', { kind: 'unknown' }],
  ];
  for (const [extra, key, want] of cases) {
    const found = problems(ann(extra));
    const mine = found.filter((p) => samePath(p.path, annotationPath(key)));
    t.equal(mine.length, 1, `${key}: exactly one problem (got ${JSON.stringify(found)})`);
    t.equal(mine[0]?.kind, want.kind, `${key}: kind`);
    t.same(mine[0]?.field, want.field, `${key}: field`);
    for (const p of found)
      t.ok(annotationOf(p).startsWith(P), `every problem names an annotation: ${annotationOf(p)}`);
  }
  t.end();
});

t.test('opting in without a secret is a problem', (t) => {
  t.match(problems({ [`${P}inject`]: 'true' }), [
    { kind: 'required', path: annotationPath('inject'), field: ['secrets'] },
  ]);
  t.end();
});

t.test('the wording a denial carries: values quoted, fields named as annotations', (t) => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ mode: 'daemon' }, 'mode', /^must be one of init, sidecar; got "daemon"$/],
    [
      { 'refresh-interval': '4s' },
      'refresh-interval',
      /^must be from 5s to 24h \(every refresh is a paid AWS call\); got "4s"$/,
    ],
    [
      { 'key-db': 'a', 'template-db': '{{ a }}' },
      'template-db',
      /^cannot be combined with secrets-agent\.io\/key-db: a template already selects fields$/,
    ],
    [
      { 'key-dbb': 'password' },
      'key-dbb',
      /^no secrets-agent\.io\/secret-dbb names the secret "dbb"; did you mean "db"\?$/,
    ],
    [
      { 'refresh-intervall': '1m' },
      'refresh-intervall',
      /^unknown annotation; did you mean secrets-agent\.io\/refresh-interval\?$/,
    ],
    [{ frobnicate: 'x' }, 'frobnicate', /^unknown annotation \(see docs\/annotations\.md\)$/],
    [
      { 'secret-': 'x' },
      'secret-',
      /^needs a name after "secret-", as in secrets-agent\.io\/secret-db$/,
    ],
  ];
  for (const [extra, key, message] of cases) {
    const mine = problems(ann(extra)).filter((p) => samePath(p.path, annotationPath(key)));
    t.match(mine, [{ message }], key);
  }
  t.end();
});

t.test('problems found against the pod', (t) => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [
      { containers: 'app,nope,setup,gone' },
      'containers',
      /no container or init container named "nope", "gone" \(the pod has: setup, app, proxy\)/,
    ],
    [
      { 'mount-path': '/cache/' },
      'mount-path',
      /container "app" already mounts volume "cache" at \/cache; choose another path/,
    ],
    [
      { 'k8s-secret': 's', 'env-TOKEN': 'token' },
      'env-TOKEN',
      /container "app" already sets TOKEN; remove one of the two/,
    ],
  ];
  for (const [extra, key, message] of cases) {
    t.match(problems(ann(extra), POD), [{ path: annotationPath(key), message }], key);
  }
  t.same(
    problems(ann({ 'mount-path': '/cache', containers: 'proxy' }), POD),
    [],
    'only the target containers count',
  );
  const taken: Pod = {
    spec: { containers: [{ name: 'secrets-agent' }], volumes: [{ name: 'secrets-agent' }] },
  };
  t.match(problems(ann({}), taken), [
    { kind: 'duplicate', path: annotationPath('inject'), message: /a container named/ },
    { kind: 'duplicate', path: annotationPath('inject'), message: /a volume named/ },
  ]);
  t.same(
    problems(ann({ status: 'injected' }), taken),
    [],
    'after injection those names are the injector’s own',
  );
  t.end();
});

t.test('init mode warns about settings it ignores', (t) => {
  const parsed = optedIn({
    mode: 'init',
    'refresh-interval': '1m',
    'reload-url': 'http://127.0.0.1/r',
  });
  t.same(parsed.warnings, [
    'secrets-agent.io/refresh-interval has no effect in init mode (secrets are fetched once)',
    'secrets-agent.io/reload-url has no effect in init mode (secrets are fetched once)',
  ]);
  t.end();
});

t.test('did you mean', (t) => {
  const cases: [string, string | undefined][] = [
    ['secrets-db', 'secret-db'],
    ['secrte-db', 'secret-db'],
    ['injet', 'inject'],
    ['mountpath', 'mount-path'],
    ['run-as-usr', 'run-as-user'],
    ['k8s-secrets', 'k8s-secret'],
    ['format_db', undefined],
    ['verison-stage-db', 'version-stage-db'],
    ['evn-FOO', 'env-FOO'],
    ['completely-unrelated', undefined],
  ];
  for (const [typo, expected] of cases) t.equal(suggestKey(typo), expected, typo);
  t.equal(editDistance('kitten', 'sitting'), 3);
  t.equal(editDistance('', 'abc'), 3);
  t.end();
});

t.test('resources: quantities and request/limit pairs', (t) => {
  t.equal(quantityValue('64Mi'), 64 * 1024 * 1024);
  t.equal(quantityValue('100m'), 0.1);
  t.equal(quantityValue('1.5'), 1.5);
  t.equal(quantityValue('1e3'), 1000);
  t.equal(quantityValue('2k'), 2000);
  const defaults = DEFAULT_INJECTOR_OPTIONS.resources;
  t.same(
    agentResources({ 'agent-memory-limit': '16Mi' }, defaults),
    { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '16Mi' } },
    'a low limit lowers the default request',
  );
  t.same(
    agentResources({ 'agent-memory-request': '256Mi' }, defaults),
    { requests: { cpu: '10m', memory: '256Mi' }, limits: { memory: '256Mi' } },
    'a high request raises the default limit',
  );
  t.same(agentResources({ 'agent-cpu-limit': '5m' }, defaults), {
    requests: { cpu: '5m', memory: '32Mi' },
    limits: { memory: '64Mi', cpu: '5m' },
  });
  t.end();
});

t.test('the agent user: annotation, else the app’s declared user, else 65532', (t) => {
  const pod = (podUser?: number, users: (number | undefined)[] = [undefined]): Pod => ({
    spec: {
      ...(podUser === undefined ? {} : { securityContext: { runAsUser: podUser } }),
      containers: users.map((u, i) => ({
        name: `c${i}`,
        ...(u === undefined ? {} : { securityContext: { runAsUser: u } }),
      })),
    },
  });
  const uid = (p: Pod, extra: Record<string, string> = {}): number =>
    buildPlan(p, optedIn(extra), DEFAULT_INJECTOR_OPTIONS).runAsUser;
  t.equal(uid(pod()), 65532, 'nothing declared');
  t.equal(uid(pod(1000)), 1000, 'the pod’s runAsUser');
  t.equal(uid(pod(undefined, [1001, 1001])), 1001, 'the one uid every target container declares');
  t.equal(uid(pod(1000, [2000, undefined])), 1000, 'targets disagree: the pod’s');
  t.equal(uid(pod(undefined, [2000, 3000])), 65532, 'targets disagree, no pod uid');
  t.equal(uid(pod(0)), 65532, 'root never counts');
  t.equal(uid(pod(1000), { 'run-as-user': '42' }), 42, 'the annotation wins');
  t.equal(
    uid(pod(undefined, [1001, 2002]), { containers: 'c1' }),
    2002,
    'only the target containers count',
  );
  t.end();
});

t.test(
  'region: annotation, else the pod’s AWS_REGION / AWS_DEFAULT_REGION, else the injector default',
  (t) => {
    const withEnv = (env: { name: string; value: string }[]): Pod => ({
      spec: { containers: [{ name: 'a', env }] },
    });
    const region = (
      p: Pod,
      extra: Record<string, string> = {},
      defaultRegion?: string,
    ): string | undefined =>
      buildPlan(p, optedIn(extra), {
        ...DEFAULT_INJECTOR_OPTIONS,
        ...(defaultRegion === undefined ? {} : { defaultRegion }),
      }).config.region;
    t.equal(region(withEnv([]), {}, undefined), undefined, 'none: the SDK chain decides');
    t.equal(region(withEnv([]), {}, 'eu-north-1'), 'eu-north-1');
    t.equal(
      region(withEnv([{ name: 'AWS_DEFAULT_REGION', value: 'eu-west-2' }]), {}, 'eu-north-1'),
      'eu-west-2',
    );
    t.equal(
      region(
        withEnv([
          { name: 'AWS_DEFAULT_REGION', value: 'eu-west-2' },
          { name: 'AWS_REGION', value: 'eu-west-3' },
        ]),
      ),
      'eu-west-3',
    );
    t.equal(
      region(withEnv([{ name: 'AWS_REGION', value: 'eu-west-3' }]), { region: 'us-east-2' }),
      'us-east-2',
    );
    t.end();
  },
);

// ---------------------------------------------------------------------------------------------
// Property: never a throw

const KEYS = [
  'inject',
  'mode',
  'native-sidecar',
  'mount-path',
  'containers',
  'refresh-interval',
  'region',
  'failover-region',
  'role-arn',
  'k8s-secret',
  'reload-url',
  'agent-cpu-request',
  'agent-memory-request',
  'agent-cpu-limit',
  'agent-memory-limit',
  'run-as-user',
  'run-as-group',
  'status',
  'secret-a',
  'secret-b.json',
  'key-a',
  'template-a',
  'format-a',
  'version-stage-a',
  'version-id-b.json',
  'perms-a',
  'extract-a',
  'extract-b.json',
  'env-A',
  'env-B_2',
  'secrte-a',
  'key-c',
  'env-',
  'secret-',
  'Secret-A',
];
const VALUES = [
  'true',
  'false',
  '',
  ' ',
  'init',
  'sidecar',
  '/secrets',
  '/cache',
  'relative',
  '/',
  'app',
  'app,sidecar',
  'nope',
  '30s',
  '5m',
  '1ms',
  '4s',
  'us-east-1',
  'eu-west-1',
  'arn:aws:iam::111122223333:role/x',
  'my-secret',
  'BAD',
  'http://127.0.0.1:1/r',
  '10m',
  '64Mi',
  '1Gi',
  '0',
  '1000',
  '-1',
  'json',
  'raw',
  'dotenv',
  '0400',
  '0644',
  '0000',
  'password',
  'a.b[0]',
  '{{ user }}',
  '{{',
  'AWSPREVIOUS',
  'prod/db',
  'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
  'injected',
];

t.test(
  'property: any annotation set gives a valid injected pod or a denial, never a throw',
  (t) => {
    const annotations = fc.dictionary(
      fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 })).map((k) => `${P}${k}`),
      fc.oneof(fc.constantFrom(...VALUES), fc.string({ maxLength: 20 })),
      { maxKeys: 12 },
    );
    const property = fc.property(annotations, fc.boolean(), (a, optIn) => {
      const pod = structuredClone(POD) as { metadata: Record<string, unknown> };
      pod.metadata['annotations'] = optIn
        ? { ...a, [`${P}inject`]: 'true', [`${P}secret-a`]: a[`${P}secret-a`] ?? 'prod/a' }
        : a;
      const result = admit(reviewFor(pod));
      if (result.outcome === 'denied') {
        return !result.review.response.allowed && (result.problems?.length ?? 0) > 0;
      }
      const patch = patchOf(result);
      if (result.outcome === 'skipped') return patch.length === 0;
      const injected = applyTo(pod as unknown as Pod, patch);
      validatePod(injected);
      if (podInvariantProblems(injected).length > 0) return false;
      if (!agentConfigs(injected).every((c) => checkAgentConfig(c, ENGINES).ok)) return false;
      return patchOf(admit(reviewFor(injected))).length === 0;
    });
    t.doesNotThrow(() => fc.assert(property, { numRuns: 400 }));
    t.end();
  },
);
