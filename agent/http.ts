/** `/healthz`, `/readyz` and Prometheus `/metrics` on one port. */
import type { Registry } from 'prom-client';
import {
  closeListener,
  createListener,
  listen,
  LISTENERS,
  type ListenerTimers,
} from '../common/listener.ts';

export interface StatusServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startStatusServer(options: {
  readonly address: string;
  readonly port: number;
  readonly registry: Registry;
  readonly ready: () => boolean;
  /** A line on why some files lag behind, shown by `/readyz` ready or not. */
  readonly detail?: () => string | undefined;
  readonly timers?: ListenerTimers;
}): Promise<StatusServer> {
  const { timers } = options;
  const server = createListener({ limits: LISTENERS.agentStatus, timers }, (req, res) => {
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
        const detail = options.detail?.();
        const status = ready ? 'ready' : 'not ready: secrets not written yet';
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
          .end(detail === undefined ? `${status}\n` : `${status}\n${detail}\n`);
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
  const port = await listen(server, options.port, options.address);
  return { port, close: () => closeListener(server, 0) };
}
