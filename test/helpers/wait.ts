/**
 * Waiting on events instead of clocks: a test resolves when the thing it waits for happens (a
 * count reached, a line printed), never by polling. Each wait has a deadline only so that a hang
 * becomes a failure saying what was awaited.
 */
import type { Readable } from 'node:stream';

/** Counts events by key and lets a test wait for a count. */
export function counter<K extends string>(): {
  add: (key: K) => void;
  count: (key: K) => number;
  reached: (key: K, count: number, ms?: number) => Promise<void>;
} {
  const counts = new Map<K, number>();
  const waiters = new Set<() => void>();
  return {
    add: (key) => {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      for (const waiter of waiters) waiter();
    },
    count: (key) => counts.get(key) ?? 0,
    reached: (key, count, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if ((counts.get(key) ?? 0) < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${key}: ${counts.get(key) ?? 0} of ${count} within ${ms} ms`));
        }, ms);
        waiters.add(check);
        check();
      }),
  };
}

/**
 * The first line of the streams' output (so far or to come) that matches, e.g. a server's
 * "listening" log line. Rejects with everything printed if none comes within `ms`, or if the
 * streams end first.
 */
export function lineMatching(
  streams: readonly (Readable | null)[],
  pattern: RegExp,
  ms = 20_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    let open = streams.length;
    const done = (): void => {
      clearTimeout(timer);
      for (const stream of streams) {
        stream?.off('data', take);
        stream?.off('end', ended);
      }
    };
    const take = (chunk: Buffer | string): void => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => pattern.test(l));
      if (line === undefined) return;
      done();
      resolve(line);
    };
    const ended = (): void => {
      if (--open > 0) return;
      done();
      reject(new Error(`output ended without a line matching ${pattern}:\n${output}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no line matching ${pattern} within ${ms} ms:\n${output}`));
    }, ms);
    for (const stream of streams) {
      stream?.on('data', take);
      stream?.once('end', ended);
    }
  });
}
