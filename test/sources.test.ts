/**
 * The other sources in-process, with the real AWS source against `secrets-agent dev`: SSM
 * parameters (10 names a call), paths (pages of 10), finds (pages of 20, or ListSecrets then
 * reads by id with a tag), as files and directories in the one atomic swap; calls counted on
 * both sides; errors naming the source; the failover region.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { AgentMetrics } from '../agent/metrics.ts';
import { startDevServer, type DevServer } from '../dev/server.ts';
import { assertNoCanary, CANARY } from './helpers/canary.ts';
import { agentRig } from './helpers/agent-rig.ts';

async function calls(metrics: AgentMetrics, operation?: string, outcome?: string): Promise<number> {
  const data = await metrics.awsApiCalls.get();
  return data.values
    .filter(
      (v) =>
        (operation === undefined || v.labels.operation === operation) &&
        (outcome === undefined || v.labels.outcome === outcome),
    )
    .reduce((n, v) => n + v.value, 0);
}

function endpointCalls(server: DevServer, operation?: string): number {
  return server.requests
    .list()
    .filter((r) => r.service !== 'sts' && (operation === undefined || r.operation === operation))
    .length;
}

/** Every file under dir, relative path to content, read through the stable paths. */
async function tree(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of (await readdir(join(dir, prefix))).sort()) {
    if (prefix === '' && entry.startsWith('.')) continue;
    const rel = prefix === '' ? entry : `${prefix}/${entry}`;
    const info = await lstat(join(dir, rel)).then(async (l) =>
      l.isSymbolicLink() ? await import('node:fs/promises').then((f) => f.stat(join(dir, rel))) : l,
    );
    if (info.isDirectory()) Object.assign(out, await tree(dir, rel));
    else out[rel] = await readFile(join(dir, rel), 'utf8');
  }
  return out;
}

const signal = new AbortController().signal;

t.test('parameters: 10 names a call, SecureString decrypted, StringList as returned', async (t) => {
  const server = await startDevServer({
    seed: {
      parameters: [
        { name: '/app/url', value: 'postgres://db' },
        { name: '/app/password', value: `pw-${CANARY}`, type: 'SecureString' },
        { name: '/app/hosts', value: ['a', 'b', 'c'] },
        { name: 'plain', value: 'p1', labels: ['prod'] },
      ],
    },
  });
  t.teardown(() => server.close());
  server.putParameter('plain', 'p2');
  for (let i = 0; i < 11; i++) server.putParameter(`/many/p${i}`, `v${i}`);
  const { agent, dir, metrics, logs } = await agentRig(t, server, {
    secrets: [
      { name: 'url', source: 'parameter', id: '/app/url' },
      { name: 'password', source: 'parameter', id: '/app/password' },
      { name: 'hosts', source: 'parameter', id: '/app/hosts' },
      { name: 'v1', source: 'parameter', id: 'plain:1' },
      { name: 'label', source: 'parameter', id: 'plain:prod' },
      { name: 'latest', source: 'parameter', id: 'plain' },
      {
        name: 'arn',
        source: 'parameter',
        id: 'arn:aws:ssm:us-east-1:123456789012:parameter/app/url',
      },
      ...Array.from({ length: 11 }, (_, i) => ({
        name: `m${i}`,
        source: 'parameter',
        id: `/many/p${i}`,
      })),
    ],
    region: 'us-east-1',
  });
  t.same((await agent.cycle(signal)).failures, []);
  t.equal(await readFile(join(dir, 'url'), 'utf8'), 'postgres://db');
  t.equal(await readFile(join(dir, 'password'), 'utf8'), `pw-${CANARY}`, 'decrypted');
  t.equal(await readFile(join(dir, 'hosts'), 'utf8'), 'a,b,c', 'a StringList as SSM returns it');
  t.equal(await readFile(join(dir, 'v1'), 'utf8'), 'p1', ':version');
  t.equal(await readFile(join(dir, 'label'), 'utf8'), 'p1', ':label');
  t.equal(await readFile(join(dir, 'latest'), 'utf8'), 'p2');
  t.equal(await readFile(join(dir, 'arn'), 'utf8'), 'postgres://db', 'by ARN');
  t.equal(await readFile(join(dir, 'm10'), 'utf8'), 'v10');
  // 18 parameters: two calls of 10 and 8.
  t.equal(endpointCalls(server, 'GetParameters'), 2);
  t.equal(await calls(metrics, 'GetParameters', 'success'), 2);
  t.equal(await calls(metrics), endpointCalls(server), 'the agent counts what the endpoint saw');
  assertNoCanary(t, logs.join('') + (await metrics.registry.metrics()), 'logs and metrics');
});

t.test('a missing parameter fails alone, named, not retryable', async (t) => {
  const server = await startDevServer({ seed: { parameters: [{ name: '/ok', value: 'ok' }] } });
  t.teardown(() => server.close());
  const { agent, dir } = await agentRig(t, server, {
    secrets: [
      { name: 'ok', source: 'parameter', id: '/ok' },
      { name: 'gone', source: 'parameter', id: '/gone' },
      { name: 'v9', source: 'parameter', id: '/ok:9' },
    ],
  });
  const { failures } = await agent.cycle(signal);
  t.same(
    failures.map((f) => [f.secret, f.error.code, f.error.retryable]),
    [
      ['gone', 'SECRET_NOT_FOUND', false],
      ['v9', 'SECRET_NOT_FOUND', false],
    ],
  );
  t.match(
    failures[0]?.error.message,
    /^parameter \/gone: ParameterNotFound: SSM has no such parameter/,
  );
  t.equal(await readFile(join(dir, 'ok'), 'utf8'), 'ok');
});

t.test('AccessDenied on ssm:GetParameters and on kms:Decrypt are named', async (t) => {
  const server = await startDevServer({ seed: { parameters: [{ name: '/p', value: 'x' }] } });
  t.teardown(() => server.close());
  const { agent, metrics } = await agentRig(t, server, {
    secrets: [{ name: 'p', source: 'parameter', id: '/p' }],
  });
  server.faults.add({ kind: 'accessDenied', operation: 'GetParameters', count: 1 });
  let { failures } = await agent.cycle(signal);
  t.equal(failures[0]?.error.code, 'ACCESS_DENIED');
  t.match(failures[0]?.error.message, /^parameter \/p: AccessDeniedException: /);
  server.faults.add({ kind: 'decryptFailure', operation: 'GetParameters', count: 1 });
  ({ failures } = await agent.cycle(signal));
  t.equal(failures[0]?.error.code, 'ACCESS_DENIED');
  t.match(failures[0]?.error.message, /kms:Decrypt/);
  t.equal(await calls(metrics, 'GetParameters', 'denied'), 2);
});

t.test(
  'a path: one file per parameter, sub-paths as directories, changes at the next refresh',
  async (t) => {
    const server = await startDevServer({
      seed: {
        parameters: [
          { name: '/cfg/db/url', value: 'u' },
          { name: '/cfg/db/password', value: `p-${CANARY}`, type: 'SecureString' },
          { name: '/cfg/mode', value: 'fast' },
          { name: '/other/x', value: 'no' },
        ],
      },
    });
    t.teardown(() => server.close());
    for (let i = 0; i < 12; i++)
      server.putParameter(`/cfg/n/p${String(i).padStart(2, '0')}`, `${i}`);
    const { agent, dir, metrics, logs } = await agentRig(t, server, {
      secrets: [
        { name: 'cfg', source: 'path', id: '/cfg/' },
        { name: 'single', source: 'parameter', id: '/other/x' },
      ],
    });
    t.same((await agent.cycle(signal)).failures, []);
    const files = await tree(dir);
    t.equal(files['cfg/db/url'], 'u');
    t.equal(files['cfg/db/password'], `p-${CANARY}`, 'decrypted');
    t.equal(files['cfg/mode'], 'fast');
    t.equal(files['cfg/n/p11'], '11');
    t.equal(files['single'], 'no');
    t.equal(Object.keys(files).length, 3 + 12 + 1);
    t.equal(await readlink(join(dir, 'cfg')), '..data/cfg', 'the directory swaps with ..data');
    // 15 parameters under the path: pages of 10 → 2 calls; one GetParameters.
    t.equal(endpointCalls(server, 'GetParametersByPath'), 2);
    t.equal(await calls(metrics), 3);

    server.parameters.delete('/cfg/mode');
    server.putParameter('/cfg/new/deep/one', 'added');
    const { failures, changed } = await agent.cycle(signal);
    t.same(failures, []);
    t.same([...changed].sort(), ['cfg/mode', 'cfg/new/deep/one']);
    const after = await tree(dir);
    t.equal(after['cfg/mode'], undefined, 'removed upstream, gone');
    t.equal(after['cfg/new/deep/one'], 'added', 'added upstream, there');
    const updates = await metrics.updatesTotal.get();
    t.same(
      [...new Set(updates.values.map((v) => v.labels.secret))].sort(),
      ['cfg', 'single'],
      'metrics count under the directory name, never a discovered id',
    );
    const fetches = await metrics.fetchTotal.get();
    t.same([...new Set(fetches.values.map((v) => v.labels.secret))].sort(), ['cfg', 'single']);
    assertNoCanary(t, logs.join('') + (await metrics.registry.metrics()), 'logs and metrics');
  },
);

t.test('a path or a find matching nothing is an error, and the last good files stay', async (t) => {
  const server = await startDevServer({
    seed: {
      parameters: [{ name: '/p/a', value: 'a' }],
      secrets: [{ name: 'team/a', value: 'A' }],
    },
  });
  t.teardown(() => server.close());
  const { agent, dir } = await agentRig(t, server, {
    secrets: [
      { name: 'p', source: 'path', id: '/p' },
      { name: 't', source: 'find', id: 'team/' },
      { name: 'none', source: 'path', id: '/nothing' },
      { name: 'nofind', source: 'find', id: 'nobody/' },
    ],
  });
  let { failures } = await agent.cycle(signal);
  t.same(
    failures.map((f) => [f.secret, f.error.code, f.error.message]),
    [
      [
        'none',
        'SECRET_NOT_FOUND',
        'path /nothing: no parameter under this path (in this account and region)',
      ],
      [
        'nofind',
        'SECRET_NOT_FOUND',
        'find nobody/: no secret matches (in this account and region)',
      ],
    ],
  );
  server.parameters.delete('/p/a');
  server.store.delete('team/a');
  ({ failures } = await agent.cycle(signal));
  t.same(
    failures.map((f) => f.secret),
    ['p', 't', 'none', 'nofind'],
  );
  t.equal(await readFile(join(dir, 'p', 'a'), 'utf8'), 'a', 'last good kept');
  t.equal(await readFile(join(dir, 't', 'a'), 'utf8'), 'A', 'last good kept');
});

t.test('find: pages of 20, the exact prefix only, names below it as paths', async (t) => {
  const server = await startDevServer({
    seed: {
      secrets: [
        { name: 'app/db', value: `d-${CANARY}` },
        { name: 'app/nested/key', value: 'k' },
        { name: 'APP/upper', value: 'not mine' },
        { name: 'application', value: 'not mine either' },
      ],
    },
  });
  t.teardown(() => server.close());
  for (let i = 0; i < 41; i++) server.putSecretValue(`app/bulk/s${i}`, `${i}`);
  const { agent, dir, metrics, logs } = await agentRig(t, server, {
    secrets: [{ name: 'all', source: 'find', id: 'app/' }],
  });
  t.same((await agent.cycle(signal)).failures, []);
  const files = await tree(dir);
  t.equal(files['all/db'], `d-${CANARY}`);
  t.equal(files['all/nested/key'], 'k');
  t.equal(files['all/bulk/s40'], '40');
  t.equal(Object.keys(files).length, 43, 'the case-insensitive match is filtered to the prefix');
  const batch = server.requests.list().filter((r) => r.operation === 'BatchGetSecretValue');
  // 44 secrets match the service's case-insensitive filter ("APP/upper" too): 3 pages.
  t.equal(batch.length, 3);
  t.equal(await calls(metrics, 'BatchGetSecretValue', 'success'), 3);
  t.equal(await calls(metrics), endpointCalls(server));
  assertNoCanary(t, logs.join(''), 'logs');
});

t.test('find with a tag: exact key=value matches, ListSecrets then reads by id', async (t) => {
  const server = await startDevServer({
    seed: {
      secrets: [
        { name: 'svc/a', value: 'A', tags: { team: 'pay' } },
        { name: 'svc/b', value: 'B', tags: { team: 'ops', owner: 'pay' } },
        { name: 'svc/c', value: 'C', tags: { team: 'payments' } },
        { name: 'svc/d', value: 'D' },
      ],
    },
  });
  t.teardown(() => server.close());
  const { agent, dir, metrics } = await agentRig(t, server, {
    secrets: [{ name: 'pay', source: 'find', id: 'svc/', tag: 'team=pay' }],
  });
  t.same((await agent.cycle(signal)).failures, []);
  t.same(await tree(dir), { 'pay/a': 'A' });
  t.equal(await calls(metrics, 'ListSecrets', 'success'), 1);
  t.equal(await calls(metrics, 'BatchGetSecretValue', 'success'), 1);
});

t.test('find: a secret that cannot be read fails the whole directory, named', async (t) => {
  const server = await startDevServer({
    seed: {
      secrets: [
        { name: 'f/a', value: 'A' },
        { name: 'f/b', value: 'B' },
      ],
    },
  });
  t.teardown(() => server.close());
  const { agent, dir } = await agentRig(t, server, {
    secrets: [{ name: 'f', source: 'find', id: 'f/' }],
  });
  t.same((await agent.cycle(signal)).failures, []);
  server.faults.add({ kind: 'decryptFailure', secretId: 'f/b', count: 1 });
  const { failures } = await agent.cycle(signal);
  t.equal(failures[0]?.error.code, 'DECRYPTION_FAILED');
  t.match(failures[0]?.error.message, /^find f\/: secret f\/b: DecryptionFailure/);
  t.same(await tree(dir), { 'f/a': 'A', 'f/b': 'B' }, 'the previous set stays whole');
  server.faults.add({ kind: 'accessDenied', operation: 'BatchGetSecretValue', count: 1 });
  const denied = await agent.cycle(signal);
  t.equal(denied.failures[0]?.error.code, 'ACCESS_DENIED');
  t.match(denied.failures[0]?.error.message, /^find f\/: AccessDeniedException/);
});

t.test('find: a secret named by the whole prefix leaves no file name: a clear error', async (t) => {
  const server = await startDevServer({
    seed: {
      secrets: [
        { name: 'x', value: '1' },
        { name: 'x/y', value: '2' },
      ],
    },
  });
  t.teardown(() => server.close());
  const { agent } = await agentRig(t, server, {
    secrets: [{ name: 'x', source: 'find', id: 'x' }],
  });
  const { failures } = await agent.cycle(signal);
  t.match(
    failures[0]?.error.message,
    /the secret x is named by the whole prefix.*end the prefix with "\/"/,
  );
});

t.test('rendering options apply to each file of a directory', async (t) => {
  const server = await startDevServer({
    seed: {
      parameters: [
        { name: '/j/a', value: '{"user":"ua","pw":"x"}' },
        { name: '/j/b', value: '{"user":"ub"}' },
        { name: '/j/c', value: 'not json' },
      ],
    },
  });
  t.teardown(() => server.close());
  const { agent, dir } = await agentRig(t, server, {
    secrets: [{ name: 'j', source: 'path', id: '/j', key: 'user', mode: '0400' }],
  });
  const { failures } = await agent.cycle(signal);
  t.equal(failures[0]?.error.code, 'RENDER_FAILED');
  t.match(
    failures[0]?.error.message,
    /^path \/j is not JSON, so secrets\[name=j\]\.key cannot apply \(file j\/c\)$/,
  );
  server.parameters.delete('/j/c');
  t.same((await agent.cycle(signal)).failures, []);
  t.same(await tree(dir), { 'j/a': 'ua', 'j/b': 'ub' });
  t.equal((await lstat(join(dir, '..data', 'j', 'a'))).mode & 0o777, 0o400);
});

t.test('failover: parameters, paths and finds are read again in the failover region', async (t) => {
  const server = await startDevServer({
    seed: {
      parameters: [
        { name: '/r/a', value: 'A' },
        { name: '/one', value: '1' },
      ],
      secrets: [{ name: 'fo/x', value: 'X' }],
    },
  });
  t.teardown(() => server.close());
  server.faults.add({ kind: 'error5xx', region: 'us-east-1' });
  const { agent, dir } = await agentRig(t, server, {
    region: 'us-east-1',
    failoverRegion: 'us-west-2',
    secrets: [
      { name: 'r', source: 'path', id: '/r' },
      { name: 'one', source: 'parameter', id: '/one' },
      { name: 'fo', source: 'find', id: 'fo/' },
    ],
  });
  t.same((await agent.cycle(signal)).failures, []);
  t.same(await tree(dir), { 'fo/x': 'X', one: '1', 'r/a': 'A' });
  const finds = server.requests
    .list()
    .filter((r) => r.operation === 'BatchGetSecretValue')
    .map((r) => `${r.region}:${r.outcome}`);
  t.same(finds, ['us-east-1:InternalServiceError', 'us-west-2:ok'], 'the find fails over too');
  const regions = server.requests
    .list()
    .filter((r) => r.service === 'ssm')
    .map((r) => `${r.operation}@${r.region}:${r.outcome}`)
    .sort();
  t.same(regions, [
    'GetParameters@us-east-1:InternalServerError',
    'GetParameters@us-west-2:ok',
    'GetParametersByPath@us-east-1:InternalServerError',
    'GetParametersByPath@us-west-2:ok',
  ]);
});
