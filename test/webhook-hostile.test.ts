/**
 * Generated hostile AdmissionReviews (test/helpers/hostile.ts: every field the injector reads
 * or copies, in hostile sizes, counts, types, nesting and escapes), each sent both through the
 * reader in-process and over HTTPS to the webhook command running as the shipped Deployment
 * runs it (its NODE_OPTIONS heap limit). For each: the process lives, answers within the
 * deadline, as the in-process reader does; the answer within MAX_ANSWER_BYTES (an error within
 * MAX_ERROR_ANSWER), every log line within MAX_LOG_LINE; and the process's peak RSS grows less
 * than 64 MiB over the run. `FUZZ_RUNS=n HOSTILE_BYTES=n` for a larger run; `FUZZ_SEED=n`
 * replays one.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  AdmissionReviewError,
  admitRequest,
  MAX_ANSWER_BYTES,
  MAX_ERROR_ANSWER,
  readAdmissionReview,
  reviewJson,
} from '../injector/admission.ts';
import { JsonSyntaxError } from '../injector/partial-json.ts';
import { MAX_LOG_LINE } from '../common/log.ts';
import { hostileReviewArb } from './helpers/hostile.ts';
import { shippedMemoryLimit } from './helpers/shipped-webhook.ts';
import { memory, post, startWebhook } from './helpers/webhook-process.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x17);
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 16);
const MAX_BYTES = Number(process.env['HOSTILE_BYTES'] ?? 1024 * 1024);
const MIB = 1024 * 1024;
/** The goal is 1 s (bench/webhook.ts measures it); this tells "answered" from "stuck". */
const DEADLINE_MS = 3_000;
const GROWTH_LIMIT = 64 * MIB;

/** What the reader makes of the text in-process: the status, and the answer on a 200. */
function inProcess(text: string): { status: number; body?: string; error?: string } {
  try {
    return { status: 200, body: reviewJson(admitRequest(readAdmissionReview(text)).review) };
  } catch (err) {
    if (err instanceof JsonSyntaxError)
      return { status: 400, error: 'request body is not valid JSON' };
    if (err instanceof AdmissionReviewError) return { status: 400, error: err.message };
    throw err;
  }
}

t.test('hostile reviews: the webhook lives, answers in time, within every cap', async (t) => {
  const webhook = await startWebhook(t, ['--log-level', 'info']);
  const before = memory(webhook.pid);
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(hostileReviewArb(MAX_BYTES), async ({ text }) => {
      const local = inProcess(text);
      const reply = await post(webhook, text);
      sent++;
      if (!webhook.alive()) throw new Error(`the webhook died:\n${webhook.output().slice(-2000)}`);
      if (reply.status !== local.status)
        throw new Error(
          `status ${reply.status}, in-process ${local.status}: ${reply.body.slice(0, 300)}`,
        );
      if (reply.ms > DEADLINE_MS) throw new Error(`answered in ${Math.round(reply.ms)} ms`);
      if (reply.body.length > MAX_ANSWER_BYTES) throw new Error(`${reply.body.length}-byte answer`);
      if (reply.status === 200 && reply.body !== local.body)
        throw new Error('the answer differs from the in-process one');
      if (reply.status !== 200) {
        const error = (JSON.parse(reply.body) as { error: string }).error;
        if (error.length > MAX_ERROR_ANSWER) throw new Error(`a ${error.length}-character error`);
        if (!(local.error ?? '').startsWith(error.replace(/…$/, '').slice(0, 200)))
          throw new Error(`error ${error.slice(0, 200)} vs ${local.error?.slice(0, 200) ?? ''}`);
      }
      return true;
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  t.equal(sent, RUNS, `${RUNS} hostile reviews of up to ${MAX_BYTES} bytes, seed ${SEED}`);
  t.ok(webhook.alive(), 'the webhook lives');
  const lines = webhook.output().split('\n');
  const longest = Math.max(...lines.map((l) => l.length));
  t.ok(longest <= MAX_LOG_LINE, `the longest log line is ${longest} characters`);
  t.ok(lines.filter((l) => l.includes('"msg":"admission')).length >= RUNS, 'one line per review');
  const peak = memory(webhook.pid).hwm;
  const growth = peak - Math.max(before.hwm, before.rss);
  t.ok(growth < GROWTH_LIMIT, `peak RSS grew ${(growth / MIB).toFixed(1)} MiB`);
  // docs/commands.md: "the Deployment's limit of 256Mi holds" the process at its peak.
  t.ok(peak < shippedMemoryLimit(), `peak RSS ${(peak / MIB).toFixed(0)} MiB, under the limit`);
});
