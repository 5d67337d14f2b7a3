/**
 * The other sources in the schema and the annotations: `param-`, `path-`, `find-` and
 * `find-tag-` map onto `source`, `id` and `tag`; every rule lives in the schema and each of
 * its problems is named by the annotation that set the field.
 */
import t from 'tap';
import { annotationOf } from '../injector/problems.ts';
import { checkAgentConfig, formatConfigProblem, parseAgentConfig } from '../common/config.ts';
import { parseAnnotations, type Problem } from '../injector/annotations.ts';

const P = 'secrets-agent.io/';

function configProblems(secrets: unknown[], extra: Record<string, unknown> = {}): string[] {
  const checked = checkAgentConfig({ secrets, ...extra });
  return checked.ok ? [] : checked.problems.map((p) => formatConfigProblem(p));
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
  const cases: [unknown, RegExp][] = [
    [
      { name: 'x', source: 'ssm', id: 'a' },
      /secrets\[0\]\.source: must be one of secretsmanager, parameter, path, find; got "ssm"/,
    ],
    [
      { name: 'x', source: 'parameter', id: 'has space' },
      /secrets\[0\]\.id: must be an SSM parameter name/,
    ],
    [
      { name: 'x', source: 'parameter', id: 'a:1:2' },
      /secrets\[0\]\.id: must be an SSM parameter name/,
    ],
    [
      { name: 'x', source: 'parameter', id: 'a:1label' },
      /secrets\[0\]\.id: must be an SSM parameter name/,
    ],
    [
      { name: 'x', source: 'parameter', id: `/${'a'.repeat(2048)}` },
      /secrets\[0\]\.id: is 2049 characters long; at most 2048/,
    ],
    [
      { name: 'x', source: 'path', id: 'app/config' },
      /secrets\[0\]\.id: must be an SSM path such as \/app\/config\//,
    ],
    [{ name: 'x', source: 'path', id: '/a//b' }, /secrets\[0\]\.id: must be an SSM path/],
    [
      { name: 'x', source: 'path', id: `/${'a/'.repeat(16)}` },
      /secrets\[0\]\.id: has more than 15 levels/,
    ],
    [
      { name: 'x', source: 'find', id: 'a b' },
      /secrets\[0\]\.id: must be the start of a Secrets Manager secret name/,
    ],
    [
      { name: 'x', source: 'find', id: 'a'.repeat(513) },
      /secrets\[0\]\.id: is 513 characters long; at most 512/,
    ],
    [{ name: 'x', source: 'find', id: 'a/', tag: 'team' }, /secrets\[0\]\.tag: must be key=value/],
    [
      { name: 'x', source: 'find', id: 'a/', tag: `${'k'.repeat(129)}=v` },
      /secrets\[0\]\.tag: has a key of 129 characters; at most 128/,
    ],
    [
      { name: 'x', source: 'path', id: '/a', tag: 'k=v' },
      /secrets\[0\]\.tag: applies to find sources only/,
    ],
    [{ name: 'x', id: 'a', tag: 'k=v' }, /secrets\[0\]\.tag: applies to find sources only/],
    [
      { name: 'x', source: 'parameter', id: '/a', versionStage: 'AWSPREVIOUS' },
      /secrets\[0\]\.versionStage: applies to Secrets Manager secrets only; select a parameter version with name:version or name:label/,
    ],
    [
      { name: 'x', source: 'find', id: 'a/', versionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111' },
      /secrets\[0\]\.versionId: applies to Secrets Manager secrets only, not to a find source/,
    ],
  ];
  for (const [secret, expected] of cases)
    t.match(configProblems([secret]).join('\n'), expected, String(expected));
  t.match(
    configProblems([
      { name: 'db', id: 'a' },
      { name: 'db', source: 'parameter', id: '/a' },
    ]).join('\n'),
    /secrets\[1\]\.name: "db" is already used by secrets\[0\]\.name/,
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

  const cases: [Record<string, string>, string][] = [
    [{ 'param-x': 'has space' }, `${P}param-x: must be an SSM parameter name`],
    [{ 'path-x': 'relative' }, `${P}path-x: must be an SSM path`],
    [{ 'find-x': 'a b' }, `${P}find-x: must be the start of a Secrets Manager secret name`],
    [{ 'find-x': 'a/', 'find-tag-x': 'novalue' }, `${P}find-tag-x: must be key=value`],
    [{ 'path-x': '/a', 'find-tag-x': 'k=v' }, `${P}find-tag-x: applies to find sources only`],
    [
      { 'find-tag-x': 'k=v', 'secret-y': 'a' },
      `${P}find-tag-x: no ${P}find-x names the secret "x"`,
    ],
    [
      { 'param-x': '/a', 'version-stage-x': 'AWSPREVIOUS' },
      `${P}version-stage-x: applies to Secrets Manager secrets only`,
    ],
    [
      { 'secret-x': 'a', 'param-x': '/a' },
      `${P}param-x: "x" is already named by ${P}secret-x: one name, one source`,
    ],
    [{ 'param-x': '/a', 'key-y': 'k' }, `${P}key-y: no ${P}secret-y names the secret "y"`],
  ];
  for (const [annotations, expected] of cases) {
    const got = annotationProblems(annotations);
    t.ok(
      got.some((p) => p.startsWith(expected)),
      `${expected}\n  got: ${got.join('\n  ')}`,
    );
  }
  t.same(annotationProblems({ 'param-x': '/a' }), [], 'a parameter alone opts a pod in');
  t.match(
    annotationProblems({ 'parm-x': '/a' }).join('\n'),
    /parm-x: .*did you mean/,
    'a typo of a new prefix gets a suggestion',
  );
});
