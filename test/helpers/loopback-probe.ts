/**
 * Run inside a private network namespace whose `lo` also holds a non-loopback address (see
 * local-api.test.ts): starts a dev endpoint and an agent with its local API, then connects to
 * the local API's port on 127.0.0.1 and on that address. Prints one JSON line:
 * `{"loopback": <HTTP status or error code>, "other": <the same>}`.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { startDevServer } from '../../dev/server.ts';
import { agentEnv, freePort, startAgent } from './agent-process.ts';

const other = process.argv[2] ?? '';

function probe(host: string, port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/secretsmanager/get?secretId=app/db' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

const server = await startDevServer({ seed: { secrets: [{ name: 'app/db', value: 'x' }] } });
const dir = await mkdtemp(join(tmpdir(), 'loopback-probe-'));
const apiPort = await freePort();
const config = {
  mode: 'sidecar',
  outputDir: join(dir, 'secrets'),
  httpAddress: '127.0.0.1',
  httpPort: await freePort(),
  localApi: true,
  localApiPort: apiPort,
  secrets: [{ name: 'db', id: 'app/db' }],
};
const agent = startAgent(['--config-json', JSON.stringify(config)], agentEnv(server.url));
try {
  await agent.waitForLog(/"local API"/);
  const result = {
    loopback: await probe('127.0.0.1', apiPort),
    other: await probe(other, apiPort),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await agent.stop('SIGKILL');
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
