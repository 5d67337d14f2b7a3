/** `npm start`'s demo: it shows the injection, the files, the Secret and the env vars, follows a rotation, and stops on Ctrl-C. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { freePort, ROOT } from './helpers/agent-process.ts';

// Each demo has its own ports and directory: the cases run side by side, each mostly waiting
// for an agent's 5 s refresh.
t.jobs = 3;

/** A demo's output so far, and a wait for a pattern in it, checked as output arrives: no polling. */
function watchOutput(child: ChildProcess): {
  out: () => string;
  printed: (pattern: RegExp, ms?: number) => Promise<void>;
} {
  let out = '';
  const waiters = new Set<() => void>();
  const take = (d: Buffer): void => {
    out += d.toString();
    for (const check of waiters) check();
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const printed = (pattern: RegExp, ms = 30_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(out)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${pattern} in:\n${out}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { out: () => out, printed };
}

t.test('the demo runs the whole flow and follows a rotation', async (t) => {
  const [devPort, agentPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [join(ROOT, 'cli/demo.ts')], {
    env: {
      ...process.env,
      SECRETS_AGENT_DEV_PORT: String(devPort),
      SECRETS_AGENT_HTTP_PORT: String(agentPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const { out: output, printed: waitFor } = watchOutput(child);
  await waitFor(/First fetch written/);
  await waitFor(/RETAIL_CATALOG_PERSISTENCE_PASSWORD=dev-catalog-password-change-me/);
  // The hints are printed after the first view: wait for their last line before reading them.
  await waitFor(/^ {2}rotate: +curl .*$/m);
  t.match(output(), /What the injector adds to manifests\/examples\/catalog/);
  t.match(
    output(),
    /demo adds {5}secrets-agent\.io\/refresh-interval: 5s/,
    'what the demo adds is said',
  );
  t.match(output(), /native sidecar: restartPolicy Always, startup probe \/readyz/);
  t.match(
    output(),
    /env RETAIL_CATALOG_PERSISTENCE_USER <- Secret catalog-external-secret, key username/,
  );
  t.match(
    output(),
    /catalog: \{"username":"catalog_user","password":"dev-catalog-password-change-me"\}/,
  );
  t.match(output(), /password: dev-catalog-password-change-me/);
  t.match(
    output(),
    /^ {4}db-endpoint: catalog-db\.cluster-abc\.us-east-1\.rds\.amazonaws\.com:3306$/m,
    'one SSM parameter',
  );
  t.match(output(), /^ {4}config\/feature-flags: \{"newCheckout":true\}$/m, 'a find- directory');
  t.match(output(), /^ {4}config\/search\/endpoint: https:\/\/search\.catalog\.internal$/m);
  t.match(
    output(),
    /^ {4}config\.search\.endpoint: https:\/\/search\.catalog\.internal$/m,
    'its Secret key',
  );
  t.match(
    output(),
    `metrics:   curl -s http://127.0.0.1:${agentPort}/metrics | grep ^secrets_agent`,
    'the metrics hint: curl -s, so the pipe shows only the lines',
  );
  t.match(output(), /Secrets Manager, SSM \+ STS \(secrets-agent dev\)/, 'dev serves SSM too');
  const metrics = await (await fetch(`http://127.0.0.1:${agentPort}/metrics`)).text();
  t.match(metrics, /^secrets_agent_ready 1$/m, 'the metrics URL it prints answers');
  // The rotation command it prints, run as printed.
  const hint = /rotate: +curl -X PUT (\S+) -d '(\{.*\})'$/m.exec(output());
  t.equal(hint?.[1], `http://127.0.0.1:${devPort}/_dev/secrets/eks-workshop-catalog-secret`);
  const body = JSON.parse(hint?.[2] ?? '{}') as { value?: { password?: string } };
  const rotated = body.value?.password ?? '';
  t.match(rotated, /^rotated-\d+$/);
  const res = await fetch(hint?.[1] ?? '', { method: 'PUT', body: hint?.[2] ?? '' });
  t.equal(res.status, 200);
  await waitFor(/The secret changed/, 20_000);
  await waitFor(new RegExp(`RETAIL_CATALOG_PERSISTENCE_PASSWORD=${rotated}$`, 'm'), 5_000);
  child.kill('SIGINT');
  const code = await new Promise((resolve) => child.once('close', resolve));
  t.equal(code, 0, 'Ctrl-C stops everything cleanly');
  t.match(output(), /stopped\.\n$/);
});

t.test('a busy port: a chosen one is a clear error, the default is replaced', async (t) => {
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const taken = (busy.address() as { port: number }).port;
  const run = (env: Record<string, string>, until: RegExp): Promise<string> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'cli/demo.ts')], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const seen = (d: Buffer): void => {
        out += d.toString();
        if (until.test(out)) child.kill('SIGTERM');
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      child.on('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
    });
  const chosen = await run({ SECRETS_AGENT_DEV_PORT: String(taken) }, /in use/);
  t.match(
    chosen,
    `npm start: port ${taken} (SECRETS_AGENT_DEV_PORT) is in use: set SECRETS_AGENT_DEV_PORT to a free port`,
  );
  t.notMatch(chosen, /\n\s+at /, 'no stack trace');
  const agentBusy = await run(
    { SECRETS_AGENT_DEV_PORT: String(await freePort()), SECRETS_AGENT_HTTP_PORT: String(taken) },
    /in use/,
  );
  t.match(agentBusy, `port ${taken} (SECRETS_AGENT_HTTP_PORT) is in use`);
});

t.test('two demos at once: each has its own files and sees only its own rotations', async (t) => {
  const start = async (): Promise<{
    out: () => string;
    /** Resolves once the output so far or to come matches. */
    printed: (pattern: RegExp) => Promise<void>;
    dir: string;
    dev: number;
    agent: number;
  }> => {
    const [dev, agent] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, [join(ROOT, 'cli/demo.ts')], {
      env: {
        ...process.env,
        SECRETS_AGENT_DEV_PORT: String(dev),
        SECRETS_AGENT_HTTP_PORT: String(agent),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Ctrl-C, as a user stops it: the demo stops its agent (which shares its output) too.
    const closed = new Promise((resolve) => child.once('close', resolve));
    t.teardown(async () => {
      child.kill('SIGINT');
      await closed;
    });
    const { out, printed } = watchOutput(child);
    await printed(/First fetch written/);
    const dir = /This run's files: +(\S+)/.exec(out())?.[1] ?? '';
    return { out, printed, dir, dev, agent };
  };
  const [first, second] = await Promise.all([start(), start()]);
  t.not(first.dir, second.dir, 'each run has a directory of its own');
  t.match(first.dir, /^\.demo\/run-/);
  const body = JSON.stringify({ value: { username: 'catalog_user', password: 'second-only' } });
  const url = `http://127.0.0.1:${second.dev}/_dev/secrets/eks-workshop-catalog-secret`;
  t.equal((await fetch(url, { method: 'PUT', body })).status, 200);
  await second.printed(/PASSWORD=second-only$/m);
  // The first demo's agent refreshes after the rotation: were its files shared, it would now
  // print a change it did not make. Its refresh shows only in its metrics: they are polled.
  const fetches = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${first.agent}/metrics`)).text();
    return [...text.matchAll(/^secrets_agent_fetch_total\{[^}]*\} (\d+)$/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
  };
  const before = await fetches();
  await until(async () => (await fetches()) > before, first.out);
  t.notMatch(first.out(), /The secret changed/, 'the first demo saw no rotation');
  t.notMatch(first.out(), /second-only/);
  const files = await readFile(join(ROOT, first.dir, 'secrets', 'catalog'), 'utf8');
  t.match(files, /dev-catalog-password-change-me/, "the first demo's files are its own");
});

/** Polls `done` (on the demo's metrics) until it holds, or fails after 30 s. */
async function until(
  done: () => Promise<boolean>,
  output: () => string,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out; output:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
