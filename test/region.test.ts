/**
 * The agent's region, resolved in the order users can predict: annotation (or config), the
 * secrets' ARNs, the app's AWS_REGION, the injector's --default-region, the instance metadata
 * service; a warning at admission when nothing applies, and a clear error from the agent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { resolveRegion } from '../agent/region.ts';
import { checkAgentConfig, parseAgentConfig, type AgentConfigInput } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { admit } from '../injector/admission.ts';
import { DEFAULT_INJECTOR_OPTIONS, NO_REGION_WARNING } from '../injector/plan.ts';
import { annotationPath } from '../injector/problems.ts';
import type { Pod } from '../injector/types.ts';
import { needs } from './helpers/needs.ts';
import { agentConfigs, applyTo, patchOf, reviewFor } from './injector-support.ts';

const ARN = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:prod/db-AbCdEf';

function pod(
  annotations: Record<string, string>,
  env: { name: string; value: string }[] = [],
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      annotations: { 'secrets-agent.io/inject': 'true', ...annotations },
    },
    spec: { containers: [{ name: 'app', image: 'app', env }] },
  };
}

function injected(p: Pod, defaultRegion?: string): { region?: string; warnings: string[] } {
  const options = {
    ...DEFAULT_INJECTOR_OPTIONS,
    ...(defaultRegion === undefined ? {} : { defaultRegion }),
  };
  const result = admit(reviewFor(p), options);
  const [config] = agentConfigs(applyTo(p, patchOf(result))) as { region?: string }[];
  return {
    ...(config?.region === undefined ? {} : { region: config.region }),
    warnings: [...(result.review.response.warnings ?? [])],
  };
}

t.test('the injector: annotation, ARN, the app’s AWS_REGION, the default; else a warning', (t) => {
  const env = [{ name: 'AWS_REGION', value: 'ap-south-1' }];
  t.same(
    injected(
      pod({ 'secrets-agent.io/secret-db': ARN, 'secrets-agent.io/region': 'us-east-2' }, env),
      'us-west-1',
    ),
    { region: 'us-east-2', warnings: [] },
  );
  t.same(injected(pod({ 'secrets-agent.io/secret-db': ARN }, env), 'us-west-1'), {
    region: 'eu-central-1',
    warnings: [],
  });
  t.same(injected(pod({ 'secrets-agent.io/secret-db': 'prod/db' }, env), 'us-west-1'), {
    region: 'ap-south-1',
    warnings: [],
  });
  t.same(injected(pod({ 'secrets-agent.io/secret-db': 'prod/db' }), 'us-west-1'), {
    region: 'us-west-1',
    warnings: [],
  });
  t.same(injected(pod({ 'secrets-agent.io/secret-db': 'prod/db' })), {
    warnings: [NO_REGION_WARNING],
  });
  t.ok(NO_REGION_WARNING.length <= 120, 'the warning fits the API server’s limit');
  t.end();
});

/** The schema's problems with a configuration file, by kind, path and the fields they name. */
function problemsOf(file: AgentConfigInput): unknown[] {
  const checked = checkAgentConfig(file);
  return checked.ok ? [] : checked.problems.map(({ kind, path, refs }) => ({ kind, path, refs }));
}

const SSM_ARN = 'arn:aws:ssm:us-east-1:111122223333:parameter/app/url';

t.test('SSM ARNs name the region as Secrets Manager ARNs do', async (t) => {
  t.same(injected(pod({ 'secrets-agent.io/param-url': SSM_ARN }), 'us-west-1'), {
    region: 'us-east-1',
    warnings: [],
  });
  const config = await parseAgentConfig({
    secrets: [{ name: 'url', source: 'parameter', id: SSM_ARN }],
  });
  t.same(await resolveRegion(config, { AWS_REGION: 'ap-south-1' }), {
    region: 'us-east-1',
    from: 'arn',
  });
});

t.test('ARNs in different regions: denied at admission and refused by the agent', async (t) => {
  const annotations = {
    'secrets-agent.io/secret-a': ARN,
    'secrets-agent.io/param-b': SSM_ARN,
  };
  const result = admit(reviewFor(pod(annotations)), {
    ...DEFAULT_INJECTOR_OPTIONS,
    defaultRegion: 'us-west-1',
  });
  t.equal(result.outcome, 'denied');
  t.same(
    (result.problems ?? []).map(({ kind, path, field, refs }) => ({ kind, path, field, refs })),
    [
      {
        kind: 'forbidden',
        path: annotationPath('param-b'),
        field: ['secrets', 1, 'id'],
        // The other source, and the way out.
        refs: [annotationPath('secret-a'), annotationPath('region')],
      },
    ],
    'the problem is on the source that names the second region',
  );
  t.same(injected(pod({ ...annotations, 'secrets-agent.io/region': 'eu-central-1' })), {
    region: 'eu-central-1',
    warnings: [],
  });
  // The agent, from a file, refuses the same configuration in its own terms (field paths).
  const file = {
    secrets: [
      { name: 'a', id: ARN },
      { name: 'b', source: 'parameter', id: SSM_ARN },
    ],
  };
  const refused = await parseAgentConfig(file).catch((err: unknown) => err);
  t.ok(refused instanceof AgentError && refused.code === 'CONFIG_INVALID', 'exit 78');
  t.same(problemsOf(file), [
    { kind: 'forbidden', path: ['secrets', 1, 'id'], refs: [['secrets', 0, 'id'], ['region']] },
  ]);
  t.notMatch((refused as Error).message, /secrets-agent\.io/, 'no annotation in a file’s error');
  // The failover region must differ from the region the ARNs name, as from a named one.
  t.same(problemsOf({ failoverRegion: 'eu-central-1', secrets: [{ name: 'a', id: ARN }] }), [
    { kind: 'duplicate', path: ['failoverRegion'], refs: [['secrets', 0, 'id']] },
  ]);
  const sameRegion = admit(
    reviewFor(
      pod({ 'secrets-agent.io/secret-a': ARN, 'secrets-agent.io/failover-region': 'eu-central-1' }),
    ),
  );
  t.same(
    (sameRegion.problems ?? []).map(({ kind, path, refs }) => ({ kind, path, refs })),
    [
      {
        kind: 'duplicate',
        path: annotationPath('failover-region'),
        refs: [annotationPath('secret-a')],
      },
    ],
  );
  const named = await parseAgentConfig({ ...file, region: 'us-east-1' });
  t.same(await resolveRegion(named, {}), { region: 'us-east-1', from: 'config' });
});

t.test(
  'the injector and the agent walk one chain: the region the pod gets is the agent’s',
  async (t) => {
    const arns = fc.constantFrom(
      'prod/db',
      ARN,
      SSM_ARN,
      'arn:aws:ssm:eu-central-1:111122223333:parameter/x',
      'arn:aws:secretsmanager:ap-south-1:111122223333:secret:y-AbCdEf',
    );
    const region = fc.option(fc.constantFrom('us-east-2', 'eu-west-1'), {
      nil: undefined,
      freq: 1,
    });
    const cases = fc.record({
      ids: fc.array(arns, { minLength: 1, maxLength: 3 }),
      annotated: region,
      awsRegion: region,
      awsDefaultRegion: region,
      fallback: region,
    });
    let denied = 0;
    let injected = 0;
    await fc.assert(
      fc.asyncProperty(cases, async ({ ids, annotated, awsRegion, awsDefaultRegion, fallback }) => {
        const env: Record<string, string> = {};
        if (awsRegion !== undefined) env['AWS_REGION'] = awsRegion;
        if (awsDefaultRegion !== undefined) env['AWS_DEFAULT_REGION'] = awsDefaultRegion;
        const secrets = ids.map((id, i) =>
          id.includes(':ssm:') ? { name: `s${i}`, source: 'parameter', id } : { name: `s${i}`, id },
        );
        const annotations: Record<string, string> = {};
        for (const s of secrets)
          annotations[`secrets-agent.io/${s.source === undefined ? 'secret' : 'param'}-${s.name}`] =
            s.id;
        if (annotated !== undefined) annotations['secrets-agent.io/region'] = annotated;
        const p = pod(
          annotations,
          Object.entries(env).map(([name, value]) => ({ name, value })),
        );
        const result = admit(reviewFor(p), {
          ...DEFAULT_INJECTOR_OPTIONS,
          ...(fallback === undefined ? {} : { defaultRegion: fallback }),
        });
        // The agent run by hand with the same secrets, region and environment.
        const byHand = await parseAgentConfig({
          ...(annotated === undefined ? {} : { region: annotated }),
          secrets,
        }).catch(() => undefined);
        if (result.outcome === 'denied') {
          denied++;
          if (byHand !== undefined) throw new Error('denied, but the agent accepts it');
          return;
        }
        if (byHand === undefined) throw new Error('injected, but the agent refuses it');
        injected++;
        const [config] = agentConfigs(applyTo(p, patchOf(result))) as { region?: string }[];
        // Where the agent by hand would find no region, the injector's default stands in.
        const agent = await resolveRegion(byHand, {
          ...env,
          AWS_EC2_METADATA_DISABLED: 'true',
        }).catch(() => undefined);
        const want = agent?.region ?? fallback;
        if (config?.region !== want)
          throw new Error(`the pod gets ${config?.region}, the agent resolves ${want}`);
      }),
      { numRuns: 300 },
    );
    t.ok(denied > 30, `${denied} pods with ARNs in two regions denied`);
    t.ok(injected > 100, `${injected} pods injected`);
  },
);

/** A loopback stand-in for the instance metadata service's IMDSv2 calls. */
async function imds(t: Test, region: string): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    calls.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') return res.end('tok');
    const ok = req.headers['x-aws-ec2-metadata-token'] === 'tok';
    if (req.url === '/latest/meta-data/placement/region' && ok) return res.end(region);
    res.writeHead(401).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

t.test('the agent: config, ARN, environment, IMDS; else a clear error', async (t) => {
  const plain = await parseAgentConfig({ secrets: [{ name: 'db', id: 'prod/db' }] });
  const byArn = await parseAgentConfig({ secrets: [{ name: 'db', id: ARN }] });
  const withRegion = await parseAgentConfig({
    region: 'us-east-2',
    secrets: [{ name: 'db', id: ARN }],
  });
  const meta = await imds(t, 'sa-east-1');
  const offline = { AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1' };
  t.same(await resolveRegion(withRegion, { AWS_REGION: 'x' }), {
    region: 'us-east-2',
    from: 'config',
  });
  t.same(await resolveRegion(byArn, { AWS_REGION: 'ap-south-1' }), {
    region: 'eu-central-1',
    from: 'arn',
  });
  t.same(await resolveRegion(plain, { AWS_DEFAULT_REGION: 'ap-south-1' }), {
    region: 'ap-south-1',
    from: 'env',
  });
  t.same(await resolveRegion(plain, { AWS_PROFILE: 'p' }), { from: 'profile' });
  for (const env of [{ AWS_REGION: 'not a region' }, { AWS_DEFAULT_REGION: 'us-east-1x!' }]) {
    const bad = await resolveRegion(plain, env).catch((err: unknown) => err);
    t.ok(bad instanceof AgentError && bad.code === 'CONFIG_INVALID', 'a bad env region: exit 78');
    t.match((bad as Error).message, /^AWS_(DEFAULT_)?REGION \(the region from the environment\) /);
  }
  t.same(await resolveRegion(plain, { AWS_EC2_METADATA_SERVICE_ENDPOINT: meta.url }), {
    region: 'sa-east-1',
    from: 'imds',
  });
  t.same(meta.calls, ['PUT /latest/api/token', 'GET /latest/meta-data/placement/region'], 'IMDSv2');
  const none = await resolveRegion(plain, offline).catch((err: unknown) => err);
  t.ok(none instanceof AgentError && none.code === 'CONFIG_INVALID');
  t.match(
    (none as Error).message,
    /no AWS region: set region in the configuration, AWS_REGION or AWS_DEFAULT_REGION; the instance metadata service did not answer/,
  );
  const disabled = await resolveRegion(plain, {
    ...offline,
    AWS_EC2_METADATA_DISABLED: 'true',
  }).catch((err: unknown) => err);
  t.notMatch((disabled as Error).message, /metadata/);
  t.equal(meta.calls.length, 2, 'disabled means not asked');
});

t.test(
  'the shipped manifests set the injector’s default region, the one thing to edit',
  needs(t, 'kubectl'),
  async (t) => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { parseAllDocuments } = await import('yaml');
    const { regionProblem } = await import('../common/config.ts');
    const { stdout } = await promisify(execFile)('kubectl', ['kustomize', 'manifests']);
    const deployment = parseAllDocuments(stdout)
      .map(
        (d) =>
          d.toJS() as {
            kind?: string;
            spec?: {
              template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
            };
          },
      )
      .find((o) => o.kind === 'Deployment');
    const env = deployment?.spec?.template.spec.containers[0]?.env ?? [];
    const region = env.find((e) => e.name === 'SECRETS_AGENT_WEBHOOK_DEFAULT_REGION')?.value;
    t.ok(region !== undefined && regionProblem(region) === undefined, `default region ${region}`);
  },
);
