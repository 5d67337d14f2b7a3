/**
 * AWS answers the dev endpoint cannot be made to give: a loopback endpoint that answers every
 * JSON-protocol call with the body a test chooses, and the agent's AWS source (the real SDK)
 * pointed at it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import { createAwsSource } from '../../agent/source/aws.ts';
import type { SecretSource } from '../../agent/source/source.ts';
import { silentLogger } from '../../common/log.ts';
import { useLoopbackAwsEnv } from './agent-process.ts';

/** `body(target)` answers each call (HTTP 200), `target` being its `x-amz-target`. */
export async function stubbedAwsSource(
  t: Test,
  body: (target: string) => string,
): Promise<SecretSource> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = body(String(req.headers['x-amz-target'] ?? ''));
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  useLoopbackAwsEnv();
  process.env['AWS_ENDPOINT_URL'] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const source = createAwsSource({
    region: 'us-east-1',
    logger: silentLogger,
    onApiCall: () => undefined,
  });
  t.teardown(() => source.close());
  return source;
}
