/**
 * The loopback Kubernetes API server (`dev/kube/server.ts`) for tests: `tls: true` serves HTTPS
 * with a certificate for 127.0.0.1/localhost from a fresh test CA.
 */
import {
  startKubeApiServer as startServer,
  type KubeApiServer,
  type KubeApiServerOptions,
} from '../../dev/kube/server.ts';
import { makeCa, makePair } from './certs.ts';

export * from '../../dev/kube/server.ts';

export async function startKubeApiServer(
  options: Omit<KubeApiServerOptions, 'tls'> & { readonly tls?: boolean } = {},
): Promise<KubeApiServer> {
  const { tls, ...rest } = options;
  if (tls !== true) return startServer(rest);
  const ca = makeCa('kube-api-server test CA');
  const pair = makePair(ca);
  return startServer({ ...rest, tls: { cert: pair.cert, key: pair.key, caPem: ca.cert } });
}
