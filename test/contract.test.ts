/**
 * One contract: the injector admits exactly what the agent accepts. Over generated agent
 * configurations (valid and invalid values of every field a pod's annotations can set), the
 * configuration is written as annotations (this test's own mapping, independent of the
 * injector's), the pod goes through `admit`, and the configuration goes through the agent's own
 * `parseAgentConfig`. Both ways: a pod is injected if and only if the agent accepts the
 * configuration; and when it is, the agent configuration in the patch parses to the same
 * settings the annotations asked for. A denial names only annotations the pod carries.
 */
import fc from 'fast-check';
import t from 'tap';
import { annotationOf } from '../injector/problems.ts';
import {
  parseAgentConfig,
  type AgentConfig,
  type AgentConfigInput,
  type SecretInput,
} from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { resolveRegion } from '../common/region.ts';
import { admit } from '../injector/admission.ts';
import { agentConfigs, applyTo, patchOf, reviewFor } from './injector-support.ts';
import type { Pod } from '../injector/types.ts';

const P = 'secrets-agent.io/';

/**
 * Each field: values the agent accepts, and near misses it refuses, each wrong for one reason.
 * Names end with a letter or digit: an annotation key must (names ending "-" or "." are a limit
 * of annotation keys, not of the agent; the injector's own tests cover them).
 */
const VALUES = {
  name: [
    ['db', 'cfg.env', 'a_b', 'x1', 'A'],
    ['.hidden', '-x', 'a b', 'ä'],
  ],
  id: [
    [
      'prod/db',
      'arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf',
      'a+b=c@d',
      // Parameter names, selectors, ARNs and paths: valid for some sources, not for others.
      '/app/db/url',
      '/app/db/url:3',
      'plain:prod',
      'arn:aws:ssm:us-east-1:111122223333:parameter/app/x',
      // Another region: with any ARN above, the pod must name its region.
      'arn:aws:ssm:eu-west-1:111122223333:parameter/app/y',
      '/app/config/',
      'app/',
    ],
    ['', 'has space', 'x'.repeat(2049), 'a\u0000b', '/a//b', 'x:1:2', `/${'a/'.repeat(16)}`],
  ],
  source: [
    ['secretsmanager', 'parameter', 'path', 'find'],
    ['ssm', 'Parameter'],
  ],
  tag: [
    ['team=pay', 'a:b=c d', 'k='],
    ['team', '=v', `${'k'.repeat(129)}=v`],
  ],
  key: [
    ['password', 'a.b[0]', 'to_string(port)'],
    ['', 'a[', '[@,@]|'],
  ],
  template: [
    ['u={{ username }}', '{{json port}}'],
    ['{{#if}}', '{{log x}}', '{{ nope x }}', ''],
  ],
  format: [
    ['raw', 'json', 'yaml', 'dotenv', 'env', 'properties'],
    ['toml', 'RAW'],
  ],
  versionStage: [
    ['AWSPREVIOUS', 'AWSCURRENT'],
    ['AWS CURRENT', 'x'.repeat(257)],
  ],
  versionId: [['a1b2c3d4-5678-90ab-cdef-EXAMPLE11111'], ['v1', 'x'.repeat(65)]],
  mode: [
    ['0400', '400', '0o640', '0644'],
    ['0200', '999', 'rw'],
  ],
  refreshInterval: [
    ['5s', '24h', '1h30m', '1.5m'],
    ['4s', '25h', '1000h', '5 minutes', `${'9'.repeat(70)}h`],
  ],
  region: [
    ['us-east-1', 'eu-west-1', 'us-gov-west-1'],
    ['Europe', 'moon-1'],
  ],
  failoverRegion: [['us-west-2', 'eu-west-1'], ['west']],
  reloadUrl: [
    ['http://127.0.0.1:8080/-/reload', 'https://localhost/x'],
    ['http://10.0.0.1/', 'localhost:80'],
  ],
  k8sSecret: [
    ['app-secrets', 'a.b'],
    ['Bad_Name', 'a..b', 'a-.b', '-a'],
  ],
} as const;

const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arb, { nil: undefined, freq: 2 });
/** Mostly accepted values, so that both verdicts are common over a few fields. */
const pick = (k: keyof typeof VALUES): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...VALUES[k][0]), weight: 12 },
    { arbitrary: fc.constantFrom(...VALUES[k][1]), weight: 1 },
  );

/** A secret's optional fields: present and valid, present and wrong, or absent. */
const secretFields = fc.record(
  {
    source: maybe(pick('source')),
    id: pick('id'),
    // A tag is for find only: rarer, so that most configurations stay valid.
    tag: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 8 },
      { arbitrary: pick('tag'), weight: 1 },
    ),
    key: maybe(pick('key')),
    template: maybe(pick('template')),
    format: maybe(pick('format')),
    versionStage: maybe(pick('versionStage')),
    versionId: maybe(pick('versionId')),
    mode: maybe(pick('mode')),
    extract: maybe(fc.boolean()),
  },
  { requiredKeys: ['id'] },
);

const configs = fc
  .record({
    secrets: fc.uniqueArray(fc.tuple(pick('name'), secretFields), {
      minLength: 1,
      maxLength: 3,
      selector: ([name]) => name,
    }),
    refreshInterval: maybe(pick('refreshInterval')),
    region: maybe(pick('region')),
    failoverRegion: maybe(pick('failoverRegion')),
    reloadUrl: maybe(pick('reloadUrl')),
    k8sSecret: maybe(pick('k8sSecret')),
    localApi: maybe(
      fc.oneof(
        { arbitrary: fc.boolean(), weight: 12 },
        { arbitrary: fc.constantFrom('yes', 'True'), weight: 1 },
      ),
    ),
    localApiPort: maybe(
      fc.oneof(
        { arbitrary: fc.constantFrom(1024, 2773, 3000, 65535), weight: 12 },
        // Privileged, out of range, the agent's own health port, not a number.
        { arbitrary: fc.constantFrom(80, 65536, 9102, 'http'), weight: 2 },
      ),
    ),
  })
  .map(({ secrets, k8sSecret, ...rest }): AgentConfigInput => ({
    ...(dropUndefined(rest) as Omit<AgentConfigInput, 'secrets' | 'k8sSecret'>),
    ...(k8sSecret === undefined ? {} : { k8sSecret: { name: k8sSecret } }),
    secrets: secrets.map(([name, fields]) => ({
      name,
      ...(dropUndefined(fields) as Omit<SecretInput, 'name'>),
    })),
  }));

function dropUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The configuration as a pod author writes it: the README's annotation table. */
function annotationsFor(config: AgentConfigInput): Record<string, string> {
  const out: Record<string, string> = { [`${P}inject`]: 'true' };
  const top: [keyof AgentConfigInput, string][] = [
    ['refreshInterval', 'refresh-interval'],
    ['region', 'region'],
    ['failoverRegion', 'failover-region'],
    ['reloadUrl', 'reload-url'],
  ];
  for (const [field, key] of top) {
    const value = config[field];
    if (typeof value === 'string') out[`${P}${key}`] = value;
  }
  if (config.k8sSecret !== undefined) out[`${P}k8s-secret`] = config.k8sSecret.name;
  if (config.localApi !== undefined) out[`${P}local-api`] = String(config.localApi);
  if (config.localApiPort !== undefined) out[`${P}local-api-port`] = String(config.localApiPort);
  const sourcePrefix: Record<string, string> = {
    secretsmanager: 'secret-',
    parameter: 'param-',
    path: 'path-',
    find: 'find-',
  };
  const perSecret: [string, string][] = [
    ['tag', 'find-tag-'],
    ['key', 'key-'],
    ['template', 'template-'],
    ['format', 'format-'],
    ['versionStage', 'version-stage-'],
    ['versionId', 'version-id-'],
    ['mode', 'perms-'],
    ['extract', 'extract-'],
  ];
  for (const s of config.secrets) {
    // An unknown source has no annotation: the pod names it with an unknown prefix, denied.
    out[`${P}${sourcePrefix[s.source ?? 'secretsmanager'] ?? `${s.source ?? ''}-`}${s.name}`] =
      s.id;
    for (const [field, prefix] of perSecret) {
      const value = (s as unknown as Record<string, string | boolean | undefined>)[field];
      if (value !== undefined) out[`${P}${prefix}${s.name}`] = String(value);
    }
  }
  return out;
}

function podWith(annotations: Record<string, string>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'shop', annotations },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  };
}

/** What the agent makes of a configuration: its settings, or the fields it refuses. */
async function agentVerdict(config: unknown): Promise<AgentConfig | string> {
  try {
    return await parseAgentConfig(config);
  } catch (err) {
    if (err instanceof AgentError && err.code === 'CONFIG_INVALID') return err.message;
    throw err;
  }
}

/** The settings a pod's annotations choose, as the agent parsed them. */
function chosen(config: AgentConfig): unknown {
  const { secrets, refreshIntervalMs, failoverRegion, reloadUrl, k8sSecret } = config;
  // The region as the one chain resolves it (the injector writes it into the configuration; the
  // generated pods set no AWS_REGION and the injector has no default region).
  const region = resolveRegion({
    config: config.region,
    ids: secrets.map((s) => s.id),
    env: () => undefined,
  })?.region;
  // Annotations have no order: the injector lists the secrets by file name.
  const byName = [...secrets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // The port matters only with the local API on (the injector passes it only then).
  const localApi = config.localApi ? config.localApiPort : false;
  return {
    secrets: byName,
    refreshIntervalMs,
    region,
    failoverRegion,
    reloadUrl,
    k8sSecret,
    localApi,
  };
}

t.test(
  'the injector admits exactly what the agent accepts, and passes it on unchanged',
  async (t) => {
    let admitted = 0;
    let refused = 0;
    const property = fc.asyncProperty(configs, async (config) => {
      const annotations = annotationsFor(config);
      const pod = podWith(annotations);
      const result = admit(reviewFor(pod));
      const verdict = await agentVerdict({ ...config, mode: 'sidecar', outputDir: '/secrets' });
      if (typeof verdict === 'string') {
        refused++;
        if (result.outcome !== 'denied')
          throw new Error(`injected, but the agent refuses: ${verdict}`);
        for (const p of result.problems ?? []) {
          if (!(annotationOf(p) in annotations))
            throw new Error(`the denial names ${annotationOf(p)}, which the pod does not carry`);
        }
        return;
      }
      admitted++;
      if (result.outcome !== 'injected') {
        const why = (result.problems ?? [])
          .map((p) => `${annotationOf(p)}: ${p.message}`)
          .join('; ');
        throw new Error(`the agent accepts, but the injector says ${result.outcome}: ${why}`);
      }
      const [emitted] = agentConfigs(applyTo(pod, patchOf(result)));
      const parsed = await parseAgentConfig(emitted);
      const [got, wanted] = [JSON.stringify(chosen(parsed)), JSON.stringify(chosen(verdict))];
      if (got !== wanted)
        throw new Error(`the agent gets ${got}, the annotations asked for ${wanted}`);
    });
    // Enough runs that both verdicts are common whatever the seed (the new sources refuse more).
    await fc.assert(property, { numRuns: 1000 });
    // The generator reaches both sides, so neither direction holds vacuously.
    t.ok(admitted > 50, `${admitted} configurations accepted by both`);
    t.ok(refused > 50, `${refused} configurations refused by both`);
  },
);
