/**
 * Links between the docs hold: every relative link names a file that exists, and a `#anchor`
 * a heading of it (GitHub's slugs). docs/annotations.md points at the agent's sections with
 * links, not by naming them.
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import t from 'tap';

const ROOT = join(import.meta.dirname, '..');

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

async function anchors(file: string): Promise<Set<string>> {
  const text = await readFile(file, 'utf8');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] ?? '')));
}

t.test('every relative link and anchor in README.md and docs/ resolves', async (t) => {
  const files = [
    'README.md',
    ...(await readdir(join(ROOT, 'docs')))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  for (const file of files) {
    const text = await readFile(join(ROOT, file), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target === undefined || /^[a-z]+:/.test(target)) continue;
      const [path = '', anchor] = target.split('#');
      const resolved = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), path);
      await t.resolves(access(resolved), `${file}: ${target}: the file exists`);
      if (anchor !== undefined && resolved.endsWith('.md'))
        t.ok((await anchors(resolved)).has(anchor), `${file}: ${target}: the heading exists`);
    }
  }
});

t.test("annotations.md names none of agent.md's sections without linking it", async (t) => {
  const agent = await readFile(join(ROOT, 'docs', 'agent.md'), 'utf8');
  const titles = [...agent.matchAll(/^## (.+)$/gm)].map((m) =>
    (m[1] ?? '').replace(/ \(.*\)$/, ''),
  );
  const annotations = await readFile(join(ROOT, 'docs', 'annotations.md'), 'utf8');
  for (const title of titles)
    t.notMatch(annotations, `_${title}_`, `"${title}" is a link, not a name in italics`);
});
