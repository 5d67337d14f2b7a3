/**
 * `secrets-agent inject` as a newcomer meets it: plain YAML out (no anchors), documents it does
 * not change printed byte for byte, a directory read as kubectl reads one (`-R` too), one problem
 * per line, and hints where a pod passes through untouched though its author meant otherwise.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { annotationOf } from '../injector/problems.ts';
import { parseAllDocuments } from 'yaml';
import { admit } from '../injector/admission.ts';
import { runCli, type CliRun } from './helpers/cli.ts';
import { tempDir } from './helpers/tmp.ts';
import { FIXTURES, reviewFor } from './injector-support.ts';

type Run = CliRun;

function inject(args: readonly string[], stdin = ''): Promise<Run> {
  return runCli(['inject', ...args], { stdin });
}

const CONFIG_MAP = `# kept as written
apiVersion: v1
kind: ConfigMap
metadata: {name: "app-config"}
data:
  greeting: 'hello'   # a comment
  list: [a, b]
`;

t.test('copied env entries are written out, never as YAML anchors', async (t) => {
  const run = await inject(['-f', join(FIXTURES, 'irsa-webhook-first.yaml')]);
  t.equal(run.code, 0, run.stderr);
  t.notMatch(run.stdout, /(^|\s)[&*]a\d+\b/m, 'no anchors or aliases');
  t.match(run.stdout, /AWS_ROLE_ARN/);
});

t.test('documents inject does not change are printed byte for byte', async (t) => {
  const pod = await readFile(join(FIXTURES, 'minimal.yaml'), 'utf8');
  const run = await inject(['-f', '-'], `${CONFIG_MAP}---\n${pod}`);
  t.equal(run.code, 0, run.stderr);
  const [first] = run.stdout.split(/^---\n/m);
  t.equal(first, CONFIG_MAP, 'the ConfigMap, comments, quotes and flow style as written');
  t.match(run.stdout, /secrets-agent\.io\/status: injected/, 'the pod injected');
});

t.test('-f DIR reads its manifests in name order; -R its sub-directories too', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'b.yaml'), await readFile(join(FIXTURES, 'minimal.yaml'), 'utf8'));
  await writeFile(join(dir, 'a.yaml'), CONFIG_MAP);
  await writeFile(join(dir, 'notes.txt'), 'not a manifest');
  await writeFile(
    join(dir, 'sub', 'c.json'),
    JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'c' } }),
  );
  const flat = await inject(['-f', dir]);
  t.equal(flat.code, 0, flat.stderr);
  const kinds = (run: Run): unknown[] =>
    parseAllDocuments(run.stdout).map((d) => (d.toJS() as { kind: string }).kind);
  t.same(kinds(flat), ['ConfigMap', 'Pod']);
  const deep = await inject(['-f', dir, '-R']);
  t.same(kinds(deep), ['ConfigMap', 'Pod', 'Secret']);
  const empty = await tempDir(t);
  const none = await inject(['-f', empty]);
  t.equal(none.code, 2);
  t.match(none.stderr, /holds no \.yaml, \.yml or \.json file/);
});

t.test(
  'hints where a pod passes through untouched though its author meant otherwise',
  async (t) => {
    const docs = `apiVersion: v1
kind: Pod
metadata:
  name: typo-prefix
  annotations:
    secret-agent.io/inject: "true"
spec:
  containers: [{name: app, image: app}]
---
apiVersion: v1
kind: Pod
metadata:
  name: no-inject
  annotations:
    secrets-agent.io/secret-db: prod/db
spec:
  containers: [{name: app, image: app}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary}
spec:
  template:
    metadata:
      annotations: {secrets-agent.io/inject: "true", secrets-agent.io/secret-db: prod/db}
    spec:
      containers: [{name: app, image: app}]
`;
    const strict = await inject(['-f', '-'], docs);
    t.equal(strict.code, 1, 'a near-miss key is an error: the pod would start without secrets');
    t.match(
      strict.stderr,
      'secrets-agent inject: Pod typo-prefix: the annotation secret-agent.io/inject looks like a secrets-agent.io/ annotation but is not one: the injector never sees it (did you mean secrets-agent.io/inject? --allow-near-miss to go on)',
    );
    t.equal(strict.stdout, '', 'and nothing is printed to apply');
    const run = await inject(['-f', '-', '--allow-near-miss'], docs);
    t.equal(run.code, 0, 'told otherwise, hints are warnings');
    t.match(
      run.stderr,
      'warning: Pod typo-prefix: the annotation secret-agent.io/inject looks like a secrets-agent.io/ annotation but is not one',
    );
    t.match(
      run.stderr,
      /warning: Pod no-inject: has secrets-agent\.io\/secret-db but no secrets-agent\.io\/inject: "true"/,
    );
    t.match(
      run.stderr,
      /warning: Rollout canary: its pod template opts in, but inject knows only Pod, Deployment/,
    );
  },
);

t.test('every problem is reported at once, an invalid inject value among them', (t) => {
  const result = admit(
    reviewFor({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        annotations: {
          'secrets-agent.io/inject': 'yes',
          'secrets-agent.io/secert-x': 'prod/x',
          'secrets-agent.io/secret-db': 'prod/db',
        },
      },
      spec: { containers: [{ name: 'app', image: 'app' }] },
    }),
  );
  t.equal(result.outcome, 'denied');
  t.same((result.problems ?? []).map((p) => annotationOf(p)).sort(), [
    'secrets-agent.io/inject',
    'secrets-agent.io/secert-x',
  ]);
  t.end();
});
