/**
 * Corporate and regulated clusters: `proxy-address` sends the agent's AWS calls through an
 * HTTP(S) proxy, `use-fips-endpoint` makes the SDK resolve AWS's FIPS endpoints. Each is an
 * annotation with an injector default, checked by the agent schema's one rule; the agent's
 * calls are watched going through a CONNECT proxy on loopback.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { annotationPath } from '../injector/problems.ts';
import { checkAgentConfig } from '../common/config.ts';
import { startDevServer } from '../dev/server.ts';
import { parseAnnotations } from '../injector/annotations.ts';
import { injectPod } from '../injector/inject.ts';
import { DEFAULT_INJECTOR_OPTIONS, type InjectorOptions } from '../injector/plan.ts';
import type { Pod } from '../injector/types.ts';
import { parseWebhookConfig } from '../injector/webhook-command.ts';
import { agentEnv, ROOT, runAgent } from './helpers/agent-process.ts';
import { runCli } from './helpers/cli.ts';
import { makeCa, makePair } from './helpers/certs.ts';
import { startConnectProxy, startTlsFront } from './helpers/connect-proxy.ts';
import { agentConfigs } from './injector-support.ts';

const P = 'secrets-agent.io/';

function pod(annotations: Record<string, string>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'app',
      namespace: 'shop',
      annotations: { [`${P}inject`]: 'true', [`${P}secret-db`]: 'prod/db', ...annotations },
    },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  };
}

function configOf(p: Pod, options: Partial<InjectorOptions> = {}): Record<string, unknown> {
  const result = injectPod(p, {
    ...DEFAULT_INJECTOR_OPTIONS,
    defaultRegion: 'eu-west-1',
    ...options,
  });
  if (result.outcome !== 'injected') throw new Error(`not injected: ${JSON.stringify(result)}`);
  return agentConfigs(result.pod)[0] as Record<string, unknown>;
}

t.test('the annotations reach the agent configuration; the injector defaults fill in', (t) => {
  const annotated = configOf(
    pod({ [`${P}proxy-address`]: 'http://proxy.internal:3128', [`${P}use-fips-endpoint`]: 'true' }),
  );
  t.equal(annotated['proxyAddress'], 'http://proxy.internal:3128');
  t.equal(annotated['useFipsEndpoint'], true);
  const plain = configOf(pod({}));
  t.notOk('proxyAddress' in plain, 'no proxy unless asked');
  t.notOk('useFipsEndpoint' in plain);
  const defaults = { defaultProxyAddress: 'http://egress:8080', defaultUseFipsEndpoint: true };
  const byDefault = configOf(pod({}), defaults);
  t.equal(byDefault['proxyAddress'], 'http://egress:8080');
  t.equal(byDefault['useFipsEndpoint'], true);
  const overridden = configOf(
    pod({ [`${P}proxy-address`]: 'http://other:3128', [`${P}use-fips-endpoint`]: 'false' }),
    defaults,
  );
  t.equal(overridden['proxyAddress'], 'http://other:3128', "the pod's own proxy wins");
  t.notOk('useFipsEndpoint' in overridden, 'the pod can turn FIPS off');
  t.end();
});

t.test('bad values are denied naming the annotation; a typo gets "did you mean"', (t) => {
  const proxy = (value: string) => ({
    kind: 'invalid',
    path: annotationPath('proxy-address'),
    field: ['proxyAddress'],
    badValue: value,
  });
  const cases: [string, string, object][] = [
    ['proxy-address', 'proxy.internal:3128', proxy('proxy.internal:3128')],
    ['proxy-address', 'not a url', proxy('not a url')],
    // A user or password is never kept, nor quoted back.
    [
      'proxy-address',
      'http://user:pw@proxy:3128',
      { kind: 'invalid', path: annotationPath('proxy-address'), field: ['proxyAddress'] },
    ],
    ['proxy-address', 'http://proxy:3128/path', proxy('http://proxy:3128/path')],
    [
      'use-fips-endpoint',
      'yes',
      { kind: 'invalid', path: annotationPath('use-fips-endpoint'), badValue: 'yes' },
    ],
  ];
  for (const [key, value, expected] of cases) {
    const result = parseAnnotations(pod({ [`${P}${key}`]: value }).metadata?.annotations);
    t.notOk(result.ok, `${key}: ${value} is denied`);
    if (result.ok) continue;
    const { kind, path, field, badValue } = result.problems[0] ?? {};
    t.same(
      { kind, path, field, badValue },
      { field: undefined, badValue: undefined, ...expected },
      value,
    );
    t.equal(result.problems.length, 1);
    t.notMatch(result.problems[0]?.message, /pw/, 'a credential is never quoted back');
  }
  // The suggestion is words only: the kind and path say what, the message says which instead.
  const typo = parseAnnotations(pod({ [`${P}proxy-adress`]: 'http://p:1' }).metadata?.annotations);
  t.match(!typo.ok && typo.problems[0], { kind: 'unknown', path: annotationPath('proxy-adress') });
  t.match(!typo.ok && typo.problems[0]?.message, /did you mean secrets-agent\.io\/proxy-address\?/);
  const fips = parseAnnotations(pod({ [`${P}use-fips-endpoints`]: 'true' }).metadata?.annotations);
  t.match(!fips.ok && fips.problems[0], {
    kind: 'unknown',
    path: annotationPath('use-fips-endpoints'),
  });
  t.match(
    !fips.ok && fips.problems[0]?.message,
    /did you mean secrets-agent\.io\/use-fips-endpoint/,
  );
  const schema = checkAgentConfig({ secrets: [{ name: 'a', id: 'b' }], useFipsEndpoint: 'yes' });
  t.match(!schema.ok && schema.problems[0], { kind: 'invalid', path: ['useFipsEndpoint'] });
  t.end();
});

t.test("the agent's AWS calls go through the proxy, as CONNECT tunnels", async (t) => {
  const dev = await startDevServer({
    seed: { secrets: [{ name: 'prod/db', value: { password: 'p' } }] },
  });
  t.teardown(() => dev.close());
  const ca = makeCa();
  const front = await startTlsFront(makePair(ca), dev.port);
  t.teardown(() => front.close());
  const proxy = await startConnectProxy();
  t.teardown(() => proxy.close());
  const dir = await mkdtemp(join(tmpdir(), 'sa-proxy-'));
  await writeFile(join(dir, 'ca.crt'), ca.cert);
  const run = (extra: Record<string, unknown>): ReturnType<typeof runAgent> =>
    runAgent(
      [
        '--config-json',
        JSON.stringify({
          mode: 'init',
          outputDir: join(dir, 'out'),
          httpPort: 0,
          initTimeout: '5s',
          terminationLogPath: join(dir, 'termination-log'),
          region: 'us-east-1',
          secrets: [{ name: 'db', id: 'prod/db' }],
          ...extra,
        }),
      ],
      agentEnv(`https://localhost:${front.port}`, {
        NODE_EXTRA_CA_CERTS: join(dir, 'ca.crt'),
      }),
    );
  const direct = await run({});
  t.equal(direct.code, 0, direct.stderr);
  t.same(proxy.records, [], 'without proxyAddress, nothing goes through the proxy');
  const proxied = await run({ proxyAddress: proxy.url });
  t.equal(proxied.code, 0, proxied.stderr);
  t.match(await readFile(join(dir, 'out', 'db'), 'utf8'), /"password":"p"/);
  t.ok(proxy.records.length >= 1, 'the call went through the proxy');
  t.same(
    proxy.records.map((r) => [r.kind, r.target]),
    proxy.records.map(() => ['connect', `localhost:${front.port}`]),
    'each one a CONNECT tunnel to the endpoint',
  );
});

t.test('FIPS: with no endpoint override the SDK asks for the FIPS host', async (t) => {
  const proxy = await startConnectProxy();
  t.teardown(() => proxy.close());
  const dir = await mkdtemp(join(tmpdir(), 'sa-fips-'));
  const run = async (useFipsEndpoint: boolean): Promise<string[]> => {
    const before = proxy.records.length;
    const env = agentEnv('unused');
    delete env['AWS_ENDPOINT_URL'];
    // The proxy refuses every host that is not loopback: no call leaves the machine, and what
    // the agent asked for is recorded.
    const result = await runAgent(
      [
        '--config-json',
        JSON.stringify({
          mode: 'init',
          outputDir: join(dir, 'out'),
          httpPort: 0,
          initTimeout: '1s',
          terminationLogPath: join(dir, 'termination-log'),
          region: 'us-gov-west-1',
          proxyAddress: proxy.url,
          useFipsEndpoint,
          secrets: [{ name: 'db', id: 'prod/db' }],
        }),
      ],
      env,
    );
    t.not(result.code, 0, 'the refused call fails the init');
    return [...new Set(proxy.records.slice(before).map((r) => r.target))];
  };
  t.same(await run(true), ['secretsmanager-fips.us-gov-west-1.amazonaws.com:443']);
  t.same(await run(false), ['secretsmanager.us-gov-west-1.amazonaws.com:443']);
});

t.test('the injector flags: inject and webhook take the defaults, and check them', async (t) => {
  const file = join(ROOT, 'manifests/examples/catalog/deployment.yaml');
  const flags = ['--default-region', 'us-east-1', '--default-proxy', 'http://egress:3128'];
  const run = await runCli(['inject', ...flags, '--default-fips', '-f', file, '-o', 'json']);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /\\"proxyAddress\\":\\"http:\/\/egress:3128\\"/);
  t.match(run.stdout, /\\"useFipsEndpoint\\":true/);
  const bad = await runCli(['inject', '--default-proxy', 'egress:3128', '-f', file]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--default-proxy \(SECRETS_AGENT_DEFAULT_PROXY\) must be an http/);
  const config = parseWebhookConfig(['--tls-cert-file', 'c', '--tls-key-file', 'k'], {
    SECRETS_AGENT_WEBHOOK_DEFAULT_PROXY: 'http://egress:3128',
    SECRETS_AGENT_WEBHOOK_DEFAULT_FIPS: 'true',
  });
  t.match(config !== 'help' && config.injector, {
    defaultProxyAddress: 'http://egress:3128',
    defaultUseFipsEndpoint: true,
  });
});
