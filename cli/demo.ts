/**
 * `npm start`: the whole flow with no AWS account and no cluster.
 *
 * 1. `secrets-agent dev` (Secrets Manager, SSM Parameter Store + STS) seeded with the catalog
 *    secret, a parameter and a set of secrets under `catalog/config/`, and a loopback
 *    Kubernetes API for Secrets, both on 127.0.0.1.
 * 2. The injector run over `manifests/examples/catalog`: a readable summary of what it adds.
 * 3. The agent container exactly as injected (its image entrypoint is this CLI: its own args and
 *    env), with the volume mapped to `.demo/run-XXXXXX/secrets` and the cluster to the loopback
 *    API. Each run has a directory of its own, removed when it stops: two demos at once never
 *    share files.
 * 4. The files, the Kubernetes Secret and the app's env vars, shown again whenever the secret
 *    changes. Ctrl-C stops everything.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startDevServer } from '../dev/server.ts';
import { loadSeedFile } from '../dev/seed.ts';
import { ADMIN_TOKEN, startKubeApiServer } from '../dev/kube/server.ts';
import { injectPod } from '../injector/inject.ts';
import { DEFAULT_INJECTOR_OPTIONS } from '../injector/plan.ts';
import type { Container, Pod } from '../injector/types.ts';

const root = join(import.meta.dirname, '..');
/** Where every run makes its own directory (`run-XXXXXX`). */
const DEMO_ROOT = join(root, '.demo');
const NAMESPACE = 'catalog';
const SECRET_ID = 'eks-workshop-catalog-secret';
/** The local endpoint's port: 4566 (the port AWS tools' local endpoints use) unless set. */
const DEV_PORT_VARIABLE = 'SECRETS_AGENT_DEV_PORT';
/** The agent's port as injected (9102), unless SECRETS_AGENT_HTTP_PORT moves it. */
const AGENT_PORT_VARIABLE = 'SECRETS_AGENT_HTTP_PORT';
const print = (line = ''): boolean => process.stdout.write(`${line}\n`);
const bold = (text: string): string => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);

interface Deployment {
  readonly spec: { readonly template: Pod };
}

/**
 * What the demo adds to the example's annotations: a short refresh interval, the region the dev
 * endpoint answers, and beside the secret one SSM parameter and every secret under a prefix.
 */
const DEMO_ANNOTATIONS = {
  'secrets-agent.io/refresh-interval': '5s',
  'secrets-agent.io/region': 'us-east-1',
  'secrets-agent.io/param-db-endpoint': '/catalog/db/endpoint',
  'secrets-agent.io/find-config': 'catalog/config/',
};

/** The catalog example's pod, with the demo's annotations, through the injector. */
async function injectedCatalog(): Promise<{ pod: Pod; agent: Container }> {
  const text = await readFile(join(root, 'manifests/examples/catalog/deployment.yaml'), 'utf8');
  const template = (parseYaml(text) as Deployment).spec.template;
  const pod: Pod = {
    ...template,
    metadata: {
      ...template.metadata,
      namespace: NAMESPACE,
      annotations: { ...template.metadata?.annotations, ...DEMO_ANNOTATIONS },
    },
  };
  const result = injectPod(pod, DEFAULT_INJECTOR_OPTIONS);
  if (result.outcome !== 'injected')
    throw new Error(`the catalog example was not injected: ${result.outcome}`);
  const agent = [
    ...(result.pod.spec?.initContainers ?? []),
    ...(result.pod.spec?.containers ?? []),
  ].find((c) => c.name === 'secrets-agent');
  if (agent === undefined) throw new Error('no secrets-agent container in the injected pod');
  return { pod: result.pod, agent };
}

function summarize(pod: Pod, agent: Container): void {
  const spec = pod.spec;
  const config = JSON.parse(agent.args?.[2] ?? '{}') as Record<string, unknown>;
  print(bold('\nWhat the injector adds to manifests/examples/catalog'));
  Object.entries(DEMO_ANNOTATIONS).forEach(([key, value], i) =>
    print(`  ${i === 0 ? 'demo adds   ' : '            '}  ${key}: ${value}`),
  );
  print(`  volume        secrets-agent: emptyDir, medium Memory (tmpfs)`);
  print(
    `  init          ${(spec?.initContainers ?? []).map((c) => `${c.name}${c.restartPolicy === 'Always' ? ' (native sidecar: restartPolicy Always, startup probe /readyz)' : ''}`).join(', ')}`,
  );
  for (const c of spec?.containers ?? []) {
    const mount = c.volumeMounts?.find((m) => m.name === 'secrets-agent');
    const envs = (c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef !== undefined);
    print(`  container     ${c.name}: mounts ${mount?.mountPath ?? '-'} read-only`);
    for (const e of envs) {
      print(
        `                env ${e.name} <- Secret ${e.valueFrom?.secretKeyRef?.name}, key ${e.valueFrom?.secretKeyRef?.key}`,
      );
    }
  }
  const nodeOptions = agent.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
  print(`  agent runs    the image's entrypoint, node /app/dist/cli.js, with these args:`);
  print(`  agent args    ${agent.args?.[0] ?? ''} --config-json <the agent's configuration:>`);
  print(JSON.stringify(config, null, 2).replace(/^/gm, '                '));
  if (nodeOptions !== undefined) print(`  agent env     NODE_OPTIONS: ${nodeOptions}`);
  print(`  annotation    secrets-agent.io/status: injected`);
}

/** The agent's env as the kubelet would give it, plus the demo's stand-ins for AWS and the cluster. */
function agentEnv(
  agent: Container,
  run: RunDir,
  awsUrl: string,
  agentPort: number,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] };
  for (const v of agent.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else {
      const from = v.valueFrom?.fieldRef?.fieldPath;
      const pod: Record<string, string> = {
        'metadata.namespace': NAMESPACE,
        'metadata.name': 'catalog-demo',
        'metadata.uid': randomUUID(),
      };
      if (from !== undefined && pod[from] !== undefined) env[v.name] = pod[from];
    }
  }
  return {
    ...env,
    AWS_ENDPOINT_URL: awsUrl,
    AWS_ACCESS_KEY_ID: 'demo',
    AWS_SECRET_ACCESS_KEY: 'demo',
    AWS_EC2_METADATA_DISABLED: 'true',
    KUBECONFIG: join(run.dir, 'kubeconfig'),
    SECRETS_AGENT_OUTPUT_DIR: run.out,
    SECRETS_AGENT_HTTP_ADDRESS: '127.0.0.1',
    SECRETS_AGENT_HTTP_PORT: String(agentPort),
    SECRETS_AGENT_LOG_LEVEL: 'warn',
  };
}

/**
 * The port to use: `preferred` if it is free; when it is taken, a free one, said out loud,
 * unless the user chose it with `variable` (then a clear error naming the variable).
 */
async function freePort(preferred: number, variable: string, what: string): Promise<number> {
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const { port: bound } = server.address() as AddressInfo;
        server.close(() => resolve(bound));
      });
    });
  try {
    return await listen(preferred);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    if (process.env[variable] !== undefined)
      throw new Error(`port ${preferred} (${variable}) is in use: set ${variable} to a free port`, {
        cause: err,
      });
    const port = await listen(0);
    print(`  ${what}: port ${preferred} is in use, using ${port} (set ${variable} to choose)`);
    return port;
  }
}

function agentPortOf(agent: Container): number {
  return (JSON.parse(agent.args?.[2] ?? '{}') as { httpPort?: number }).httpPort ?? 9102;
}

/** Every file under the volume (a directory source's files by their relative path). */
async function files(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(join(dir, prefix), { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (prefix === '' && entry.name.startsWith('.')) continue;
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    const isDir = await stat(join(dir, rel)).then((s) => s.isDirectory());
    names.push(...(isDir ? await files(dir, rel) : [rel]));
  }
  return names;
}

async function show(
  kube: Awaited<ReturnType<typeof startKubeApiServer>>,
  pod: Pod,
  run: RunDir,
): Promise<void> {
  print(bold(`  Files the app reads (${relative(root, run.out)} is the pod volume):`));
  for (const name of await files(run.out)) {
    print(`    ${name}: ${(await readFile(join(run.out, name), 'utf8')).trimEnd()}`);
  }
  const secret = kube.secrets.get(NAMESPACE, 'catalog-external-secret');
  const data = Object.entries(secret?.data ?? {}).map(
    ([k, v]) => [k, Buffer.from(v, 'base64').toString()] as const,
  );
  print(
    bold(
      `  Kubernetes Secret ${NAMESPACE}/catalog-external-secret (resourceVersion ${secret?.metadata.resourceVersion ?? '-'}):`,
    ),
  );
  for (const [k, v] of data) print(`    ${k}: ${v}`);
  const values = new Map(data);
  print(bold('  The app container gets:'));
  for (const e of pod.spec?.containers?.[0]?.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref !== undefined) print(`    ${e.name}=${values.get(ref.key) ?? '(missing)'}`);
  }
}

/** This run's directory: the kubeconfig, and `secrets/`, the pod volume. */
interface RunDir {
  readonly dir: string;
  readonly out: string;
}

async function makeRunDir(): Promise<RunDir> {
  await mkdir(DEMO_ROOT, { recursive: true });
  const dir = await mkdtemp(join(DEMO_ROOT, 'run-'));
  return { dir, out: join(dir, 'secrets') };
}

async function main(): Promise<void> {
  const run = await makeRunDir();
  // A failure before the agent starts leaves nothing behind either.
  try {
    await start(run);
  } catch (err) {
    await rm(run.dir, { recursive: true, force: true });
    throw err;
  }
}

async function start(run: RunDir): Promise<void> {
  const aws = await startDevServer({
    port: await freePort(
      Number(process.env[DEV_PORT_VARIABLE] ?? '4566'),
      DEV_PORT_VARIABLE,
      'Secrets Manager, SSM + STS',
    ),
    seed: await loadSeedFile(join(root, 'test/fixtures/seed.yaml')),
  });
  const kube = await startKubeApiServer();
  await writeFile(
    join(run.dir, 'kubeconfig'),
    `apiVersion: v1\nkind: Config\ncurrent-context: demo\nclusters: [{name: demo, cluster: {server: "${kube.url}"}}]\nusers: [{name: demo, user: {token: ${ADMIN_TOKEN}}}]\ncontexts: [{name: demo, context: {cluster: demo, user: demo, namespace: ${NAMESPACE}}}]\n`,
  );
  print(bold('secrets-agent demo'));
  print(
    `  Secrets Manager, SSM + STS (secrets-agent dev): ${aws.url}, seeded from test/fixtures/seed.yaml`,
  );
  print(`  Kubernetes API (Secrets only, loopback):   ${kube.url}`);
  print(`  This run's files:                          ${relative(root, run.dir)}`);
  const { pod, agent } = await injectedCatalog();
  summarize(pod, agent);
  const agentPort = await freePort(
    Number(process.env[AGENT_PORT_VARIABLE] ?? agentPortOf(agent)),
    AGENT_PORT_VARIABLE,
    "The agent's metrics",
  );

  // The image's entrypoint (node /app/dist/cli.js) in this checkout, then the container's args;
  // its NODE_OPTIONS come with its env.
  const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), ...(agent.args ?? [])], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: agentEnv(agent, run, aws.url, agentPort),
  });
  print(bold('\nThe agent, as injected, is running (mode sidecar, refresh every 5s).'));

  let version = '';
  const poll = setInterval(() => {
    void readFile(join(run.out, '.secrets-agent-version'), 'utf8').then(
      async (marker) => {
        if (marker === version) return;
        const first = version === '';
        version = marker;
        // The files are complete; the Secret is written right after them.
        await new Promise((r) => setTimeout(r, 300));
        print(
          bold(
            first
              ? '\nFirst fetch written:'
              : '\nThe secret changed; the agent rewrote the files and the Secret:',
          ),
        );
        await show(kube, pod, run);
        if (first) {
          print(`
${bold('Try it')}
  metrics:   curl -s http://127.0.0.1:${agentPort}/metrics | grep ^secrets_agent
  rotate:    curl -X PUT ${aws.url}/_dev/secrets/${SECRET_ID} -d '{"value":{"username":"catalog_user","password":"rotated-${Math.floor(Math.random() * 1000)}"}}'
  The change reaches the files and the Secret within the 5s interval. Ctrl-C stops everything.`);
        }
      },
      () => undefined,
    );
  }, 250);

  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(poll);
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    await Promise.all([aws.close(), kube.close()]);
    await rm(run.dir, { recursive: true, force: true });
    print('\nstopped.');
    process.exit(code);
  };
  child.once('exit', (code) => void stop(code ?? 1));
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
}

// A first run meets no stack trace: one line that says what to do.
await main().catch((err: unknown) => {
  process.stderr.write(`npm start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
