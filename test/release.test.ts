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
      jobs: Record<string, { steps: Step[] }>;
    };
    t.same(workflow.on.push.tags, ['v*.*.*'], 'on version tags');
    const steps = Object.values(workflow.jobs).flatMap((j) => j.steps);
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
