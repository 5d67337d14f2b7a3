/**
 * Kubernetes Events for failing sources: one Warning Event per source and reason on the pod,
 * its count raised when the failure repeats, bounded in writes, never a value; off, with one
 * log line, without RBAC for events. Against the loopback Kubernetes API server, whose Events
 * keep the API's semantics (tested here too), and end to end with a real agent process.
 */
import fc from 'fast-check';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AgentError, type ErrorCode } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { startDevServer } from '../dev/server.ts';
import type { SecretFailure } from '../agent/agent.ts';
import { EVENT_LIMITS, EVENT_REASONS, FailureEvents, type PodRef } from '../agent/events.ts';
import { createKubeTransport } from '../agent/sink/kube/client.ts';
import { createEventsClient, type EventsClient } from '../agent/sink/kube/events.ts';
import { agentEnv, eventually, startAgent } from './helpers/agent-process.ts';
import { ADMIN_TOKEN, startKubeApiServer, type Identity } from './helpers/kube-api-server.ts';

/** An API answer, read by shape. */
interface Json {
  readonly [key: string]: unknown;
  readonly metadata?: { readonly resourceVersion?: string };
  readonly items?: readonly { readonly metadata: { readonly name: string } }[];
}

const POD: PodRef = { namespace: 'shop', name: 'catalog-7d4b9', uid: 'uid-1234' };

interface Logged {
  readonly level: string;
  readonly msg: string;
  readonly fields?: Readonly<Record<string, unknown>>;
}

function recordingLogger(): { logger: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const at =
    (level: string) =>
    (msg: string, fields?: Readonly<Record<string, unknown>>): void => {
      lines.push({ level, msg, ...(fields === undefined ? {} : { fields }) });
    };
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger: logger as unknown as Logger, lines };
}

function failure(
  secret: string,
  code: ErrorCode,
  message = `secret ${secret}: failed`,
): SecretFailure {
  return { secret, error: new AgentError(code, message) };
}

async function kubeWith(tokens?: Record<string, Identity>) {
  const kube = await startKubeApiServer(tokens === undefined ? {} : { tokens });
  const client = (token: string): EventsClient =>
    createEventsClient(
      createKubeTransport({
        server: kube.url,
        insecureSkipTlsVerify: false,
        token: () => Promise.resolve(token),
        source: 'test',
      }),
    );
  return { kube, client };
}

t.test('the loopback API server keeps the Events API semantics', async (t) => {
  const { kube } = await kubeWith();
  t.teardown(() => kube.close());
  const call = (method: string, path: string, body: unknown, type = 'application/json') =>
    fetch(`${kube.url}/api/v1/namespaces/shop/events${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': type },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }));
  const event = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'pod.1' },
    involvedObject: { kind: 'Pod', name: 'pod', namespace: 'shop' },
    reason: 'AccessDenied',
    count: 1,
  };
  const created = await call('POST', '', event);
  t.equal(created.status, 201);
  t.match(created.body, { metadata: { name: 'pod.1', namespace: 'shop', uid: String } });
  const again = await call('POST', '', event);
  t.match(again, {
    status: 409,
    body: { reason: 'AlreadyExists', message: 'events "pod.1" already exists' },
  });
  const patched = await call('PATCH', '/pod.1', { count: 2 }, 'application/merge-patch+json');
  t.equal(patched.status, 200);
  t.equal(patched.body['count'], 2);
  t.not(patched.body.metadata?.resourceVersion, created.body.metadata?.resourceVersion);
  const missing = await call('PATCH', '/nope', { count: 2 }, 'application/merge-patch+json');
  t.match(missing, {
    status: 404,
    body: { reason: 'NotFound', message: 'events "nope" not found' },
  });
  const elsewhere = await call('POST', '', {
    ...event,
    metadata: { name: 'pod.2' },
    involvedObject: { ...event.involvedObject, namespace: 'other' },
  });
  t.match(elsewhere, {
    status: 422,
    body: {
      reason: 'Invalid',
      message:
        'Event "pod.2" is invalid: involvedObject.namespace: Invalid value: "other": does not match event.namespace',
    },
  });
  const badName = await call('POST', '', { ...event, metadata: { name: 'Pod_1' } });
  t.equal(badName.status, 422);
  const list = await call('GET', '', undefined);
  t.same(
    (list.body.items ?? []).map((e) => e.metadata.name),
    ['pod.1'],
  );
  const put = await call('PUT', '/pod.1', event);
  t.equal(put.status, 405, 'update is not emulated: 405');
});

t.test(
  'one Warning Event per source and reason, counted, updated at most every repeatMs',
  async (t) => {
    const { kube, client } = await kubeWith();
    t.teardown(() => kube.close());
    let now = Date.UTC(2026, 0, 1);
    const { logger } = recordingLogger();
    const events = new FailureEvents({
      pod: POD,
      logger,
      now: () => now,
      instance: 'run-1',
      open: () => Promise.resolve(client(ADMIN_TOKEN)),
    });
    const cycle = async (failures: SecretFailure[]): Promise<void> => {
      events.report(failures);
      await events.idle();
    };
    await cycle([
      failure('db', 'ACCESS_DENIED', 'secret prod/db: AccessDeniedException: not authorized'),
      failure('cfg', 'SECRET_NOT_FOUND'),
    ]);
    let posted = kube.events.list('shop');
    t.equal(posted.length, 2, 'one Event per failing source');
    const db = posted.find((e) => e['reason'] === 'AccessDenied');
    t.match(db, {
      type: 'Warning',
      count: 1,
      message: 'db: secret prod/db: AccessDeniedException: not authorized',
      involvedObject: { kind: 'Pod', name: POD.name, namespace: POD.namespace, uid: POD.uid },
      source: { component: 'secrets-agent' },
    });
    t.match(
      posted.find((e) => e['reason'] === 'SecretNotFound'),
      { count: 1 },
    );
    const writes = (): number => kube.requests.filter((r) => r.resource === 'events').length;
    const before = writes();
    for (let i = 0; i < 5; i++) {
      now += 5_000;
      await cycle([failure('db', 'ACCESS_DENIED')]);
    }
    t.equal(writes(), before, 'repeats within repeatMs are counted, not sent');
    now += EVENT_LIMITS.repeatMs;
    await cycle([failure('db', 'ACCESS_DENIED')]);
    t.equal(writes(), before + 1, 'one update once repeatMs passed');
    posted = kube.events.list('shop');
    t.match(
      posted.find((e) => e['reason'] === 'AccessDenied'),
      {
        count: 7,
        lastTimestamp: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    );
    await cycle([failure('db', 'THROTTLED')]);
    t.equal(
      kube.events.list('shop').length,
      3,
      'another reason for the same source: its own Event',
    );
    await events.close();
  },
);

t.test('without RBAC for events: one log line naming what to grant, then nothing', async (t) => {
  const identity: Identity = {
    username: 'system:serviceaccount:shop:catalog',
    rules: [{ verbs: ['get', 'update'], namespaces: ['shop'] }],
  };
  const { kube, client } = await kubeWith({ 'sa-token': identity });
  t.teardown(() => kube.close());
  const { logger, lines } = recordingLogger();
  let now = 0;
  const events = new FailureEvents({
    pod: POD,
    logger,
    now: () => now,
    open: () => Promise.resolve(client('sa-token')),
  });
  for (let i = 0; i < 10; i++) {
    now += EVENT_LIMITS.repeatMs;
    events.report([failure('db', 'ACCESS_DENIED'), failure(`s${i}`, 'THROTTLED')]);
    await events.idle();
  }
  t.equal(kube.requests.length, 1, 'one refused create, then no more calls');
  t.equal(kube.requests[0]?.status, 403);
  const off = lines.filter((l) => /Events are off/.test(l.msg));
  t.equal(off.length, 1, 'said once');
  t.match(off[0]?.fields, { grant: /create and patch on events in namespace shop/ });
  t.match(off[0]?.fields?.['api'], /cannot create resource "events"/);
  await events.close();
});

t.test('no Kubernetes API: off, said once', async (t) => {
  const { logger, lines } = recordingLogger();
  let opened = 0;
  const events = new FailureEvents({
    pod: POD,
    logger,
    open: () => {
      opened += 1;
      return Promise.reject(new AgentError('KUBE_CONFIG', 'no Kubernetes API: not in a cluster'));
    },
  });
  for (let i = 0; i < 3; i++) {
    events.report([failure('db', 'ACCESS_DENIED')]);
    await events.idle();
  }
  t.equal(opened, 1);
  t.equal(lines.filter((l) => /Events are off/.test(l.msg)).length, 1);
  await events.close();
});

t.test(
  'bounded: writes within the bucket, Events within the key limit, whatever fails',
  async (t) => {
    const codes = Object.keys(EVENT_REASONS) as ErrorCode[];
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            step: fc.integer({ min: 0, max: 10 * 60_000 }),
            failures: fc.array(
              fc.record({
                secret: fc.integer({ min: 0, max: 400 }),
                code: fc.constantFrom(...codes),
              }),
              { maxLength: 60 },
            ),
          }),
          { maxLength: 30 },
        ),
        async (cycles) => {
          let now = 0;
          let writes = 0;
          const names = new Set<string>();
          const fake: EventsClient = {
            create: (event) => {
              writes += 1;
              names.add(event.metadata.name);
              return Promise.resolve('ok');
            },
            patch: () => {
              writes += 1;
              return Promise.resolve('ok');
            },
            lastDenial: undefined,
            close: () => undefined,
          };
          const events = new FailureEvents({
            pod: POD,
            logger: recordingLogger().logger,
            now: () => now,
            open: () => Promise.resolve(fake),
          });
          for (const c of cycles) {
            now += c.step;
            events.report(c.failures.map((f) => failure(`s${f.secret}`, f.code)));
            await events.idle();
          }
          const allowed = EVENT_LIMITS.burst + Math.floor(now / EVENT_LIMITS.refillMs);
          return writes <= allowed && names.size <= EVENT_LIMITS.keys;
        },
      ),
      { numRuns: 60 },
    );
    t.pass('the bounds held in every generated run (fast-check throws at the first that broke)');
  },
);

t.test(
  'end to end: a sidecar whose secret becomes unreadable posts an Event on its pod',
  async (t) => {
    const value = 'event-test-password-value';
    const dev = await startDevServer({ seed: { secrets: [{ name: 'prod/db', value }] } });
    t.teardown(() => dev.close());
    const kube = await startKubeApiServer();
    t.teardown(() => kube.close());
    const dir = await mkdtemp(join(tmpdir(), 'sa-events-'));
    await writeFile(
      join(dir, 'kubeconfig'),
      `apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters: [{name: t, cluster: {server: "${kube.url}"}}]\nusers: [{name: t, user: {token: ${ADMIN_TOKEN}}}]\ncontexts: [{name: t, context: {cluster: t, user: t}}]\n`,
    );
    const agent = startAgent(
      [
        '--config-json',
        JSON.stringify({
          mode: 'sidecar',
          refreshInterval: '5s',
          outputDir: join(dir, 'out'),
          httpPort: 0,
          region: 'us-east-1',
          secrets: [{ name: 'db', id: 'prod/db' }],
        }),
      ],
      agentEnv(dev.url, {
        KUBECONFIG: join(dir, 'kubeconfig'),
        POD_NAMESPACE: 'shop',
        POD_NAME: 'catalog-abc',
        POD_UID: 'uid-e2e',
      }),
    );
    t.teardown(() => agent.stop());
    await agent.waitForLog(/all secrets written/);
    t.same(kube.events.list('shop'), [], 'no Event while all is well');
    dev.faults.add({ kind: 'accessDenied', secretId: 'prod/db' });
    const [event] = await eventually(() => {
      const list = kube.events.list('shop');
      return list.length > 0 ? list : undefined;
    }, 20_000);
    t.match(event, {
      reason: 'AccessDenied',
      type: 'Warning',
      involvedObject: { kind: 'Pod', name: 'catalog-abc', uid: 'uid-e2e' },
      message: /^db: .*prod\/db/,
    });
    t.notMatch(JSON.stringify(kube.events.list('shop')), value, 'never a value');
  },
);

t.test('docs/agent.md lists every reason; the bounds are documented as declared', async (t) => {
  const root = join(import.meta.dirname, '..');
  const agentDoc = await readFile(join(root, 'docs', 'agent.md'), 'utf8');
  const section = agentDoc.slice(agentDoc.indexOf('## Events'), agentDoc.indexOf('## Files'));
  const rows = [...section.matchAll(/^\| `(\w+)` +\|/gm)].map((m) => m[1]);
  t.same(rows.sort(), [...new Set(Object.values(EVENT_REASONS))].sort(), 'one row per reason');
  const minutes = (ms: number): number => ms / 60_000;
  t.match(section, `a bucket of ${EVENT_LIMITS.burst}`);
  t.match(section, `at most every ${minutes(EVENT_LIMITS.repeatMs)} minutes`);
  t.equal(EVENT_LIMITS.refillMs, 60_000, 'docs say "one a minute"');
  t.match(section, `at most ${EVENT_LIMITS.keys} Events`);
  const limits = (await readFile(join(root, 'docs', 'limits.md'), 'utf8')).replace(/ {2,}/g, ' ');
  t.match(
    limits,
    `| Kubernetes Events on the pod | ${EVENT_LIMITS.burst} writes, then 1 a minute; a repeat every ${minutes(EVENT_LIMITS.repeatMs)} minutes |`,
  );
  t.match(
    limits,
    `| Events kept (source and reason) | ${EVENT_LIMITS.keys}; message at most ${EVENT_LIMITS.messageLength.toLocaleString('en-US')} characters |`,
  );
});
