/**
 * The local API's read-through cache in process, against the dev endpoint: bounded in entries
 * and bytes (the oldest go first), so a pod asking for many large secrets cannot grow the
 * agent past its memory limit; a configured id is kept by the source, as the refresh loop keeps it.
 */
import t from 'tap';
import { silentLogger } from '../common/log.ts';
import { MAX_CACHED_BYTES, RecordingSource, startLocalApi } from '../agent/local-api.ts';
import { createAwsSource } from '../agent/source/aws.ts';
import { startDevServer } from '../dev/server.ts';
import { useLoopbackAwsEnv } from './helpers/agent-process.ts';

const SIZE = 60 * 1024;
const COUNT = Math.ceil(MAX_CACHED_BYTES / SIZE) + 10;

t.test('the read-through cache stays within its bytes, dropping the oldest', async (t) => {
  const server = await startDevServer({
    seed: {
      secrets: [
        { name: 'configured', value: 'c' },
        ...Array.from({ length: COUNT }, (_, i) => ({
          name: `big/${i}`,
          value: `${i}`.padEnd(SIZE, 'x'),
        })),
      ],
    },
  });
  t.teardown(() => server.close());
  useLoopbackAwsEnv();
  process.env['AWS_ENDPOINT_URL'] = server.url;
  let calls = 0;
  const aws = createAwsSource({
    region: 'us-east-1',
    logger: silentLogger,
    onApiCall: () => {
      calls += 1;
    },
  });
  const source = new RecordingSource(aws, [{ id: 'configured' }]);
  t.teardown(() => source.close());
  const api = await startLocalApi({
    port: 0,
    token: 't',
    source,
    parameters: () => Promise.reject(new Error('no parameters here')),
    cacheTtlMs: 60_000,
    logger: silentLogger,
    onRequest: () => undefined,
  });
  t.teardown(() => api.close());
  const get = async (id: string): Promise<number> => {
    const res = await fetch(`http://127.0.0.1:${api.port}/secretsmanager/get?secretId=${id}`, {
      headers: { 'X-Aws-Parameters-Secrets-Token': 't' },
    });
    await res.text();
    return res.status;
  };
  for (let i = 0; i < COUNT; i++) t.equal(await get(`big/${i}`), 200, `big/${i}`);
  t.equal(calls, COUNT, 'one read each');
  await get(`big/${COUNT - 1}`);
  t.equal(calls, COUNT, 'the newest is kept');
  await get('big/0');
  t.equal(calls, COUNT + 1, 'the oldest was dropped to stay within the bytes');
  await get('configured');
  await get('configured');
  t.equal(calls, COUNT + 2, 'a configured id read once is then served from what the source keeps');
});
