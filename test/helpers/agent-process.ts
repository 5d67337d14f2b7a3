/**
 * Runs `secrets-agent agent` as a real process against a dev endpoint, as an injected container
 * runs it: the bundle's entrypoint (`node dist/cli.js agent …`) with the NODE_OPTIONS of its mode
 * (`npm test` builds the bundle first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { AGENT_COMMAND, AGENT_NODE_OPTIONS } from '../../injector/types.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The bundle, checked against the sources it is built from (and the lockfile): a test never runs
 * a bundle older than the code it means to test.
 */
function freshBundle(): string {
  const cli = join(ROOT, 'dist', 'cli.js');
  const built = statSync(cli, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined) throw new Error('no dist/cli.js: run `npm run build` (npm test does)');
  const sources = ['agent', 'common', 'injector', 'cli'].flatMap((dir) =>
    readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(dir, f)),
  );
  for (const file of [...sources, 'build.ts', 'package-lock.json']) {
    if (statSync(join(ROOT, file)).mtimeMs > built) {
      throw new Error(`dist/ is older than ${file}: run \`npm run build\``);
    }
  }
  return cli;
}

export const CLI = freshBundle();

/**
 * The environment of an agent process: nothing inherited that could reach real AWS (no
 * instance metadata, no shared config), the dev endpoint for every AWS service.
 */
export function agentEnv(
  endpoint: string,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: '/nonexistent',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLESTATIC',
    AWS_SECRET_ACCESS_KEY: 'static-dev-secret-key',
    ...extra,
  };
}

/**
 * The environment of an agent with IRSA's identity: the role and a web identity token written
 * into `dir` (the projected token's file in a pod), and no static keys.
 */
export function irsaEnv(
  endpoint: string,
  dir: string,
  role: string,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, webIdentityToken());
  const env = agentEnv(endpoint, {
    AWS_ROLE_ARN: role,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    ...extra,
  });
  delete env['AWS_ACCESS_KEY_ID'];
  delete env['AWS_SECRET_ACCESS_KEY'];
  return env;
}

export interface AgentRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningAgent {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when a log line matches, or rejects after timeoutMs. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<AgentRun>;
  exited: Promise<AgentRun>;
}

/** The mode the args give (`--mode`, else the configuration's), as far as they say. */
function modeOf(args: readonly string[]): string | undefined {
  const flag = args.indexOf('--mode');
  if (flag !== -1) return args[flag + 1];
  const json = args[args.indexOf('--config-json') + 1];
  try {
    return (JSON.parse(json ?? 'null') as { mode?: string } | null)?.mode;
  } catch {
    return undefined;
  }
}

/**
 * The agent as injected: `node CLI agent ARGS` with the NODE_OPTIONS of its mode, unless `env`
 * sets its own; `cli`: another build's entrypoint. `wrap`: a command the agent runs under
 * (`unshare … exec "$@"`), the node command after it.
 */
export function startAgent(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  cli?: string,
  wrap: readonly string[] = [],
): RunningAgent {
  const nodeOptions = AGENT_NODE_OPTIONS[modeOf(args) === 'init' ? 'init' : 'sidecar'];
  const [command, ...argv] = [...wrap, process.execPath, cli ?? CLI, AGENT_COMMAND, ...args];
  const child = spawn(command ?? process.execPath, argv, {
    env:
      nodeOptions === undefined || 'NODE_OPTIONS' in env
        ? env
        : { ...env, NODE_OPTIONS: nodeOptions },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      const line = (stdout + stderr).split('\n').find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    check();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    check();
  });
  const exited = new Promise<AgentRun>((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    child,
    exited,
    output: () => stdout + stderr,
    waitForLog: (pattern, timeoutMs = 20_000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no log line matching ${pattern} within ${timeoutMs} ms:\n${stdout}${stderr}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the agent to its exit (init mode), killing it after timeoutMs. */
export async function runAgent(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs = 60_000,
): Promise<AgentRun> {
  const agent = startAgent(args, env);
  const timer = setTimeout(() => agent.child.kill('SIGKILL'), timeoutMs);
  const result = await agent.exited;
  clearTimeout(timer);
  return result;
}

/**
 * Where the ports freePort hands out come from: below the kernel's ephemeral range, which starts
 * at 32768 unless /proc/sys/net/ipv4/ip_local_port_range says otherwise.
 */
const PORTS = { low: 10_000, high: ephemeralStart() };
function ephemeralStart(): number {
  try {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    return Number.isInteger(low) && low > 20_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}
/** Handed out by this process already: never twice. */
const handedOut = new Set<number>();

/** Whether `port` can be bound on 127.0.0.1 right now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port free on 127.0.0.1 right now, for a server a test starts next. Not one the kernel picks
 * (listen on port 0): that comes from the ephemeral range, where any outgoing connection (tests
 * make hundreds) can take it in the moment before the server binds it, and the agent then exits
 * with EADDRINUSE. A port below that range is taken only by another explicit bind.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = PORTS.low + Math.floor(Math.random() * (PORTS.high - PORTS.low));
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${PORTS.low}-${PORTS.high - 1}`);
}

/** A web identity token shaped like a projected service-account token (unsigned: dev only). */
export function webIdentityToken(claims: Readonly<Record<string, unknown>> = {}): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return [
    b64({ alg: 'RS256', kid: 'dev' }),
    b64({
      iss: 'https://oidc.eks.example',
      sub: 'system:serviceaccount:shop:catalog',
      aud: ['sts.amazonaws.com'],
      iat: now,
      exp: now + 3600,
      ...claims,
    }),
    Buffer.from('not-a-real-signature').toString('base64url'),
  ].join('.');
}

/** Polls until fn returns a value other than undefined. */
export async function eventually<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * For tests that run the agent in-process: the SDK reads these from process.env. Static dev
 * credentials, the region, and nothing that could reach real AWS (no instance metadata, no
 * shared config, no web identity).
 */
export function useLoopbackAwsEnv(): void {
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'AKIDINPROCESS',
    AWS_SECRET_ACCESS_KEY: 'in-process-secret',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  });
  delete process.env['AWS_ROLE_ARN'];
  delete process.env['AWS_WEB_IDENTITY_TOKEN_FILE'];
}
