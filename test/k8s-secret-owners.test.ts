/**
 * The lifecycle of the Kubernetes Secret: a Secret the agent created carries owner references to
 * what owns the pods (added by each agent that writes it, merged by uid, never blocking, never
 * a controller), so Kubernetes' garbage collector deletes it when the last owner is gone; a
 * pre-created Secret never gets one. Against the loopback API server (resourceVersion
 * conflicts, validation of owner references) with its emulation of the collector's rule, and
 * with only get, create and update on secrets.
 */
import t, { type Test } from 'tap';
import type { SecretOwner } from '../common/config.ts';
import { silentLogger } from '../common/log.ts';
import { createSecretsClient, type SecretsClient } from '../agent/sink/kube/client.ts';
import {
  CREATED_BY_ANNOTATION,
  K8sSecretSink,
  MANAGED_BY,
  MANAGED_BY_LABEL,
} from '../agent/sink/k8s-secret.ts';
import {
  startKubeApiServer,
  type KubeApiServer,
  type OwnerReference,
} from './helpers/kube-api-server.ts';

const signal = new AbortController().signal;
const data = (value: string): Map<string, Uint8Array> => new Map([['db', Buffer.from(value)]]);
const TOKEN = 'agent-token';

function owner(name: string, n: number): SecretOwner {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    name,
    uid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  };
}

/** Least privilege: get, create and update on secrets in the namespace, nothing else. */
async function rig(t: Test) {
  const server = await startKubeApiServer({
    tokens: {
      [TOKEN]: {
        username: 'system:serviceaccount:shop:orders',
        rules: [{ verbs: ['get', 'create', 'update'], namespaces: ['shop'] }],
      },
    },
  });
  t.teardown(() => server.close());
  const clients: SecretsClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  const agent = (owners: readonly SecretOwner[]): K8sSecretSink => {
    const client = createSecretsClient({
      server: server.url,
      token: () => Promise.resolve(TOKEN),
      insecureSkipTlsVerify: false,
      source: 'test',
    });
    clients.push(client);
    return new K8sSecretSink({
      client,
      namespace: 'shop',
      name: 'orders-secrets',
      logger: silentLogger,
      owners,
    });
  };
  return { server, agent };
}

const refs = (server: KubeApiServer): readonly OwnerReference[] =>
  server.secrets.get('shop', 'orders-secrets')?.metadata.ownerReferences ?? [];

t.test(
  "created by the agent: owned by the pods' owners, deleted when the last is gone",
  async (t) => {
    const { server, agent } = await rig(t);
    const v1 = owner('orders-7c9d5b6f48', 1);
    const v2 = owner('orders-5f8b9d7c66', 2);
    t.equal(await agent([v1]).write(data('a'), signal), 'created');
    const created = server.secrets.get('shop', 'orders-secrets');
    t.equal(
      created?.metadata.annotations?.[CREATED_BY_ANNOTATION],
      'true',
      'marked as created by the agent',
    );
    t.same(refs(server), [v1], 'one owner reference, neither controller nor blocking');
    t.notOk(refs(server).some((r) => 'controller' in r || 'blockOwnerDeletion' in r));

    t.equal(
      await agent([v1]).write(data('a'), signal),
      'unchanged',
      'a replica of the same owner adds nothing',
    );
    t.equal(
      await agent([v2]).write(data('a'), signal),
      'updated',
      "the rollout's new ReplicaSet is added",
    );
    t.same(
      refs(server).map((r) => r.name),
      [v1.name, v2.name],
    );

    const live = new Set([v2.uid]);
    const exists = (o: OwnerReference): boolean => live.has(o.uid);
    t.same(
      server.secrets.collectGarbage(exists),
      { deleted: [], updated: ['shop/orders-secrets'] },
      'the old ReplicaSet goes: its reference is dropped',
    );
    t.same(refs(server), [v2]);
    t.equal(
      await agent([v2]).write(data('a'), signal),
      'unchanged',
      'the agent does not fight the collector',
    );

    live.clear();
    t.same(
      server.secrets.collectGarbage(exists).deleted,
      ['shop/orders-secrets'],
      'the Deployment is deleted: the Secret goes',
    );
    t.equal(server.secrets.get('shop', 'orders-secrets'), undefined);
    t.notOk(
      server.requests.some((r) => r.status === 403),
      'no permission beyond get, create and update',
    );
  },
);

t.test('replicas of two owners adding themselves at once converge (conflict retry)', async (t) => {
  const { server, agent } = await rig(t);
  await agent([owner('a', 1)]).write(data('a'), signal);
  const writers = [owner('b', 2), owner('c', 3), owner('d', 4), owner('b', 2), owner('c', 3)];
  const outcomes = await Promise.all(writers.map((o) => agent([o]).write(data('a'), signal)));
  t.ok(
    outcomes.every((o) => o === 'updated' || o === 'unchanged'),
    outcomes.join(', '),
  );
  t.same(
    refs(server)
      .map((r) => r.name)
      .sort(),
    ['a', 'b', 'c', 'd'],
    'every owner once, none lost to a concurrent write',
  );
  t.ok(
    server.requests.some((r) => r.status === 409),
    'the writers did collide',
  );
});

t.test('a pre-created Secret never gets an owner, so it is never collected', async (t) => {
  const { server, agent } = await rig(t);
  server.secrets.put('shop', {
    metadata: { name: 'orders-secrets', labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
  });
  t.equal(await agent([owner('orders-1', 1)]).write(data('a'), signal), 'updated');
  t.same(refs(server), [], 'data written, no owner added');
  t.equal(
    server.secrets.get('shop', 'orders-secrets')?.metadata.annotations?.[CREATED_BY_ANNOTATION],
    undefined,
  );
  t.same(
    server.secrets.collectGarbage(() => false),
    { deleted: [], updated: [] },
  );
  t.not(server.secrets.get('shop', 'orders-secrets'), undefined);
});

t.test(
  'a Secret created without owners never gets one: a named owner cannot delete it',
  async (t) => {
    const { server, agent } = await rig(t);
    // A bare pod's agent creates it, owner-less.
    t.equal(await agent([]).write(data('a'), signal), 'created');
    // Another pod names an owner (any kind, any uid: one that does not exist) for the same Secret.
    const forged: SecretOwner = { ...owner('forged', 99), kind: 'ConfigMap', apiVersion: 'v1' };
    t.equal(await agent([forged]).write(data('b'), signal), 'updated');
    t.same(refs(server), [], 'the data is written, no owner added');
    t.same(
      server.secrets.collectGarbage(() => false),
      { deleted: [], updated: [] },
      'the collector has nothing to delete',
    );
    t.not(server.secrets.get('shop', 'orders-secrets'), undefined);
  },
);

t.test('without owners (a bare pod), the Secret is created as before', async (t) => {
  const { server, agent } = await rig(t);
  t.equal(await agent([]).write(data('a'), signal), 'created');
  t.same(refs(server), []);
  t.same(server.secrets.collectGarbage(() => false).deleted, [], 'nothing owns it: it stays');
});

t.test('the loopback API validates owner references as the API server does', async (t) => {
  const { server } = await rig(t);
  const put = (ownerReferences: unknown) =>
    fetch(`${server.url}/api/v1/namespaces/shop/secrets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'x', ownerReferences } }),
    });
  const empty = await put([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r', uid: '' }]);
  t.equal(empty.status, 422);
  t.match(
    await empty.text(),
    /metadata.ownerReferences.uid: Invalid value: \\"\\": uid must not be empty/,
  );
  const two = await put([
    { ...owner('r1', 1), controller: true },
    { ...owner('r2', 2), controller: true },
  ]);
  t.equal(two.status, 422);
  t.match(await two.text(), /Only one reference can have Controller set to true/);
  const bad = await put('x');
  t.equal(bad.status, 400);
});
