/**
 * How the agent's AWS clients reach AWS: the request handler's timeouts, an HTTP(S) proxy
 * (`proxyAddress`) and FIPS endpoints (`useFipsEndpoint`). One place for every client the
 * agent makes: Secrets Manager, SSM, and STS inside the credential chain.
 *
 * The proxy is given to the SDK's request handler as node's own agents with `proxyEnv` (Node
 * 24): HTTPS goes through a CONNECT tunnel, plain HTTP (a local endpoint) as a proxy request.
 * Only the agent's AWS calls use it: the Kubernetes API, the instance metadata service and the
 * EKS Pod Identity endpoint are reached directly, as they are inside the cluster or the node.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

export interface TransportOptions {
  readonly requestTimeoutMs?: number;
  readonly proxyAddress?: string;
  readonly useFipsEndpoint?: boolean;
}

/** The SDK's own default for its agents: connections kept and reused, at most 50 a host. */
export const SOCKETS = { keepAlive: true, maxSockets: 50 } as const;
export const CONNECTION_TIMEOUT_MS = 5_000;

/** The request handler's options (NodeHttpHandler's), for a client's `requestHandler`. */
export function requestHandlerOptions(options: TransportOptions): Record<string, unknown> {
  const proxy = options.proxyAddress;
  return {
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    // Without this the SDK only warns when the timeout passes, and keeps waiting.
    throwOnRequestTimeout: true,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    ...(proxy === undefined
      ? {}
      : {
          httpAgent: new HttpAgent({ ...SOCKETS, proxyEnv: { HTTP_PROXY: proxy } }),
          httpsAgent: new HttpsAgent({ ...SOCKETS, proxyEnv: { HTTPS_PROXY: proxy } }),
        }),
  };
}

/** A client's settings for how it reaches AWS: the handler, and FIPS endpoints when asked. */
export function transportConfig(options: TransportOptions): Record<string, unknown> {
  return {
    requestHandler: requestHandlerOptions(options),
    ...(options.useFipsEndpoint === true ? { useFipsEndpoint: true } : {}),
  };
}
