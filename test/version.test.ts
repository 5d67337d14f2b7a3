/** One version: the CLI says it, the injector's default agent image is tagged with it, and the manifests deploy it. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse } from 'yaml';
import { VERSION } from '../common/version.ts';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import { CLI, ROOT } from './helpers/agent-process.ts';

const run = promisify(execFile);

t.test('secrets-agent --version', async (t) => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  t.equal(VERSION, pkg.version, 'the version is package.json’s');
  const { stdout } = await run(process.execPath, [CLI, '--version']);
  t.equal(stdout, `secrets-agent ${pkg.version}\n`);
  t.equal(DEFAULT_INJECTOR_OPTIONS.image, `secrets-agent:${VERSION}`, 'the default agent image');
  const kustomization = parse(
    await readFile(join(ROOT, 'manifests', 'kustomization.yaml'), 'utf8'),
  ) as { images: { name: string; newTag: string }[] };
  t.same(
    kustomization.images.find((i) => i.name === 'secrets-agent')?.newTag,
    VERSION,
    'the manifests deploy that version',
  );
});
