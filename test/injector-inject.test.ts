/**
 * `secrets-agent inject` as a real process: every workload kind in one multi-document file, a
 * ConfigMap and a List; other objects pass through; bad annotations exit 1 naming each object.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { checkAgentConfig } from '../common/config.ts';
import { ENGINES } from '../injector/annotations.ts';
import type { Container, Pod } from '../injector/types.ts';
import { runCli } from './helpers/cli.ts';
import { agentConfigs, FIXTURES, podInvariantProblems, validatePod } from './injector-support.ts';

const WORKLOADS = join(FIXTURES, 'workloads.yaml');

const cli = runCli;

type Obj = Record<string, unknown>;

function docs(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj);
}

function at(obj: unknown, ...path: string[]): unknown {
  let v = obj;
  for (const key of path) v = (v as Obj | undefined)?.[key];
  return v;
}

function templateOf(obj: Obj): Pod {
  const kind = obj['kind'];
  if (kind === 'Pod') return obj as unknown as Pod;
  const path =
    kind === 'CronJob' ? ['spec', 'jobTemplate', 'spec', 'template'] : ['spec', 'template'];
  return at(obj, ...path) as Pod;
}

function agentNames(pod: Pod): string[] {
  const all: Container[] = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  return all.map((c) => c.name).filter((n) => n.startsWith('secrets-agent'));
}

function checkInjected(t: Test, name: string, template: Pod): void {
  const pod = { apiVersion: 'v1', kind: 'Pod', ...template } as Pod;
  t.equal(
    pod.metadata?.annotations?.['secrets-agent.io/status'],
    'injected',
    `${name}: marked injected`,
  );
  t.doesNotThrow(() => validatePod(pod), `${name}: a valid pod template`);
  t.same(podInvariantProblems(pod), [], `${name}: invariants`);
  for (const config of agentConfigs(pod))
    t.ok(checkAgentConfig(config, ENGINES).ok, `${name}: the agent accepts its config`);
}

t.test('every workload kind in a multi-document file', async (t) => {
  const run = await cli(['inject', '-f', WORKLOADS]);
  t.equal(run.code, 0, run.stderr);
  t.match(
    run.stderr,
    /^warning: Job migrate: secrets-agent: runs to completion and native sidecars are off/m,
    'the Job fallback is reported',
  );
  const input = docs(readFileSync(WORKLOADS, 'utf8'));
  const output = docs(run.stdout);
  t.equal(output.length, input.length, 'one document out per document in');
  t.same(
    output.map((d) => d['kind']),
    input.map((d) => d['kind']),
    'same kinds, same order',
  );

  const expected: Record<string, string[]> = {
    'Pod single': ['secrets-agent'],
    'Deployment web': ['secrets-agent-init', 'secrets-agent'],
    'StatefulSet db': ['secrets-agent'],
    'DaemonSet agent': ['secrets-agent-init'],
    'ReplicaSet rs': ['secrets-agent'],
    'Job migrate': ['secrets-agent-init'],
    'CronJob nightly': ['secrets-agent'],
  };
  for (const obj of output) {
    const name = `${String(obj['kind'])} ${String(at(obj, 'metadata', 'name'))}`;
    const agents = expected[name];
    if (agents === undefined) continue;
    const template = templateOf(obj);
    t.same(agentNames(template), agents, `${name}: agent containers`);
    checkInjected(t, name, template);
  }
  t.equal(
    at(templateOf(output[6] ?? {}), 'spec', 'initContainers', '0', 'restartPolicy'),
    'Always',
    'the CronJob gets the native sidecar',
  );
  t.end();
});

t.test('everything else passes through unchanged', async (t) => {
  const run = await cli(['inject', '-f', WORKLOADS]);
  const input = docs(readFileSync(WORKLOADS, 'utf8'));
  const output = docs(run.stdout);
  const byName = (list: Obj[], kind: string, name: string): Obj | undefined =>
    list.find((d) => d['kind'] === kind && at(d, 'metadata', 'name') === name);
  t.same(byName(output, 'ConfigMap', 'settings'), byName(input, 'ConfigMap', 'settings'));
  t.match(
    run.stdout,
    /# A ConfigMap passes through untouched, comments included\.\napiVersion: v1\nkind: ConfigMap/,
    'its comments too',
  );
  t.match(run.stdout, /LOG_LEVEL: info # inline comment/);
  t.same(
    byName(output, 'Deployment', 'bystander'),
    byName(input, 'Deployment', 'bystander'),
    'a workload that did not opt in',
  );
  const list = output.find((d) => d['kind'] === 'List');
  const items = (list?.['items'] ?? []) as Obj[];
  t.same(
    items[0],
    ((input.find((d) => d['kind'] === 'List')?.['items'] ?? []) as Obj[])[0],
    'a Service inside a List',
  );
  t.same(
    agentNames(templateOf(items[1] ?? {})),
    ['secrets-agent'],
    'a Deployment inside a List is injected',
  );
  t.end();
});

t.test('injecting the output again changes nothing', async (t) => {
  const first = await cli(['inject', '-f', WORKLOADS]);
  const second = await cli(['inject', '-f', '-'], { stdin: first.stdout });
  t.equal(second.code, 0, second.stderr);
  t.same(docs(second.stdout), docs(first.stdout));
  t.end();
});

t.test('JSON in (stdin), JSON out; YAML in, -o json gives a List', async (t) => {
  const pod = parse(readFileSync(join(FIXTURES, 'minimal.yaml'), 'utf8')) as Obj;
  const run = await cli(['inject', '-f', '-'], { stdin: JSON.stringify(pod) });
  t.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as Pod;
  t.same(agentNames(out), ['secrets-agent']);
  const list = await cli(['inject', '-f', WORKLOADS, '-o', 'json']);
  const parsed = JSON.parse(list.stdout) as Obj;
  t.equal(parsed['kind'], 'List');
  t.equal((parsed['items'] as unknown[]).length, docs(readFileSync(WORKLOADS, 'utf8')).length);
  t.end();
});

t.test('flags and their environment twins', async (t) => {
  const file = join(FIXTURES, 'minimal.yaml');
  const byEnv = await cli(['inject', '-f', file], {
    env: {
      SECRETS_AGENT_IMAGE: 'registry.example.com/secrets-agent:9.9.9',
      SECRETS_AGENT_NATIVE_SIDECAR: 'false',
      SECRETS_AGENT_DEFAULT_REGION: 'eu-north-1',
    },
  });
  t.equal(byEnv.code, 0, byEnv.stderr);
  const pod = parse(byEnv.stdout) as Pod;
  t.same(agentNames(pod), ['secrets-agent-init', 'secrets-agent'], 'native sidecars off');
  t.equal(pod.spec.initContainers?.[0]?.image, 'registry.example.com/secrets-agent:9.9.9');
  t.match(agentConfigs(pod)[0], { region: 'eu-north-1' });
  const byFlag = await cli(
    ['inject', '--filename', file, '--native-sidecar', 'true', '--image', 'x:1'],
    { env: { SECRETS_AGENT_NATIVE_SIDECAR: 'false' } },
  );
  t.same(
    agentNames(parse(byFlag.stdout) as Pod),
    ['secrets-agent'],
    'the flag wins over the env var',
  );
  const byEnvFile = await cli(['inject'], { env: { SECRETS_AGENT_INJECT_FILE: file } });
  t.equal(byEnvFile.code, 0, 'SECRETS_AGENT_INJECT_FILE');
  const help = await cli(['inject', '--help']);
  t.equal(help.code, 0);
  for (const env of [
    'SECRETS_AGENT_INJECT_FILE',
    'SECRETS_AGENT_IMAGE',
    'SECRETS_AGENT_DEFAULT_REGION',
    'SECRETS_AGENT_NATIVE_SIDECAR',
    'SECRETS_AGENT_INJECT_OUTPUT',
  ]) {
    t.match(help.stdout, env, `--help documents ${env}`);
  }
  t.end();
});

t.test('usage errors exit 2', async (t) => {
  const cases: string[][] = [
    ['inject'],
    ['inject', '-f', WORKLOADS, '-o', 'xml'],
    ['inject', '-f', WORKLOADS, '--native-sidecar', 'maybe'],
    ['inject', '--bogus'],
  ];
  for (const args of cases) {
    const run = await cli(args);
    t.equal(run.code, 2, args.join(' '));
    t.match(run.stderr, /^secrets-agent inject: /, args.join(' '));
    t.equal(run.stdout, '');
  }
  t.end();
});

t.test('bad annotations: exit 1, every object named, nothing printed', async (t) => {
  const run = await cli([
    'inject',
    '-f',
    join(FIXTURES, 'bad-workloads.yaml'),
    '--default-region',
    'eu-west-1',
  ]);
  t.equal(run.code, 1);
  t.equal(run.stdout, '', 'no half-injected output');
  // One problem per line, as the agent prints its own.
  t.match(
    run.stderr,
    'secrets-agent inject: Deployment shop/typo: 1 problem with secrets-agent.io annotations:\n  secrets-agent.io/refresh-intervall: unknown annotation; did you mean secrets-agent.io/refresh-interval?\n',
  );
  t.match(
    run.stderr,
    /secrets-agent inject: Pod bad-env: 2 problems with secrets-agent\.io annotations:\n {2}secrets-agent\.io\/env-DB_PASSWORD: needs secrets-agent\.io\/k8s-secret[^\n]*\n {2}secrets-agent\.io\/containers: no container or init container named "ghost"/,
  );
  t.notMatch(run.stderr, /fine/, 'good objects are not mentioned');
  t.end();
});

t.test(
  'unreadable input: a missing file, broken YAML, a workload without a pod spec',
  async (t) => {
    const missing = await cli(['inject', '-f', join(FIXTURES, 'nope.yaml')]);
    t.equal(missing.code, 1);
    t.match(missing.stderr, /ENOENT/);
    const broken = await cli(['inject', '-f', '-'], { stdin: 'a: [unclosed\n' });
    t.equal(broken.code, 1);
    t.match(broken.stderr, /document 1: /);
    const noSpec = await cli(['inject', '-f', '-'], {
      stdin: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\nspec: {}\n',
    });
    t.equal(noSpec.code, 1);
    t.match(noSpec.stderr, /Deployment x: spec\.template: invalid pod/);
    t.end();
  },
);
