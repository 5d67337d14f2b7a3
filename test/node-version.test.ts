/**
 * One statement about Node: npm runs on the machine's Node (20 or later, what package.json's
 * `engines` says, so `npm ci` stays quiet), and every script runs on the Node 24 the install
 * brings (the `node` dev dependency), which is what the image ships.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from './helpers/agent-process.ts';

t.test('Node versions: one statement, kept true', async (t) => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string };
    devDependencies: Record<string, string>;
  };
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
  t.equal(pkg.engines.node, '>=20');
  t.match(readme, 'Node.js 20 or later');
  t.match(pkg.devDependencies['node'], /^\^24\./, 'the install brings Node 24');
  t.match(readme, 'brings\nNode 24');
  t.equal(process.versions.node.split('.')[0], '24', 'the tests run on Node 24');
  t.match(dockerfile, /^ARG NODE_IMAGE=node:24-/m, 'the image ships Node 24');
});
