/**
 * A forward proxy on loopback, as corporate networks run them: CONNECT tunnels for HTTPS and
 * absolute-form requests for plain HTTP. It records what each client asked for and forwards
 * only to loopback targets (anything else, a real AWS host, is refused with 403 and recorded).
 * And a TLS front for a plain-HTTP loopback server, so HTTPS calls can reach `dev`.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';

export interface ProxyRecord {
  readonly kind: 'connect' | 'forward';
  /** `host:port` of a CONNECT, or the absolute URL of a forwarded request. */
  readonly target: string;
  readonly allowed: boolean;
}

export interface ConnectProxy {
  readonly url: string;
  readonly records: readonly ProxyRecord[];
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function hostOf(target: string): string {
  return target.replace(/:\d+$/, '');
}

export async function startConnectProxy(): Promise<ConnectProxy> {
  const records: ProxyRecord[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/');
    const allowed = LOOPBACK.has(url.hostname);
    records.push({ kind: 'forward', target: url.href, allowed });
    if (!allowed) {
      res.writeHead(403).end();
      return;
    }
    const upstream = request(url, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    const allowed = LOOPBACK.has(hostOf(target));
    records.push({ kind: 'connect', target, allowed });
    if (!allowed) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const port = Number(/:(\d+)$/.exec(target)?.[1] ?? 443);
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  return listening(server, records, sockets);
}

async function listening(
  server: Server,
  records: ProxyRecord[],
  sockets: Set<Socket>,
): Promise<ConnectProxy> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    records,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** HTTPS on a free loopback port in front of `port`: TLS ends here, bytes go on as they are. */
export async function startTlsFront(
  pair: { cert: string; key: string },
  port: number,
): Promise<{ readonly port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: TlsServer = createTlsServer(pair, (tls) => {
    const plain = connect(port, '127.0.0.1');
    sockets.add(plain);
    tls.pipe(plain).pipe(tls);
    plain.on('error', () => tls.destroy());
    tls.on('error', () => plain.destroy());
    plain.once('close', () => sockets.delete(plain));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
