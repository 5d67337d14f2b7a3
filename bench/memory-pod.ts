/**
 * What the memory bench runs: the agent container exactly as the injector writes it for a pod
 * of n secrets (its entrypoint, args, env and resources), turned into a command line on this
 * machine, and the ~2 KB secrets it reads (rotated through the dev endpoint's admin API).
 */
import { randomBytes } from 'node:crypto';
import { injectPod } from '../injector/inject.ts';
import type { InjectorOptions } from '../injector/plan.ts';
import type { Container, Pod } from '../injector/types.ts';

export const ROLE_ARN = 'arn:aws:iam::123456789012:role/bench-agent';
export const VALUE_BYTES = 2048;

/** Where the image's files are on this machine (the image's are /usr/local/bin/node, /app/dist). */
export interface Image {
  readonly node: string;
  readonly cli: string;
}

/**
 * The container as the runtime starts it, as a command line here: the image's entrypoint
 * (`node /app/dist/cli.js`: this machine's Node and the image copy's CLI), then the
 * container's args. The injector writes no command.
 */
export function localCommand(container: Container, image: Image): string[] {
  if (container.command !== undefined)
    throw new Error(`the injected container has a command of its own: ${container.command[0]}`);
  return [image.node, image.cli, ...(container.args ?? [])];
}

export interface Launch {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly limit: string | undefined;
  readonly request: string | undefined;
}

/** A ~2 KB JSON secret: credentials plus a certificate-sized field, new random bytes each time. */
export function secretValue(i: number): Record<string, unknown> {
  const filler = VALUE_BYTES - 120;
  return {
    username: `user${i}`,
    password: randomBytes(24).toString('base64url'),
    host: `db-${i}.bench.internal`,
    port: 5432,
    certificate: randomBytes(Math.ceil((filler * 3) / 4))
      .toString('base64')
      .slice(0, filler),
  };
}

/** A pod asking for n secrets, a mix of what the renderer does: raw, a key, a format, a template. */
export function benchPod(n: number, mode: 'init' | 'sidecar', refresh: string): Pod {
  const annotations: Record<string, string> = {
    'secrets-agent.io/inject': 'true',
    'secrets-agent.io/mode': mode,
    'secrets-agent.io/refresh-interval': refresh,
    'secrets-agent.io/region': 'us-east-1',
    'secrets-agent.io/role-arn': ROLE_ARN,
  };
  for (let i = 0; i < n; i++) {
    annotations[`secrets-agent.io/secret-s${i}`] = `bench/s${i}`;
    if (i % 4 === 1) annotations[`secrets-agent.io/key-s${i}`] = 'password';
    if (i % 4 === 2) annotations[`secrets-agent.io/format-s${i}`] = 'dotenv';
    if (i % 4 === 3)
      annotations[`secrets-agent.io/template-s${i}`] =
        'postgres://{{username}}:{{password}}@{{host}}:{{port}}/app';
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'bench', namespace: 'bench', annotations },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  };
}

export interface LaunchOptions {
  readonly n: number;
  readonly mode: 'init' | 'sidecar';
  readonly refresh: string;
  readonly options: InjectorOptions;
  readonly image: Image;
  /** The dev endpoint (Secrets Manager and STS). */
  readonly endpoint: string;
  readonly tokenFile: string;
  readonly outputDir: string;
  readonly terminationLog: string;
  /** The sidecar's health and metrics port on this machine. */
  readonly port: number;
  /** Instead of the injected NODE_OPTIONS (`''`: none). */
  readonly nodeOptions?: string;
}

/** The agent container the injector writes for the bench pod, as a local command line. */
export function injectedAgent(o: LaunchOptions): Launch {
  const result = injectPod(benchPod(o.n, o.mode, o.refresh), o.options);
  if (result.outcome !== 'injected') throw new Error(`bench pod not injected: ${result.outcome}`);
  const name = o.mode === 'init' ? 'secrets-agent-init' : 'secrets-agent';
  const container: Container | undefined = [
    ...(result.pod.spec.initContainers ?? []),
    ...result.pod.spec.containers,
  ].find((c) => c.name === name);
  if (container === undefined) throw new Error(`no ${name} container in the injected pod`);
  const literal = Object.fromEntries(
    (container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
  );
  return {
    argv: [
      ...localCommand(container, o.image),
      // Where this machine differs from the pod: the volume's path, a free port, the log.
      '--output-dir',
      o.outputDir,
      '--termination-log',
      o.terminationLog,
      ...(o.mode === 'sidecar' ? ['--http-port', String(o.port)] : []),
    ],
    env: {
      PATH: process.env['PATH'] ?? '',
      ...literal,
      ...(o.nodeOptions === undefined ? {} : { NODE_OPTIONS: o.nodeOptions }),
      POD_NAMESPACE: 'bench',
      HOME: '/nonexistent',
      // Nothing that could reach real AWS: no instance metadata, no shared config.
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: o.endpoint,
      AWS_ENDPOINT_URL_STS: o.endpoint,
      // The projected token's path in the pod, here a file of the bench's.
      AWS_WEB_IDENTITY_TOKEN_FILE: o.tokenFile,
    },
    limit: container.resources?.limits?.['memory'],
    request: container.resources?.requests?.['memory'],
  };
}

/** Every secret bench/s0…s(n-1) gets a new value (a new AWSCURRENT version), 10 requests at a time. */
export async function rotateAll(endpoint: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, async (_, j) => {
        const id = `bench/s${i + j}`;
        const res = await fetch(`${endpoint}/_dev/secrets/${encodeURIComponent(id)}`, {
          method: 'PUT',
          body: JSON.stringify({ value: secretValue(i + j) }),
        });
        if (!res.ok) throw new Error(`rotating ${id}: HTTP ${res.status}`);
        await res.arrayBuffer();
      }),
    );
  }
}

export function seed(n: number): object {
  return {
    sts: { audiences: ['sts.amazonaws.com'] },
    secrets: Array.from({ length: n }, (_, i) => ({ name: `bench/s${i}`, value: secretValue(i) })),
  };
}
