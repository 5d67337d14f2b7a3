/**
 * The release workflow cannot run here (no CI service, no registry); what can be checked is that
 * it builds what the README promises: the Dockerfile, for amd64 and arm64, tagged by the
 * version (checked against package.json), with its digest and an SBOM published.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { ROOT } from './helpers/agent-process.ts';

interface Step {
  readonly id?: string;
  readonly name?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
}

t.test(
  'release: multi-arch image from the Dockerfile, by version and digest, with an SBOM',
  async (t) => {
    const text = await readFile(join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8');
    const workflow = parse(text) as {
      on: { push: { tags: string[] } };
      jobs: Record<string, { steps?: Step[] }>;
    };
    t.same(workflow.on.push.tags, ['v*.*.*'], 'on version tags');
    const steps = Object.values(workflow.jobs).flatMap((j) => j.steps ?? []);
    const uses = (prefix: string): Step | undefined =>
      steps.find((s) => s.uses?.startsWith(prefix) === true);
    const build = uses('docker/build-push-action');
    t.equal(build?.with?.['context'], '.', 'the Dockerfile at the root');
    t.equal(build?.with?.['platforms'], 'linux/amd64,linux/arm64');
    t.equal(build?.with?.['push'], true);
    t.equal(build?.with?.['sbom'], true, 'an SBOM attached to the image');
    t.match(
      String(uses('docker/metadata-action')?.with?.['tags']),
      /type=semver,pattern=\{\{version\}\}/,
    );
    t.match(
      String(uses('anchore/sbom-action')?.with?.['image']),
      /@\$\{\{ steps\.build\.outputs\.digest \}\}/,
      'the SBOM of the pushed digest',
    );
    const check = steps.find((s) => s.run?.includes('package.json') === true);
    t.ok(check !== undefined, 'the tag is checked against package.json');
    t.ok(
      steps.some((s) => s.run?.includes('gh release create') === true),
      'a release with digest and SBOM',
    );
  },
);

interface Job {
  readonly uses?: string;
  readonly needs?: string | string[];
  readonly steps?: Step[];
}

async function workflow(
  name: string,
): Promise<{ on: Record<string, unknown>; jobs: Record<string, Job> }> {
  return parse(await readFile(join(ROOT, '.github', 'workflows', name), 'utf8')) as {
    on: Record<string, unknown>;
    jobs: Record<string, Job>;
  };
}

t.test('pull requests run what .ci/run runs; a release waits for it', async (t) => {
  const ci = await workflow('ci.yml');
  t.ok('pull_request' in ci.on, 'on pull requests');
  t.ok('workflow_call' in ci.on, 'callable from the release');
  const runs = Object.values(ci.jobs).flatMap((j) => (j.steps ?? []).map((s) => s.run ?? ''));
  t.ok(
    runs.some((run) => /(^|\s)\.ci\/run$/.test(run.trim())),
    'a step runs .ci/run itself, not a copy of its commands',
  );
  t.notOk(
    Object.values(ci.jobs).some((j) =>
      j.steps?.some((s) => s.uses?.startsWith('actions/setup-node')),
    ),
    'Node comes from the node dev dependency, not a setup action',
  );

  const release = await workflow('release.yml');
  const gates = Object.entries(release.jobs).filter(
    ([, j]) => j.uses === './.github/workflows/ci.yml',
  );
  t.equal(gates.length, 1, 'the release calls the ci workflow');
  const gate = gates[0]?.[0] ?? '';
  for (const [name, job] of Object.entries(release.jobs)) {
    if (name === gate) continue;
    const needs = typeof job.needs === 'string' ? [job.needs] : (job.needs ?? []);
    t.ok(needs.includes(gate), `${name} needs ${gate}: nothing is pushed before the tests pass`);
  }
});
