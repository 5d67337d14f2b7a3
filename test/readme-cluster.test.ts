/**
 * The README's cluster walk-through, held to what it drives: every name it types is one the
 * manifests and the AWS policies define, the files it points at exist, and the env var listing
 * it shows is what `kubectl set env --list` prints for the pod as injected.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { stringify } from 'yaml';
import { VERSION } from '../common/version.ts';
import { AGENT_NAMES } from '../injector/types.ts';
import type { Pod } from '../injector/types.ts';
import { applyTo, patchOf } from './injector-support.ts';
import { admitTemplate, at, build, find, podTemplate } from './helpers/manifests.ts';
import { fileNeeds } from './helpers/needs.ts';
import { commandLookup, shellCommands } from './helpers/doc-commands.ts';

fileNeeds(t, 'kubectl');

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(
  readme.indexOf('\n## In a cluster'),
  readme.indexOf('\n## Where next'),
);
/** The walk-through's shell commands, and the one starting with a prefix. */
const commands = shellCommands(section);
const command = commandLookup(commands);

function option(line: string, name: string): string {
  const match = new RegExp(`--${name}[ =]("[^"]*"|\\S+)`).exec(line);
  if (match?.[1] === undefined) throw new Error(`no --${name} in: ${line}`);
  return match[1].replace(/^"|"$/g, '');
}

const json = async (path: string): Promise<unknown> =>
  JSON.parse(await readFile(join(ROOT, path), 'utf8')) as unknown;

const base = await build('manifests');
const catalog = await build('manifests/examples/catalog');
const template = podTemplate(find(catalog, 'Deployment', 'catalog'));
const annotations = at(template, 'metadata', 'annotations') as Record<string, string>;
const namespace = find(catalog, 'Namespace').metadata.name;

t.test('the install commands name what the base builds', async (t) => {
  const kustomization = await readFile(join(ROOT, 'manifests', 'kustomization.yaml'), 'utf8');
  t.equal(
    kustomization.match(/# EDIT:/g)?.length,
    2,
    'the two lines to edit are marked, as the README says',
  );
  t.match(kustomization, /# EDIT:[^\n]*\n\s*newName: /, 'one marks the image name');
  t.match(
    kustomization,
    /# EDIT:[^\n]*region[^#]*name: SECRETS_AGENT_WEBHOOK_DEFAULT_REGION\n\s*value: [a-z]+-[a-z]+-\d\n/,
    "the other the value of the patch at the end: the injector's default region",
  );
  const [, ns, name] = /^kubectl -n (\S+) rollout status deploy\/(\S+)$/.exec(
    command('kubectl -n secrets-agent rollout'),
  ) ?? ['', '', ''];
  t.equal(find(base, 'Deployment', name).metadata.namespace, ns);
  t.match(
    command('docker buildx build'),
    new RegExp(`-t REGISTRY/secrets-agent:${VERSION.replaceAll('.', '\\.')} \\.$`),
    'the image tag is the version the manifests deploy',
  );
  t.match(kustomization, new RegExp(`newTag: ${VERSION.replaceAll('.', '\\.')}\n`));
});

t.test('the AWS commands set up what the catalog example uses', async (t) => {
  const create = command('aws secretsmanager create-secret');
  const secretName = option(create, 'name');
  t.equal(secretName, annotations['secrets-agent.io/secret-catalog'], 'the secret it reads');
  const value = /--secret-string "(.*)"$/.exec(create)?.[1] ?? '';
  const keys = Object.keys(
    JSON.parse(value.replace(/\\"/g, '"').replace(/\$\([^)]*\)/g, 'x')) as object,
  );
  for (const [key, field] of Object.entries(annotations)) {
    if (key.startsWith('secrets-agent.io/env-'))
      t.ok(keys.includes(field), `the secret has "${field}", which ${key} takes`);
  }

  const association = command('aws eks create-pod-identity-association');
  const serviceAccount = at(template, 'spec', 'serviceAccountName');
  t.equal(option(association, 'namespace'), namespace);
  t.equal(option(association, 'service-account'), serviceAccount);
  const role = command('aws iam create-role');
  const roleName = option(role, 'role-name');
  t.match(option(association, 'role-arn'), new RegExp(`:role/${roleName}$`));
  t.equal(option(command('aws iam put-role-policy'), 'role-name'), roleName);

  // The trust policy lets exactly that ServiceAccount's association assume the role.
  const trustFile = option(role, 'assume-role-policy-document').replace('file://', '');
  const trust = JSON.stringify(await json(trustFile));
  t.match(trust, `"aws:RequestTag/kubernetes-namespace":"${namespace}"`);
  t.match(trust, `"aws:RequestTag/kubernetes-service-account":"${String(serviceAccount)}"`);

  // The permissions policy, once the sed has put in an account and region, grants the secret.
  const sed = command('sed ');
  const policyFile = /(docs\/iam\/\S+\.json)/.exec(sed)?.[1] ?? '';
  let policy = await readFile(join(ROOT, policyFile), 'utf8');
  for (const [, from, to] of sed.matchAll(/s\/([^/]+)\/([^/]+)\/g/g))
    policy = policy.replaceAll(from ?? '', to === '$ACCOUNT' ? '210987654321' : 'eu-central-1');
  t.notMatch(policy, /123456789012|us-east-1/, 'no example account or region is left');
  const granted = (
    JSON.parse(policy) as { Statement: { Action: unknown; Resource: unknown }[] }
  ).Statement.filter((s) => s.Action === 'secretsmanager:GetSecretValue').flatMap(
    (s) => [s.Resource].flat() as string[],
  );
  t.ok(
    granted.some((arn) =>
      new RegExp(`^${arn.replace(/[.*+^${}()|[\]\\]/g, '\\$&').replaceAll('?', '.')}$`).test(
        `arn:aws:secretsmanager:eu-central-1:210987654321:secret:${secretName}-AbC123`,
      ),
    ),
    'GetSecretValue on the secret, in the account and region the sed put in',
  );
  t.match(sed, /> (\S+)$/);
  t.equal(
    option(command('aws iam put-role-policy'), 'policy-document'),
    `file://${/> (\S+)$/.exec(sed)?.[1] ?? ''}`,
  );
});

t.test('the checks name what the example runs, and show what kubectl prints', async (t) => {
  t.equal(
    command('kubectl apply -k manifests/examples'),
    'kubectl apply -k manifests/examples/catalog',
  );
  for (const line of commands.filter((c) => c.startsWith(`kubectl -n ${namespace} rollout`))) {
    const [, kind, name] = /rollout status (deploy|statefulset)\/(\S+)$/.exec(line) ?? [];
    find(catalog, kind === 'deploy' ? 'Deployment' : 'StatefulSet', name ?? '');
  }
  t.match(command(`kubectl -n ${namespace} logs`), ` -c ${AGENT_NAMES.sidecar}`);
  t.match(
    command(`kubectl -n ${namespace} describe secret`),
    new RegExp(`secret ${annotations['secrets-agent.io/k8s-secret'] ?? '-'}$`),
  );
  const forward = /port-forward svc\/(\S+) \d+:(\d+)/.exec(
    command(`kubectl -n ${namespace} port-forward`),
  );
  t.equal(
    at(find(catalog, 'Service', forward?.[1] ?? ''), 'spec', 'ports', 0, 'port'),
    Number(forward?.[2]),
  );

  // What `kubectl set env --list` prints for the injected pod is the listing the README shows.
  const list = command(`kubectl -n ${namespace} set env pod`);
  const container = / -c (\S+)/.exec(list)?.[1] ?? '';
  const result = admitTemplate(template, namespace);
  const pod = applyTo(
    { apiVersion: 'v1', kind: 'Pod', ...(template as object) } as Pod,
    patchOf(result),
  );
  const dir = await mkdtemp(join(tmpdir(), 'readme-cluster-'));
  await writeFile(join(dir, 'pod.yaml'), stringify({ ...pod, metadata: { name: 'catalog' } }));
  const { stdout } = await run('kubectl', [
    'set',
    'env',
    '-f',
    join(dir, 'pod.yaml'),
    '--local',
    '--list',
    '-c',
    container,
  ]);
  const shown = /`set env --list` shows[^\n]*\n\n```text\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  t.not(shown, '', 'the README shows the listing');
  for (const line of shown.trim().split('\n')) t.ok(stdout.split('\n').includes(line), line);
});
