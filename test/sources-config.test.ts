/**
 * The other sources in the schema and the annotations: `param-`, `path-`, `find-` and
 * `find-tag-` map onto `source`, `id` and `tag`; every rule lives in the schema and each of
 * its problems is named by the annotation that set the field.
 */
import t from 'tap';
import { renderPath, type ProblemKind } from '../common/field.ts';
import { annotationOf } from '../injector/problems.ts';
import { checkAgentConfig, parseAgentConfig } from '../common/config.ts';
import { parseAnnotations, type Problem } from '../injector/annotations.ts';

const P = 'secrets-agent.io/';

/** The schema's findings, each its kind at its path: what the tests compare. */
function configFindings(secrets: unknown[]): string[] {
  const checked = checkAgentConfig({ secrets });
  return checked.ok ? [] : checked.problems.map((p) => `${p.kind} at ${renderPath(p.path)}`);
}

/** The parser's findings, each its kind at its annotation. */
function annotationFindings(annotations: Record<string, string>): string[] {
  const result = parseAnnotations({ [`${P}inject`]: 'true', ...prefixed(annotations) });
  return result.ok ? [] : result.problems.map((p) => `${p.kind} at ${annotationOf(p)}`);
}

function annotationProblems(annotations: Record<string, string>): string[] {
  const result = parseAnnotations({ [`${P}inject`]: 'true', ...prefixed(annotations) });
  return result.ok ? [] : result.problems.map((p: Problem) => `${annotationOf(p)}: ${p.message}`);
}

function prefixed(annotations: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations).map(([k, v]) => [`${P}${k}`, v]));
}

t.test('each source parses, with its own id rule', async (t) => {
  const config = await parseAgentConfig({
    secrets: [
      { name: 'sm', id: 'prod/db' },
      { name: 'p1', source: 'parameter', id: '/app/db/url' },
      { name: 'p2', source: 'parameter', id: '/app/db/url:3' },
      { name: 'p3', source: 'parameter', id: 'plain:prod-label' },
      { name: 'p4', source: 'parameter', id: 'arn:aws:ssm:eu-west-1:111122223333:parameter/a/b:2' },
      { name: 'dir', source: 'path', id: '/app/config/' },
      { name: 'f', source: 'find', id: 'app/', tag: 'team=pay ments' },
    ],
  });
  t.same(
    config.secrets.map((s) => [s.name, s.source, s.id, s.tag]),
    [
      ['sm', undefined, 'prod/db', undefined],
      ['p1', 'parameter', '/app/db/url', undefined],
      ['p2', 'parameter', '/app/db/url:3', undefined],
      ['p3', 'parameter', 'plain:prod-label', undefined],
      ['p4', 'parameter', 'arn:aws:ssm:eu-west-1:111122223333:parameter/a/b:2', undefined],
      ['dir', 'path', '/app/config/', undefined],
      ['f', 'find', 'app/', { key: 'team', value: 'pay ments' }],
    ],
  );
});

t.test('the schema refuses what SSM and Secrets Manager would, naming the field', async (t) => {
  const cases: [unknown, [ProblemKind, string]][] = [
    [{ name: 'x', source: 'ssm', id: 'a' }, ['not-supported', 'secrets[0].source']],
    [{ name: 'x', source: 'parameter', id: 'has space' }, ['invalid', 'secrets[0].id']],
    [{ name: 'x', source: 'parameter', id: 'a:1:2' }, ['invalid', 'secrets[0].id']],
    [{ name: 'x', source: 'parameter', id: 'a:1label' }, ['invalid', 'secrets[0].id']],
    [{ name: 'x', source: 'parameter', id: `/${'a'.repeat(2048)}` }, ['too-long', 'secrets[0].id']],
    [{ name: 'x', source: 'path', id: 'app/config' }, ['invalid', 'secrets[0].id']],
    [{ name: 'x', source: 'path', id: '/a//b' }, ['invalid', 'secrets[0].id']],
    [{ name: 'x', source: 'path', id: `/${'a/'.repeat(16)}` }, ['invalid', 'secrets[0].id']],
    [{ name: 'x', source: 'find', id: 'a b' }, ['invalid', 'secrets[0].id']],
    [{ name: 'x', source: 'find', id: 'a'.repeat(513) }, ['too-long', 'secrets[0].id']],
    [{ name: 'x', source: 'find', id: 'a/', tag: 'team' }, ['invalid', 'secrets[0].tag']],
    [
      { name: 'x', source: 'find', id: 'a/', tag: `${'k'.repeat(129)}=v` },
      ['invalid', 'secrets[0].tag'],
    ],
    [{ name: 'x', source: 'path', id: '/a', tag: 'k=v' }, ['forbidden', 'secrets[0].tag']],
    [{ name: 'x', id: 'a', tag: 'k=v' }, ['forbidden', 'secrets[0].tag']],
    [
      { name: 'x', source: 'parameter', id: '/a', versionStage: 'AWSPREVIOUS' },
      ['forbidden', 'secrets[0].versionStage'],
    ],
    [
      { name: 'x', source: 'find', id: 'a/', versionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111' },
      ['forbidden', 'secrets[0].versionId'],
    ],
  ];
  for (const [secret, [kind, path]] of cases) {
    const got = configFindings([secret]);
    t.ok(got.includes(`${kind} at ${path}`), `${kind} at ${path}; got: ${got.join(', ')}`);
  }
  t.same(
    configFindings([
      { name: 'db', id: 'a' },
      { name: 'db', source: 'parameter', id: '/a' },
    ]),
    ['duplicate at secrets[1].name'],
    'names are unique across all sources',
  );
});

t.test('annotations map onto the schema; problems are named by their annotation', async (t) => {
  const result = parseAnnotations({
    [`${P}inject`]: 'true',
    ...prefixed({
      'param-url': '/app/db/url:prod',
      'path-cfg': '/app/config',
      'find-all': 'app/',
      'find-tag-all': 'team=pay',
      'key-cfg': 'user',
      'perms-all': '0400',
    }),
  });
  if (!result.ok || !result.value.inject) throw new Error(JSON.stringify(result));
  t.same(result.value.config.secrets, [
    { name: 'all', id: 'app/', source: 'find', tag: 'team=pay', mode: '0400' },
    { name: 'cfg', id: '/app/config', source: 'path', key: 'user' },
    { name: 'url', id: '/app/db/url:prod', source: 'parameter' },
  ]);

  const cases: [Record<string, string>, [ProblemKind, string]][] = [
    [{ 'param-x': 'has space' }, ['invalid', 'param-x']],
    [{ 'path-x': 'relative' }, ['invalid', 'path-x']],
    [{ 'find-x': 'a b' }, ['invalid', 'find-x']],
    [{ 'find-x': 'a/', 'find-tag-x': 'novalue' }, ['invalid', 'find-tag-x']],
    [{ 'path-x': '/a', 'find-tag-x': 'k=v' }, ['forbidden', 'find-tag-x']],
    [{ 'find-tag-x': 'k=v', 'secret-y': 'a' }, ['required', 'find-tag-x']],
    [{ 'param-x': '/a', 'version-stage-x': 'AWSPREVIOUS' }, ['forbidden', 'version-stage-x']],
    [{ 'secret-x': 'a', 'param-x': '/a' }, ['duplicate', 'param-x']],
    [{ 'param-x': '/a', 'key-y': 'k' }, ['required', 'key-y']],
  ];
  for (const [annotations, [kind, key]] of cases) {
    const got = annotationFindings(annotations);
    t.ok(got.includes(`${kind} at ${P}${key}`), `${kind} at ${key}; got: ${got.join(', ')}`);
  }
  t.same(annotationProblems({ 'param-x': '/a' }), [], 'a parameter alone opts a pod in');
  t.match(
    annotationProblems({ 'parm-x': '/a' }).join('\n'),
    /parm-x: .*did you mean/,
    'a typo of a new prefix gets a suggestion',
  );
});
