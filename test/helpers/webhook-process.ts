/**
 * The webhook command as a real process, run as the shipped Deployment runs it
 * (shipped-webhook.ts), and what tests send it over HTTPS on loopback.
 */
import { readFileSync } from 'node:fs';
import type { Test } from 'tap';
import { freePort } from './agent-process.ts';
import { podReview } from './admission.ts';
import { makeCa, makePair, tempDir, writeSecretVolume } from './certs.ts';
import { OPTED_IN } from './pathological.ts';
import {
  postReview,
  shippedRuntimeEnv,
  spawnWebhook,
  untilUp,
  type Reply,
} from './shipped-webhook.ts';
import { counter } from './wait.ts';

export const ca = makeCa();
const pair = makePair(ca);

export interface Webhook {
  readonly port: number;
  readonly pid: number;
  alive(): boolean;
  output(): string;
  /** Resolves once the output so far satisfies `done` (checked as output arrives). */
  outputUntil(done: (output: string) => boolean, ms?: number): Promise<void>;
}

export async function startWebhook(t: Test, extra: readonly string[] = []): Promise<Webhook> {
  const dir = tempDir();
  await writeSecretVolume(dir, { 'tls.crt': pair.cert, 'tls.key': pair.key });
  t.ok(
    shippedRuntimeEnv()['NODE_OPTIONS']?.includes('--max-old-space-size='),
    'run with the shipped heap limit',
  );
  const port = await freePort();
  const child = spawnWebhook({ tlsDir: dir, port, flags: extra });
  let output = '';
  const changed = counter<'output'>();
  const take = (d: Buffer): void => {
    output += d.toString();
    changed.add('output');
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const outputUntil = async (done: (text: string) => boolean, ms = 10_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!done(output)) {
      if (Date.now() > end) throw new Error(`not in the webhook's output within ${ms} ms`);
      // The next chunk of output, whenever it comes.
      await changed.reached('output', changed.count('output') + 1, Math.max(1, end - Date.now()));
    }
  };
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const webhook = {
    port,
    pid: child.pid ?? 0,
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
    outputUntil,
  };
  await untilUp(
    child,
    async () => (await post(webhook, ordinary('up'))).status === 200,
    'the webhook',
    20_000,
  ).catch((err: unknown) => {
    throw new Error(`the webhook did not start:\n${output}`, { cause: err });
  });
  // Warm-up: the code paths of an ordinary admission, so what follows measures the rest.
  for (let i = 0; i < 40; i++) await post(webhook, ordinary(`warm-${i}`));
  return webhook;
}

export const ordinary = (uid: string): string => podReview({ uid, annotations: OPTED_IN });

/** POSTs a review, trusting the test CA; `sent` is called once the whole body is handed over. */
export function post(
  webhook: Pick<Webhook, 'port'>,
  body: string,
  sent?: () => void,
): Promise<Reply> {
  return postReview(webhook.port, body, { ca: ca.cert, sent });
}

export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export function patchOf(body: string): { op: string; path: string }[] {
  const patch = (JSON.parse(body) as { response: { patch?: string } }).response.patch ?? '';
  return JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as {
    op: string;
    path: string;
  }[];
}
