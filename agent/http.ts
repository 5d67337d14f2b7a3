/** `/healthz`, `/readyz` and Prometheus `/metrics` on one port. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface StatusServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startStatusServer(options: {
  readonly address: string;
  readonly port: number;
  readonly registry: Registry;
  readonly ready: () => boolean;
}): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const ready = options.ready();
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
          .end(ready ? 'ready\n' : 'not ready: secrets not written yet\n');
        return;
      }
      case '/metrics':
        options.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.address, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
