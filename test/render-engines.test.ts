/**
 * The engines a render needs are loaded by prepareRenderer, the one way the agent loads them,
 * from the source as from the bundle: rendering before it fails and says why, never falls back.
 */
import t from 'tap';
import type { SecretSpec } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { prepareRenderer, renderFile } from '../agent/render.ts';

const yamlSpec: SecretSpec = { name: 'app', id: 'prod/app', format: 'yaml', extract: false };
const templateSpec: SecretSpec = {
  name: 'dsn',
  id: 'prod/db',
  format: 'raw',
  extract: false,
  // A block: Handlebars' to render (a plain template needs no engine, test/template-plain.test.ts).
  template: '{{#if user}}user={{user}}{{/if}}',
};
const plainSpec: SecretSpec = { ...templateSpec, template: 'user={{user}}' };
// An index: JMESPath's (a plain key, field names only, needs no engine: test/key-path.test.ts).
const keySpec: SecretSpec = {
  name: 'first',
  id: 'prod/list',
  format: 'raw',
  extract: false,
  key: 'users[0]',
};
const plainKeySpec: SecretSpec = { ...keySpec, key: 'user' };
const value = { string: '{"user":"app"}', versionId: 'v1', arn: 'arn:aws:secretsmanager:x' };
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

function renderError(spec: SecretSpec): string {
  try {
    renderFile(spec, value);
  } catch (err) {
    if (err instanceof AgentError && err.code === 'RENDER_FAILED') return err.message;
    throw err;
  }
  return 'rendered';
}

t.test('before prepareRenderer: a clear error, no engine loaded behind the scenes', async (t) => {
  t.match(
    renderError(yamlSpec),
    /secrets\[name=app\]\.format \(yaml\) cannot apply: the YAML writer was not loaded/,
  );
  t.match(
    renderError(templateSpec),
    /secrets\[name=dsn\]\.template the template engine was not loaded/,
  );
  t.equal(text(renderFile(plainSpec, value)), 'user=app', 'a plain template needs no engine');
  t.match(
    renderError(keySpec),
    /secrets\[name=first\]\.key cannot apply: the JMESPath engine was not loaded/,
  );
  t.equal(text(renderFile(plainKeySpec, value)), 'app', 'a plain key needs no engine');
});

t.test('prepareRenderer loads only what the specs use', async (t) => {
  await prepareRenderer([yamlSpec]);
  t.equal(text(renderFile(yamlSpec, value)), 'user: app\n');
  t.match(
    renderError(templateSpec),
    /the template engine was not loaded/,
    'no template spec given',
  );
  await prepareRenderer([templateSpec]);
  t.equal(text(renderFile(templateSpec, value)), 'user=app');
  t.match(renderError(keySpec), /the JMESPath engine was not loaded/, 'no key spec given');
  await prepareRenderer([keySpec]);
  const list = { ...value, string: '{"users":["a","b"]}' };
  t.equal(text(renderFile(keySpec, list)), 'a');
});
