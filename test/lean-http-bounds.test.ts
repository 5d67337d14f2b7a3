/**
 * The one bound on every answer the agent's own AWS client reads (Secrets Manager, STS, the
 * container credentials endpoint all pass their cap to agent/source/lean/http.ts), proven over
 * generated answers: any size around the cap, sent in any chunking, with its length declared or
 * chunked. An answer within the cap arrives whole; one past it is refused as ResponseTooLarge,
 * and the client never holds more than the cap of it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import { createHttpClient, type HttpError } from '../agent/source/lean/http.ts';

interface Answer {
  readonly cap: number;
  readonly size: number;
  readonly chunk: number;
  readonly declared: boolean;
}

const answers: fc.Arbitrary<Answer> = fc
  .record({
    cap: fc.integer({ min: 1, max: 64 * 1024 }),
    offset: fc.integer({ min: -64, max: 64 }),
    chunk: fc.integer({ min: 1, max: 16 * 1024 }),
    declared: fc.boolean(),
  })
  .map(({ cap, offset, chunk, declared }) => ({
    cap,
    size: Math.max(0, cap + offset),
    chunk,
    declared,
  }));

t.test('an answer within its cap arrives whole; past it, refused, never held', async (t) => {
  let current: Answer = { cap: 1, size: 0, chunk: 1, declared: true };
  const server = createServer((_req, res) => {
    const { size, chunk, declared } = current;
    res.writeHead(200, declared ? { 'content-length': String(size) } : {});
    let sent = 0;
    const pump = (): void => {
      while (sent < size && !res.destroyed) {
        const n = Math.min(chunk, size - sent);
        sent += n;
        if (!res.write(Buffer.alloc(n, 'a'))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const client = createHttpClient({});
  t.teardown(() => {
    client.destroy();
    server.closeAllConnections();
    server.close();
  });

  const seen = { whole: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(answers, async (answer) => {
      current = answer;
      const call = { method: 'GET' as const, headers: {}, timeoutMs: 10_000, maxBytes: answer.cap };
      const outcome = await client.send(url, call).then(
        (a) => ({ body: a.body }),
        (err: unknown) => ({ error: err as HttpError }),
      );
      if (answer.size <= answer.cap) {
        if (!('body' in outcome)) throw outcome.error;
        seen.whole += 1;
        return outcome.body.length === answer.size;
      }
      seen.refused += 1;
      return 'error' in outcome && outcome.error.name === 'ResponseTooLarge';
    }),
    { numRuns: 60 },
  );
  // Both sides of the bound were generated, so the property was checked on each.
  t.ok(seen.whole > 0, `${seen.whole} answers within their cap, whole`);
  t.ok(seen.refused > 0, `${seen.refused} answers past their cap, refused`);
});
