/**
 * The webhook command as a real process, run as the shipped Deployment runs it (its
 * NODE_OPTIONS heap limits and allocator setting, from manifests/deployment.yaml), under what a
 * pod author or anyone reaching the Service can send: 3 MiB reviews whose pod holds a million
 * `{}` (in `tolerations`, in the app container, in an init container the agent moves), an
 * ordinary admission sent alongside them, and connections that send almost all of a 3 MiB body
 * and stall. Memory is the process's peak RSS (VmHWM) against its own level after a warm-up:
 * the injector used to grow by ~400 MB for one such review and ~270 MB for sixty stalled
 * bodies; the bound here is 100 MiB. Time bounds are generous (seconds where the injector takes
 * tens of milliseconds); the figures are in `npm run bench` (bench/webhook.ts).
 */
import { connect } from 'node:tls';
import t from 'tap';
import { pathologicalReview, THREE_MIB, type Filler } from './helpers/pathological.ts';
import { ca, memory, ordinary, patchOf, post, startWebhook } from './helpers/webhook-process.ts';
import { counter } from './helpers/wait.ts';

const MIB = 1024 * 1024;
const GROWTH_LIMIT = 100 * MIB;

t.test('3 MiB reviews of a million objects: answered, with bounded memory', async (t) => {
  const webhook = await startWebhook(t);
  const before = memory(webhook.pid);
  const fillers: Filler[] = ['tolerations', 'app-envFrom', 'init-envFrom'];
  for (const filler of fillers) {
    const body = pathologicalReview(`patho-${filler}`, filler);
    t.equal(body.length, THREE_MIB);
    const reply = await post(webhook, body);
    t.equal(reply.status, 200, `${filler}: answered`);
    t.ok(reply.ms < 10_000, `${filler}: in ${Math.round(reply.ms)} ms`);
    const patch = patchOf(reply.body);
    t.ok(patch.length > 0, `${filler}: injected`);
    t.notOk(
      patch.some((op) => op.path.includes('tolerations') || op.path.includes('envFrom/')),
      `${filler}: the patch never looks into the million objects`,
    );
    const growth = memory(webhook.pid).hwm - Math.max(before.hwm, before.rss);
    t.ok(
      growth < GROWTH_LIMIT,
      `${filler}: peak RSS grew ${(growth / MIB).toFixed(1)} MiB (bound ${GROWTH_LIMIT / MIB})`,
    );
  }
  t.ok(webhook.alive(), `still running under its heap limit ${webhook.output()}`);
});

t.test('an ordinary admission sent alongside pathological ones is answered promptly', async (t) => {
  const webhook = await startWebhook(t);
  const big = pathologicalReview('patho-alongside');
  const onTheirWay = counter<'sent'>();
  const pathological = [1, 2, 3, 4].map(() => post(webhook, big, () => onTheirWay.add('sent')));
  await onTheirWay.reached('sent', 4); // their bodies are with the server
  const reply = await post(webhook, ordinary('alongside'));
  t.equal(reply.status, 200);
  // It used to wait for each review before it, a second or more each (or for a crash under
  // the heap limit); now for a step of one at most (tens of ms), whatever the machine's load.
  t.ok(reply.ms < 3_000, `answered in ${Math.round(reply.ms)} ms`);
  const answers = await Promise.all(pathological);
  t.same(
    answers.map((a) => a.status),
    [200, 200, 200, 200],
    'the pathological ones are answered too (the budget holds five 3 MiB bodies)',
  );
});

t.test('forty stalled 3 MiB bodies: refused beyond the budget, cut at the deadline', async (t) => {
  const webhook = await startWebhook(t, ['--request-timeout', '1s', '--log-level', 'warn']);
  const before = memory(webhook.pid);
  const started = performance.now();
  const sockets = Array.from({ length: 40 }, () => {
    const socket = connect({
      host: '127.0.0.1',
      port: webhook.port,
      ca: ca.cert,
      servername: 'localhost',
    });
    socket.on('error', () => undefined); // a refused body may meet a closed connection
    socket.resume(); // read what comes (a 503), so the end of the connection is seen
    socket.once('secureConnect', () => {
      socket.write(
        `POST /mutate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${THREE_MIB}\r\n\r\n`,
      );
      socket.write(Buffer.alloc(THREE_MIB - 1, 0x20));
    });
    const closed = new Promise<number>((resolve) =>
      socket.once('close', () => resolve(performance.now() - started)),
    );
    // Its stalled body handed to the kernel (or its connection refused and closed).
    const sent = new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.once('secureConnect', () => socket.write('', () => resolve()));
    });
    return { socket, closed, sent };
  });
  await Promise.all(sockets.map((s) => s.sent));
  const meanwhile = await post(webhook, ordinary('meanwhile'));
  t.equal(meanwhile.status, 200, 'an ordinary admission is served meanwhile');
  // A bound on the wait, cleared once every connection closed: a pending timer would keep this
  // process alive for its whole 15 s after the last test.
  let limitTimer: NodeJS.Timeout | undefined;
  const limit = new Promise<'open'>((r) => (limitTimer = setTimeout(() => r('open'), 15_000)));
  const closes = await Promise.all(sockets.map((s) => Promise.race([s.closed, limit])));
  clearTimeout(limitTimer);
  t.notOk(
    closes.includes('open'),
    `every stalled connection was closed by the server (${closes.filter((c) => c === 'open').length} open)`,
  );
  // The 503 itself may not reach a client that is still sending (the close resets it): count
  // the server's own lines (written just after the close the client saw: wait for them).
  const count = (): { refused: number; cut: number } => {
    const lines = webhook
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; status?: number });
    return {
      refused: lines.filter((l) => l.msg === 'admission request rejected' && l.status === 503)
        .length,
      cut: lines.filter((l) => l.msg === 'admission request cut').length,
    };
  };
  await webhook.outputUntil(() => count().refused + count().cut >= 40).catch(() => undefined);
  const { refused, cut } = count();
  t.ok(refused >= 30, `${refused} of 40 refused with 503 (the budget holds five)`);
  t.equal(refused + cut, 40, `the others (${cut}) cut at the deadline`);
  const growth = memory(webhook.pid).hwm - Math.max(before.hwm, before.rss);
  t.ok(growth < GROWTH_LIMIT, `peak RSS grew ${(growth / MIB).toFixed(1)} MiB`);
  for (const s of sockets) s.socket.destroy();
  t.equal((await post(webhook, ordinary('after'))).status, 200, 'and the budget was given back');
});
