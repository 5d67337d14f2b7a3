/**
 * The injector and the agent agree: the agent container taken from `secrets-agent inject`
 * output, run with its own args and env (the volume mapped to a local folder, the AWS
 * endpoint pointed at `secrets-agent dev`), writes the files the app's mount expects.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { startDevServer } from '../dev/server.ts';
import { parseAgentConfig } from '../common/config.ts';
import {
  CLI,
  ROOT,
  agentEnv,
  eventually,
  freePort,
  runAgent,
  startAgent,
} from './helpers/agent-process.ts';
import { CANARY, assertNoCanary } from './helpers/canary.ts';
import { tempDir } from './helpers/tmp.ts';
import { startKubeApiServer, type Identity, type SecretVerb } from './helpers/kube-api-server.ts';

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string };
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
  };
}

interface ManifestDoc {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly labels?: Record<string, string> };
  readonly rules?: readonly {
    readonly verbs: string[];
    readonly resources: string[];
    readonly resourceNames?: string[];
  }[];
}

async function rbacDocs(): Promise<ManifestDoc[]> {
  const text = await readFile(join(ROOT, 'manifests/examples/catalog/rbac.yaml'), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as ManifestDoc);
}

/** The catalog service account's identity, from the example's own Role. */
async function exampleIdentity(): Promise<Identity> {
  const role = (await rbacDocs()).find((d) => d.kind === 'Role');
  return {
    username: 'system:serviceaccount:catalog:catalog',
    rules: (role?.rules ?? []).map((r) => ({
      verbs: r.verbs as SecretVerb[],
      namespaces: ['catalog'],
      resources: r.resources,
      ...(r.resourceNames === undefined ? {} : { resourceNames: r.resourceNames }),
    })),
  };
}

/** The example's pre-created, empty, managed Secret. */
async function exampleSecret(): Promise<{
  metadata: { name: string; labels: Record<string, string> };
}> {
  const secret = (await rbacDocs()).find((d) => d.kind === 'Secret');
  return {
    metadata: { name: secret?.metadata?.name ?? '', labels: secret?.metadata?.labels ?? {} },
  };
}
interface Container {
  readonly name: string;
  readonly args?: readonly string[];
  readonly command?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
  readonly restartPolicy?: string;
  readonly startupProbe?: {
    readonly httpGet?: { readonly path: string; readonly port: number };
    readonly periodSeconds?: number;
    readonly failureThreshold?: number;
    readonly initialDelaySeconds?: number;
  };
}
interface PodSpec {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
}

async function injected(file: string): Promise<PodSpec> {
  const child = spawn(
    process.execPath,
    [CLI, 'inject', '-f', join(ROOT, file), '--default-region', 'us-east-1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`inject exited ${String(code)}: ${err}`);
  for (const doc of parseAllDocuments(out)) {
    const obj = doc.toJS() as { kind?: string; spec?: { template?: { spec?: PodSpec } } };
    if (
      (obj.kind === 'Deployment' || obj.kind === 'Job') &&
      obj.spec?.template?.spec !== undefined
    ) {
      return obj.spec.template.spec;
    }
  }
  throw new Error('no workload in the inject output');
}

/** The container's env as the kubelet would give it (downward API resolved for the example's namespace). */
function containerEnv(container: Container, namespace: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of container.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[v.name] = namespace;
  }
  return env;
}

t.test(
  'catalog: the injected native sidecar writes what the app mounts, and its startup probe turns ready',
  async (t) => {
    const spec = await injected('manifests/examples/catalog/deployment.yaml');
    const agent = spec.initContainers?.find((c) => c.name === 'secrets-agent');
    t.ok(agent, 'the native sidecar is an init container');
    if (agent === undefined) return;
    t.equal(agent.restartPolicy, 'Always');
    t.equal(agent.command, undefined, "the image's entrypoint runs");
    t.equal(agent.args?.[0], 'agent', 'the agent command');
    const app = spec.containers.find((c) => c.name !== 'secrets-agent');
    const appMount = app?.volumeMounts?.find((m) => m.name === 'secrets-agent');
    const agentMount = agent.volumeMounts?.find((m) => m.name === 'secrets-agent');
    t.ok(appMount && agentMount, 'both mount the secrets-agent volume');
    const configArg = agent.args?.[agent.args.indexOf('--config-json') + 1] ?? '{}';
    const config = JSON.parse(configArg) as { outputDir: string; httpPort: number };
    t.equal(
      config.outputDir,
      agentMount?.mountPath,
      'the agent writes where its volume is mounted',
    );
    t.equal(agent.startupProbe?.httpGet?.port, config.httpPort, 'the probe asks the agent’s port');
    t.equal(agent.startupProbe?.httpGet?.path, '/readyz');

    const server = await startDevServer({
      seed: {
        secrets: [
          {
            name: 'eks-workshop-catalog-secret',
            value: { username: 'catalog_user', password: CANARY },
          },
        ],
      },
    });
    t.teardown(() => server.close());
    // The cluster: a loopback API server where the pod's service account has exactly the
    // example's Role, and the example's pre-created Secret.
    const kube = await startKubeApiServer({
      tls: true,
      tokens: { 'catalog-sa-token': await exampleIdentity() },
    });
    t.teardown(() => kube.close());
    kube.secrets.put('catalog', await exampleSecret());
    const serviceAccount = await tempDir(t);
    await writeFile(join(serviceAccount, 'token'), 'catalog-sa-token');
    await writeFile(join(serviceAccount, 'ca.crt'), kube.caPem ?? '');
    await writeFile(join(serviceAccount, 'namespace'), 'catalog');
    // The volume, mapped to a local folder; the port, moved to a free one on loopback.
    const volume = await tempDir(t);
    const port = await freePort();
    const env = {
      ...agentEnv(server.url),
      ...containerEnv(agent, 'catalog'),
      SECRETS_AGENT_OUTPUT_DIR: volume,
      SECRETS_AGENT_HTTP_PORT: String(port),
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: new URL(kube.url).port,
      SECRETS_AGENT_SERVICE_ACCOUNT_DIR: serviceAccount,
    };
    const running = startAgent(agent.args ?? [], env);
    t.teardown(() => running.stop('SIGKILL'));
    await eventually(async () => {
      const res = await fetch(
        `http://127.0.0.1:${port}${agent.startupProbe?.httpGet?.path ?? ''}`,
      ).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    }).catch((err: unknown) => {
      throw new Error(`the agent never turned ready: ${String(err)}\n${running.output()}`);
    });
    const catalog = JSON.parse(await readFile(join(volume, 'catalog'), 'utf8')) as Record<
      string,
      string
    >;
    t.same(
      catalog,
      { username: 'catalog_user', password: CANARY },
      `the app reads ${appMount?.mountPath ?? ''}/catalog`,
    );

    // Ready means the Secret is written too: the kubelet finds the keys the env vars name.
    const written = kube.secrets.get('catalog', 'catalog-external-secret');
    const keys = Object.fromEntries(
      Object.entries(written?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    );
    t.same(Object.keys(keys).sort(), ['catalog', 'password', 'username']);
    t.same(JSON.parse(keys['catalog'] ?? '{}'), { username: 'catalog_user', password: CANARY });
    const wired = Object.fromEntries(
      (app?.env ?? []).flatMap((v) => {
        const ref = v.valueFrom?.secretKeyRef;
        if (ref === undefined) return [];
        return [[v.name, ref.name === 'catalog-external-secret' ? keys[ref.key] : undefined]];
      }),
    );
    t.same(
      wired,
      {
        RETAIL_CATALOG_PERSISTENCE_USER: 'catalog_user',
        RETAIL_CATALOG_PERSISTENCE_PASSWORD: CANARY,
      },
      'env vars resolve to the written keys',
    );
    t.ok(
      kube.requests.every((r) => r.status < 400),
      'the example Role grants all the agent asks',
    );
    const run = await running.stop();
    t.equal(run.code, 0);
    assertNoCanary(
      t,
      run.stdout + run.stderr + JSON.stringify(spec),
      'agent logs and the pod spec',
    );
  },
);

t.test(
  "catalog: the startup probe outlasts the agent's initTimeout, so the agent's exit says why",
  async (t) => {
    const spec = await injected('manifests/examples/catalog/deployment.yaml');
    const agent = spec.initContainers?.find((c) => c.name === 'secrets-agent');
    const probe = agent?.startupProbe;
    const config = await parseAgentConfig(
      JSON.parse(agent?.args?.[agent.args.indexOf('--config-json') + 1] ?? '{}'),
    );
    // The kubelet gives up after initialDelay + period × threshold; the agent exits 1 with its
    // termination line once initTimeout has passed (test/agent-sidecar.test.ts).
    const probeMs =
      ((probe?.initialDelaySeconds ?? 0) +
        (probe?.periodSeconds ?? 10) * (probe?.failureThreshold ?? 3)) *
      1000;
    t.ok(
      probeMs >= config.initTimeoutMs + 20_000,
      `probe ${probeMs} ms vs initTimeout ${config.initTimeoutMs} ms`,
    );
  },
);

t.test('job: the injected init container fetches once and exits 0', async (t) => {
  const spec = await injected('manifests/examples/job/job.yaml');
  const agent = spec.initContainers?.find((c) => c.name === 'secrets-agent-init');
  t.ok(agent, 'init mode adds secrets-agent-init');
  if (agent === undefined) return;
  t.equal(spec.initContainers?.[0]?.name, 'secrets-agent-init', 'first among init containers');
  const server = await startDevServer({
    seed: {
      secrets: [
        {
          name: 'reports/db',
          value: { host: 'db.internal', username: 'reporter', password: CANARY },
        },
      ],
    },
  });
  t.teardown(() => server.close());
  const volume = await tempDir(t);
  const run = await runAgent(agent.args ?? [], {
    ...agentEnv(server.url),
    ...containerEnv(agent, 'reports'),
    SECRETS_AGENT_OUTPUT_DIR: volume,
  });
  t.equal(run.code, 0, run.stdout + run.stderr);
  t.match(
    await readFile(join(volume, 'db'), 'utf8'),
    /^host=db\.internal$/m,
    'dotenv as annotated',
  );
  assertNoCanary(t, run.stdout + run.stderr, 'agent logs');
});
