/**
 * docs/install-eks.md, held to what it drives (as readme-cluster.test.ts holds the README's
 * walk-through): the names it types are the ones the manifests build, its `sed` edits the lines
 * it means in the kustomization, the host-network component it points at builds, the port it
 * opens is the webhook's, the denial it shows is the injector's own, and the README links to it.
 */
import { cp, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { VERSION } from '../common/version.ts';
import { admitTemplate, at, build, find, podTemplate, type Obj } from './helpers/manifests.ts';
import { fileNeeds } from './helpers/needs.ts';
import { commandLookup, shellCommands } from './helpers/doc-commands.ts';

fileNeeds(t, 'kubectl');

const ROOT = join(import.meta.dirname, '..');
const doc = await readFile(join(ROOT, 'docs', 'install-eks.md'), 'utf8');
/** The page's shell commands, and the one starting with a prefix. */
const command = commandLookup(shellCommands(doc));

const base = await build('manifests');
const catalog = await build('manifests/examples/catalog');
const deployment = find(base, 'Deployment', 'secrets-agent-injector');

/** manifests/ copied aside, with `edit` applied to its kustomization, then built. */
async function buildEdited(edit: (text: string) => string): Promise<Obj[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sa-eks-'));
  await cp(join(ROOT, 'manifests'), join(dir, 'manifests'), { recursive: true });
  const file = join(dir, 'manifests', 'kustomization.yaml');
  await writeFile(file, edit(await readFile(file, 'utf8')));
  return build(join(dir, 'manifests'));
}

t.test(
  'the image: the repository it creates is the one the sed puts into the manifests',
  async (t) => {
    const repository = /--repository-name (\S+)/.exec(command('aws ecr create-repository'))?.[1];
    t.equal(repository, 'secrets-agent');
    const repo = /^REPO=(\S+)$/.exec(command('REPO='))?.[1] ?? '';
    t.match(repo, new RegExp(`\\.dkr\\.ecr\\.\\$AWS_REGION\\.amazonaws\\.com/${repository}$`));
    t.match(command('docker buildx build'), `-t "$REPO:${VERSION}" .`, 'tagged with the version');
    t.match(doc, `\`[["${VERSION}"]]\``, 'the describe-images output shows that tag');
    t.match(command('aws ecr describe-images'), `--repository-name ${repository}`);
    t.match(command('docker run --privileged'), /binfmt --install arm64,amd64$/, 'QEMU first');
  },
);

t.test(
  'its sed edits the two EDIT lines, and the result deploys the image and region',
  async (t) => {
    const sed = command('sed -i');
    const substitutions = [...sed.matchAll(/s\|([^|]+)\|([^|]+)\|/g)].map((m) => ({
      from: new RegExp((m[1] ?? '').replace(/\$$/, '$'), 'm'),
      to: (m[2] ?? '')
        .replace('$REPO', '111122223333.dkr.ecr.eu-central-1.amazonaws.com/secrets-agent')
        .replace('$AWS_REGION', 'eu-central-1'),
    }));
    t.equal(substitutions.length, 2);
    const kustomization = await readFile(join(ROOT, 'manifests', 'kustomization.yaml'), 'utf8');
    for (const s of substitutions)
      t.equal(
        kustomization.split('\n').filter((l) => s.from.test(l)).length,
        1,
        `${s.from}: one line`,
      );
    const edited = await buildEdited((text) =>
      substitutions.reduce((acc, s) => acc.replace(s.from, s.to), text),
    );
    const injector = at(
      find(edited, 'Deployment', 'secrets-agent-injector'),
      'spec',
      'template',
      'spec',
      'containers',
      0,
    ) as { image: string; env: { name: string; value?: string }[] };
    t.equal(
      injector.image,
      `111122223333.dkr.ecr.eu-central-1.amazonaws.com/secrets-agent:${VERSION}`,
    );
    t.equal(
      injector.env.find((e) => e.name === 'SECRETS_AGENT_WEBHOOK_DEFAULT_REGION')?.value,
      'eu-central-1',
    );
  },
);

t.test('the names it checks are the ones the manifests build', (t) => {
  const rollout = /^kubectl -n (\S+) rollout status deploy\/(\S+)$/.exec(
    command('kubectl -n secrets-agent rollout status'),
  );
  t.equal(find(base, 'Deployment', rollout?.[2]).metadata.namespace, rollout?.[1]);
  const endpoints = /get endpoints (\S+)$/.exec(command('kubectl -n secrets-agent get endpoints'));
  find(base, 'Service', endpoints?.[1]);
  for (const name of ['secrets-agent-ca', 'secrets-agent-injector-tls']) {
    find(base, 'Certificate', name);
    t.match(doc, `\`${name}\``, `the doc names certificate ${name}`);
  }
  t.equal(
    base.filter((o) => o.kind === 'Certificate').length,
    2,
    'it says "both certificates": there are two',
  );
  const hook = find(base, 'MutatingWebhookConfiguration');
  t.match(doc, `webhook "${String(at(hook, 'webhooks', 0, 'name'))}"`);
  t.end();
});

t.test('the port it opens is the one the API server calls', (t) => {
  const https = (
    at(deployment, 'spec', 'template', 'spec', 'containers', 0, 'ports') as {
      name: string;
      containerPort: number;
    }[]
  ).find((p) => p.name === 'https');
  const port = /--port (\d+)/.exec(command('aws ec2 authorize-security-group-ingress'))?.[1];
  t.equal(Number(port), https?.containerPort);
  t.match(doc, `port ${https?.containerPort}`);
  t.end();
});

t.test('uncommenting the components lines runs the webhook on the node network', async (t) => {
  const kustomization = await readFile(join(ROOT, 'manifests', 'kustomization.yaml'), 'utf8');
  const commented = kustomization
    .split('\n')
    .filter((l) => /^# (components:| {2}- components\/)/.test(l));
  t.same(
    commented,
    ['# components:', '#   - components/host-network'],
    'two lines, as the doc says',
  );
  t.match(doc, 'uncomment the two `components:` lines');
  t.match(doc, '`manifests/components/host-network`');
  const edited = await buildEdited((text) =>
    text.replace(
      '# components:\n#   - components/host-network',
      'components:\n  - components/host-network',
    ),
  );
  const spec = at(find(edited, 'Deployment', 'secrets-agent-injector'), 'spec', 'template', 'spec');
  t.match(spec, { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' });
  const labels = at(find(edited, 'Namespace', 'secrets-agent'), 'metadata', 'labels');
  t.match(labels, { 'pod-security.kubernetes.io/enforce': 'privileged' });
  t.notOk(
    at(deployment, 'spec', 'template', 'spec', 'hostNetwork'),
    'the base itself is unchanged',
  );
  const container = at(spec, 'containers', 0, 'securityContext');
  t.match(
    container,
    { runAsNonRoot: true, readOnlyRootFilesystem: true },
    'every other restriction kept',
  );
});

t.test("the reach check's expected denial is the injector's own words", (t) => {
  const run = command('kubectl -n default run reach-check');
  const [, key, value] = /--annotations=(\S+)=(\S+)/.exec(run) ?? [];
  const result = admitTemplate(
    {
      metadata: { name: 'reach-check', annotations: { [key ?? '']: value } },
      spec: { containers: [{ name: 'reach-check', image: 'busybox' }] },
    },
    'default',
  );
  t.equal(result.outcome, 'denied');
  const expected =
    /```text\n(Error from server: admission webhook[\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const shown = expected.replace(/\n/g, ' ').trim();
  const hook = String(at(find(base, 'MutatingWebhookConfiguration'), 'webhooks', 0, 'name'));
  t.equal(
    shown,
    `Error from server: admission webhook "${hook}" denied the request: ${result.review.response.status?.message ?? ''}`,
  );
  t.end();
});

t.test('the identity steps name the catalog example, and its files exist', async (t) => {
  const association = command('aws eks create-pod-identity-association');
  const template = podTemplate(find(catalog, 'Deployment', 'catalog'));
  const namespace = find(catalog, 'Namespace').metadata.name;
  t.match(association, `--namespace ${namespace}`);
  t.match(association, `--service-account ${String(at(template, 'spec', 'serviceAccountName'))}`);
  for (const [, file] of doc.matchAll(/`((?:docs|manifests)\/[\w/.-]+)`/g))
    await t.resolves(stat(join(ROOT, file ?? '')), `${file} exists`);
  const annotations = at(template, 'metadata', 'annotations') as Record<string, string>;
  for (const [k, v] of Object.entries(annotations)) {
    const env = /^secrets-agent\.io\/env-(.+)$/.exec(k)?.[1];
    if (env !== undefined)
      t.match(doc, `# ${env} from secret ${annotations['secrets-agent.io/k8s-secret']}, key ${v}`);
  }
  t.match(
    command('aws secretsmanager create-secret'),
    `--name ${annotations['secrets-agent.io/secret-catalog']}`,
  );
});

t.test("the README's install section links to it", async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## In a cluster'), readme.indexOf('\n### 1.'));
  t.match(section, '](docs/install-eks.md)');
});
