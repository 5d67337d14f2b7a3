/**
 * The agent's region, resolved in the order users can predict: annotation (or config), the
 * secrets' ARNs, the app's AWS_REGION, the injector's --default-region, the instance metadata
 * service; a warning at admission when nothing applies, and a clear error from the agent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { resolveRegion } from '../agent/region.ts';
import { parseAgentConfig } from '../common/config.ts';
import { AgentError } from '../common/errors.ts';
import { admit } from '../injector/admission.ts';
import { DEFAULT_INJECTOR_OPTIONS, NO_REGION_WARNING } from '../injector/plan.ts';
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
  // ARNs in two regions say nothing about one region.
  const two = pod({
    'secrets-agent.io/secret-a': ARN,
    'secrets-agent.io/secret-b': ARN.replace('eu-central-1', 'us-east-1'),
  });
  t.same(injected(two), { warnings: [NO_REGION_WARNING] });
  t.end();
});

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
    /no AWS region: set region .*--default-region; the instance metadata service did not answer/,
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
