/**
 * Where the Kubernetes API is and how to authenticate: in-cluster (the service-account token,
 * CA and namespace files, KUBERNETES_SERVICE_HOST/PORT), or the file KUBECONFIG names.
 * Parse errors name the path in the file (`contexts[1].context.cluster is missing`).
 */
import { readFile } from '../../../common/fs-async.ts';
import { join } from 'node:path';
import { AgentError } from '../../../common/errors.ts';
import type { Env } from '../../../common/flags.ts';
import { parseYaml } from '../../../common/yaml.ts';
import { SERVICE_ACCOUNT_DIR } from '../../../common/kube.ts';

export interface KubeConnection {
  /** `https://host:port`, no trailing slash. */
  readonly server: string;
  readonly ca?: string;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string;
  /** Read before each request: projected service-account tokens are rotated on disk. */
  readonly token?: () => Promise<string>;
  readonly clientCert?: string;
  readonly clientKey?: string;
  /** The namespace the connection points at (in-cluster: the pod's), if known. */
  readonly namespace?: string;
  /** Where it came from, for messages. */
  readonly source: string;
}

function configError(message: string): AgentError {
  return new AgentError('KUBE_CONFIG', message);
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw configError(
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** Finds the API: KUBECONFIG when set, else in-cluster. */
export async function loadKubeConnection(env: Env): Promise<KubeConnection> {
  const kubeconfig = env['KUBECONFIG'];
  if (kubeconfig !== undefined && kubeconfig !== '') {
    // Like kubectl, the first file of a KUBECONFIG list.
    const first = kubeconfig.split(':').find((p) => p !== '') ?? kubeconfig;
    return loadKubeconfigFile(first);
  }
  return loadInCluster(env);
}

async function loadInCluster(env: Env): Promise<KubeConnection> {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (host === undefined || host === '') {
    throw configError(
      'no Kubernetes API: not in a cluster (KUBERNETES_SERVICE_HOST is not set) and KUBECONFIG is not set',
    );
  }
  const dir = env['SECRETS_AGENT_SERVICE_ACCOUNT_DIR'] ?? SERVICE_ACCOUNT_DIR;
  const tokenPath = join(dir, 'token');
  const ca = await readText(join(dir, 'ca.crt'), 'the service-account CA');
  await readText(tokenPath, 'the service-account token');
  const namespace = (await readFile(join(dir, 'namespace'), 'utf8').catch(() => '')).trim();
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    ca,
    insecureSkipTlsVerify: false,
    token: async () => (await readText(tokenPath, 'the service-account token')).trim(),
    source: `in-cluster (${dir})`,
    ...(namespace === '' ? {} : { namespace }),
  };
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(
  obj: Obj,
  key: string,
  path: string,
  where: string,
  required: boolean,
): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw configError(`${where}: ${path}.${key} is missing`);
    return undefined;
  }
  if (typeof v !== 'string') throw configError(`${where}: ${path}.${key} must be a string`);
  return v;
}

/** The entry of a named list (`clusters`, `users`, `contexts`) with the given name, and its path. */
function named(doc: Obj, list: string, name: string, where: string): { item: Obj; path: string } {
  const items = doc[list];
  if (!Array.isArray(items)) throw configError(`${where}: ${list} is missing`);
  const index = items.findIndex((i: unknown) => isObj(i) && i['name'] === name);
  const entry: unknown = items[index];
  if (index < 0 || !isObj(entry)) throw configError(`${where}: no ${list} entry named "${name}"`);
  const inner = entry[list.slice(0, -1)];
  const path = `${list}[${index}].${list.slice(0, -1)}`;
  if (!isObj(inner)) throw configError(`${where}: ${path} is missing`);
  return { item: inner, path };
}

function b64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8');
}

async function fileOrData(
  obj: Obj,
  key: string,
  path: string,
  where: string,
): Promise<string | undefined> {
  const data = str(obj, `${key}-data`, path, where, false);
  if (data !== undefined) return b64(data);
  const file = str(obj, key, path, where, false);
  return file === undefined ? undefined : readText(file, `${path}.${key}`);
}

export async function loadKubeconfigFile(file: string): Promise<KubeConnection> {
  const where = `KUBECONFIG ${file}`;
  const text = await readText(file, 'KUBECONFIG');
  let doc: unknown;
  try {
    doc = await parseYaml(text);
  } catch (err) {
    if (err instanceof AgentError) throw err;
    throw configError(`${where} is not valid YAML: ${(err as Error).message}`);
  }
  if (!isObj(doc))
    throw configError(`${where}: not a kubeconfig (an object with clusters, users, contexts)`);
  const contextName = str(doc, 'current-context', '', where, true) as string;
  const { item: context, path: contextPath } = named(doc, 'contexts', contextName, where);
  const clusterName = str(context, 'cluster', contextPath, where, true) as string;
  const userName = str(context, 'user', contextPath, where, false);
  const { item: cluster, path: clusterPath } = named(doc, 'clusters', clusterName, where);
  const server = (str(cluster, 'server', clusterPath, where, true) as string).replace(/\/+$/, '');
  const ca = await fileOrData(cluster, 'certificate-authority', clusterPath, where);
  const tlsServerName = str(cluster, 'tls-server-name', clusterPath, where, false);
  const namespace = str(context, 'namespace', contextPath, where, false);
  const connection: KubeConnection = {
    server,
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    source: where,
    ...(ca === undefined ? {} : { ca }),
    ...(tlsServerName === undefined ? {} : { tlsServerName }),
    ...(namespace === undefined ? {} : { namespace }),
  };
  if (userName === undefined) return connection;
  const { item: user, path: userPath } = named(doc, 'users', userName, where);
  return { ...connection, ...(await userCredentials(user, userPath, where)) };
}

async function userCredentials(
  user: Obj,
  path: string,
  where: string,
): Promise<Pick<KubeConnection, 'token' | 'clientCert' | 'clientKey'>> {
  if (user['exec'] !== undefined || user['auth-provider'] !== undefined) {
    throw configError(
      `${where}: ${path} uses an exec or auth-provider plugin, which the agent does not run; give it a token, tokenFile or client certificate`,
    );
  }
  const token = str(user, 'token', path, where, false);
  const tokenFile = str(user, 'tokenFile', path, where, false);
  const clientCert = await fileOrData(user, 'client-certificate', path, where);
  const clientKey = await fileOrData(user, 'client-key', path, where);
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw configError(`${where}: ${path} needs both client-certificate and client-key`);
  }
  return {
    ...(token === undefined ? {} : { token: () => Promise.resolve(token) }),
    ...(tokenFile === undefined
      ? {}
      : { token: async () => (await readText(tokenFile, `${path}.tokenFile`)).trim() }),
    ...(clientCert === undefined ? {} : { clientCert }),
    ...(clientKey === undefined ? {} : { clientKey }),
  };
}
