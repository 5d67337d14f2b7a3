import t from 'tap';
import { call, makeCa } from './helpers/certs.ts';
import {
  ADMIN_TOKEN,
  startKubeApiServer,
  type Identity,
  type KubeApiServer,
  type Secret,
} from './helpers/kube-api-server.ts';
import { kubeFetch, type KubeCall, type KubeReply } from './helpers/kube-api/client.ts';

const SA = 'system:serviceaccount:shop:catalog';
const CATALOG_TOKEN = 'catalog-token';
const TOKENS: Record<string, Identity> = {
  [ADMIN_TOKEN]: { username: 'kubernetes-admin', rules: [{ verbs: ['*'], namespaces: '*' }] },
  [CATALOG_TOKEN]: {
    username: SA,
    rules: [
      {
        verbs: ['get', 'update', 'patch', 'create'],
        namespaces: ['shop'],
        resourceNames: ['mine'],
      },
      { verbs: ['list'], namespaces: ['shop'] },
    ],
  },
  'reader-token': { username: 'reader', rules: [{ verbs: ['get'], namespaces: '*' }] },
};

type Res = KubeReply;
type Req = KubeCall;
const api = (server: KubeApiServer, method: string, path: string, req?: Req): Promise<Res> =>
  kubeFetch(server.url, ADMIN_TOKEN, method, path, req);

const SECRETS = '/api/v1/namespaces/shop/secrets';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const secretOf = (res: Res): Secret => res.body as Secret;

function secret(
  name: string,
  data: Record<string, string> = { a: b64('1') },
  extra: object = {},
): object {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name }, data, ...extra };
}

async function setup(
  t: { teardown(fn: () => unknown): void },
  tokens: Record<string, Identity> = TOKENS,
): Promise<KubeApiServer> {
  const server = await startKubeApiServer({ tokens });
  t.teardown(() => server.close());
  return server;
}

t.test('create → get → update → stale update → merge patch → list → delete', async (t) => {
  const server = await setup(t);
  const created = await api(server, 'POST', SECRETS, {
    body: secret(
      'catalog',
      { a: b64('1') },
      { stringData: { b: 'two' }, metadata: { name: 'catalog', labels: { app: 'shop' } } },
    ),
  });
  t.equal(created.status, 201);
  t.equal(created.contentType, 'application/json');
  const s1 = secretOf(created);
  t.match(s1, {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: 'catalog', namespace: 'shop', labels: { app: 'shop' } },
    data: { a: b64('1'), b: b64('two') },
  });
  t.match(s1.metadata.uid, /^[0-9a-f-]{36}$/);
  t.match(s1.metadata.resourceVersion, /^\d+$/);
  t.match(s1.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.notOk('stringData' in s1, 'stringData is never returned');

  const got = await api(server, 'GET', `${SECRETS}/catalog`);
  t.same(got.body, s1);

  const put = await api(server, 'PUT', `${SECRETS}/catalog`, {
    body: { ...s1, data: { a: b64('changed') } },
  });
  t.equal(put.status, 200);
  const s2 = secretOf(put);
  t.ok(Number(s2.metadata.resourceVersion) > Number(s1.metadata.resourceVersion));
  t.equal(s2.metadata.uid, s1.metadata.uid);
  t.equal(s2.metadata.creationTimestamp, s1.metadata.creationTimestamp);
  t.same(s2.data, { a: b64('changed') }, 'PUT replaces data');

  const same = await api(server, 'PUT', `${SECRETS}/catalog`, { body: s2 });
  t.equal(
    secretOf(same).metadata.resourceVersion,
    s2.metadata.resourceVersion,
    'no-op write keeps the resourceVersion',
  );

  const stale = await api(server, 'PUT', `${SECRETS}/catalog`, {
    body: { ...s1, data: { a: b64('x') } },
  });
  t.equal(stale.status, 409);
  t.same(stale.body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message:
      'Operation cannot be fulfilled on secrets "catalog": the object has been modified; please apply your changes to the latest version and try again',
    reason: 'Conflict',
    details: { name: 'catalog', kind: 'secrets' },
    code: 409,
  });

  // JSON.stringify drops the undefined: the body carries no resourceVersion at all.
  const metaNoRv = { ...s2.metadata, resourceVersion: undefined };
  const unconditional = await api(server, 'PUT', `${SECRETS}/catalog`, {
    body: { ...s2, metadata: metaNoRv, data: { a: b64('forced') } },
  });
  t.equal(unconditional.status, 200, 'an empty resourceVersion is an unconditional update');
  const s3 = secretOf(unconditional);

  const patched = await api(server, 'PATCH', `${SECRETS}/catalog`, {
    contentType: 'application/merge-patch+json',
    body: {
      metadata: { annotations: { note: 'x' }, labels: { app: null } },
      data: { a: null, c: b64('3') },
    },
  });
  t.equal(patched.status, 200);
  t.match(patched.body, { metadata: { annotations: { note: 'x' } }, data: { c: b64('3') } });
  t.notOk('labels' in secretOf(patched).metadata, 'null deleted the only label');
  t.same(Object.keys(secretOf(patched).data ?? {}), ['c'], 'null deleted data.a');

  const stalePatch = await api(server, 'PATCH', `${SECRETS}/catalog`, {
    contentType: 'application/merge-patch+json',
    body: { metadata: { resourceVersion: s3.metadata.resourceVersion }, data: { d: b64('4') } },
  });
  t.equal(stalePatch.status, 409, 'a resourceVersion in the patch is a precondition');
  t.match(stalePatch.body, { reason: 'Conflict' });

  const strategic = await api(server, 'PATCH', `${SECRETS}/catalog`, {
    contentType: 'application/strategic-merge-patch+json',
    body: { stringData: { e: 'five' } },
  });
  t.equal(strategic.status, 200);
  t.match(strategic.body, { data: { c: b64('3'), e: b64('five') } });

  const jsonPatch = await api(server, 'PATCH', `${SECRETS}/catalog`, {
    contentType: 'application/json-patch+json',
    body: [{ op: 'remove', path: '/data/c' }],
  });
  t.equal(jsonPatch.status, 415);
  t.match(jsonPatch.body, { reason: 'UnsupportedMediaType' });

  await api(server, 'POST', SECRETS, { body: secret('another') });
  const list = await api(server, 'GET', SECRETS);
  t.equal(list.status, 200);
  t.match(list.body, {
    kind: 'SecretList',
    apiVersion: 'v1',
    metadata: { resourceVersion: /^\d+$/ },
  });
  const items = (list.body as { items: { metadata: { name: string }; kind?: string }[] }).items;
  t.same(
    items.map((i) => i.metadata.name),
    ['another', 'catalog'],
  );
  t.notOk('kind' in (items[0] ?? {}), 'list items carry no kind');

  const deleted = await api(server, 'DELETE', `${SECRETS}/catalog`);
  t.equal(deleted.status, 200);
  t.same(deleted.body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name: 'catalog', kind: 'secrets', uid: s1.metadata.uid },
  });
  t.equal((await api(server, 'GET', `${SECRETS}/catalog`)).status, 404);
});

t.test('404s, 405s, AlreadyExists, BadRequest', async (t) => {
  const server = await setup(t);
  const notFound = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'secrets "nope" not found',
    reason: 'NotFound',
    details: { name: 'nope', kind: 'secrets' },
    code: 404,
  };
  for (const [method, req] of [
    ['GET', {}],
    ['PUT', { body: secret('nope') }],
    ['PATCH', { body: { data: {} }, contentType: 'application/merge-patch+json' }],
    ['DELETE', {}],
  ] as const) {
    const res = await api(server, method, `${SECRETS}/nope`, req);
    t.equal(res.status, 404, `${method} missing`);
    t.same(res.body, notFound, `${method} missing: Status`);
  }
  const unknown = await api(server, 'GET', '/api/v1/namespaces/shop/configmaps');
  t.equal(unknown.status, 404);
  t.match(unknown.body, {
    reason: 'NotFound',
    message: 'the server could not find the requested resource',
  });
  for (const [method, path] of [
    ['POST', `${SECRETS}/x`],
    ['DELETE', SECRETS],
    ['PUT', SECRETS],
  ] as const) {
    const res = await api(server, method, path, { body: secret('x') });
    t.equal(res.status, 405, `${method} ${path}`);
    t.match(res.body, { kind: 'Status', reason: 'MethodNotAllowed', code: 405 });
  }

  t.equal((await api(server, 'POST', SECRETS, { body: secret('dup') })).status, 201);
  const dup = await api(server, 'POST', SECRETS, { body: secret('dup') });
  t.equal(dup.status, 409);
  t.same(dup.body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'secrets "dup" already exists',
    reason: 'AlreadyExists',
    details: { name: 'dup', kind: 'secrets' },
    code: 409,
  });

  const mismatch = await api(server, 'PUT', `${SECRETS}/dup`, { body: secret('other') });
  t.equal(mismatch.status, 400);
  t.match(mismatch.body, {
    reason: 'BadRequest',
    message: 'the name of the object (other) does not match the name on the URL (dup)',
  });
  const wrongNs = await api(server, 'POST', SECRETS, {
    body: { metadata: { name: 'n', namespace: 'other' } },
  });
  t.match(wrongNs.body, { code: 400, message: /namespace of the provided object does not match/ });
  const withRv = await api(server, 'POST', SECRETS, {
    body: { metadata: { name: 'rv', resourceVersion: '5' } },
  });
  t.match(withRv, {
    status: 500,
    body: { message: 'resourceVersion should not be set on objects to be created' },
  });
  const badJson = await api(server, 'POST', SECRETS, { raw: '{"metadata":' });
  t.match(badJson, { status: 400, body: { reason: 'BadRequest' } });
  const yaml = await api(server, 'POST', SECRETS, {
    raw: 'metadata: {}',
    contentType: 'application/yaml',
  });
  t.match(yaml, { status: 415, body: { reason: 'UnsupportedMediaType' } });
  const huge = await api(server, 'POST', SECRETS, { raw: `"${'x'.repeat(3 * 1024 * 1024)}"` });
  t.match(huge, { status: 413, body: { reason: 'RequestEntityTooLarge' } });
});

const KEY_DETAIL =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

t.test('validation: 422 Invalid with causes, in the real message style', async (t) => {
  const server = await setup(t);
  const cases: {
    name: string;
    body: object;
    message: string;
    causes: { reason: string; field: string; message: string }[];
  }[] = [
    {
      name: 'bad data key',
      body: secret('s1', { 'bad key': b64('v') }),
      message: `Secret "s1" is invalid: data[bad key]: Invalid value: "bad key": ${KEY_DETAIL}`,
      causes: [
        {
          reason: 'FieldValueInvalid',
          field: 'data[bad key]',
          message: `Invalid value: "bad key": ${KEY_DETAIL}`,
        },
      ],
    },
    {
      name: 'data over 1 MiB',
      body: secret('s2', { a: Buffer.alloc(1024 * 1024).toString('base64'), b: b64('1') }),
      message: 'Secret "s2" is invalid: data: Too long: must have at most 1048576 bytes',
      causes: [
        {
          reason: 'FieldValueTooLong',
          field: 'data',
          message: 'Too long: must have at most 1048576 bytes',
        },
      ],
    },
    {
      name: 'bad name',
      body: secret('Bad_Name'),
      message:
        "Secret \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      causes: [
        {
          reason: 'FieldValueInvalid',
          field: 'metadata.name',
          message: /^Invalid value: "Bad_Name": a lowercase RFC 1123/ as unknown as string,
        },
      ],
    },
    {
      name: 'label value over 63 characters',
      body: { metadata: { name: 's3', labels: { app: 'x'.repeat(64) } } },
      message: `Secret "s3" is invalid: metadata.labels: Invalid value: "${'x'.repeat(64)}": must be no more than 63 characters`,
      causes: [
        {
          reason: 'FieldValueInvalid',
          field: 'metadata.labels',
          message: /must be no more than 63 characters/ as unknown as string,
        },
      ],
    },
    {
      name: 'annotations over 256 KiB',
      body: { metadata: { name: 's4', annotations: { a: 'x'.repeat(256 * 1024) } } },
      message:
        'Secret "s4" is invalid: metadata.annotations: Too long: must have at most 262144 bytes',
      causes: [
        {
          reason: 'FieldValueTooLong',
          field: 'metadata.annotations',
          message: 'Too long: must have at most 262144 bytes',
        },
      ],
    },
    {
      name: 'missing name',
      body: { metadata: {} },
      message:
        'Secret "" is invalid: metadata.name: Required value: name or generateName is required',
      causes: [
        {
          reason: 'FieldValueRequired',
          field: 'metadata.name',
          message: 'Required value: name or generateName is required',
        },
      ],
    },
    {
      name: 'tls Secret without its keys',
      body: secret('s5', { 'tls.crt': b64('c') }, { type: 'kubernetes.io/tls' }),
      message: 'Secret "s5" is invalid: data[tls.key]: Required value',
      causes: [{ reason: 'FieldValueRequired', field: 'data[tls.key]', message: 'Required value' }],
    },
  ];
  for (const c of cases) {
    const res = await api(server, 'POST', SECRETS, { body: c.body });
    t.equal(res.status, 422, c.name);
    t.match(
      res.body,
      {
        kind: 'Status',
        status: 'Failure',
        reason: 'Invalid',
        code: 422,
        message: c.message,
        details: { kind: 'Secret', causes: c.causes },
      },
      c.name,
    );
  }
  const exactly = await api(server, 'POST', SECRETS, {
    body: secret('max', { a: Buffer.alloc(1024 * 1024).toString('base64') }),
  });
  t.equal(exactly.status, 201, 'exactly 1 MiB is allowed');

  const badB64 = await api(server, 'POST', SECRETS, { body: secret('b64', { a: 'no*base64' }) });
  t.equal(badB64.status, 400, 'bad base64 is a decode error (400), as the real API');
  t.match(badB64.body, {
    reason: 'BadRequest',
    message:
      'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 2',
  });
  const notString = await api(server, 'POST', SECRETS, {
    body: secret('num', { a: 1 } as unknown as Record<string, string>),
  });
  t.match(notString, { status: 400, body: { message: /cannot unmarshal number/ } });

  const imm = await api(server, 'POST', SECRETS, {
    body: secret('imm', { a: b64('1') }, { immutable: true }),
  });
  t.equal(imm.status, 201);
  const immSecret = secretOf(imm);
  const change = await api(server, 'PUT', `${SECRETS}/imm`, {
    body: { ...immSecret, data: { a: b64('2') } },
  });
  t.equal(change.status, 422);
  t.match(change.body, {
    message: 'Secret "imm" is invalid: data: Forbidden: field is immutable when `immutable` is set',
    details: { causes: [{ reason: 'FieldValueForbidden', field: 'data' }] },
  });
  const unset = await api(server, 'PATCH', `${SECRETS}/imm`, {
    contentType: 'application/merge-patch+json',
    body: { immutable: false },
  });
  t.match(unset, { status: 422, body: { details: { causes: [{ field: 'immutable' }] } } });
  const meta = await api(server, 'PATCH', `${SECRETS}/imm`, {
    contentType: 'application/merge-patch+json',
    body: { metadata: { labels: { ok: 'yes' } } },
  });
  t.equal(meta.status, 200, 'an immutable Secret still takes metadata changes');
  const retype = await api(server, 'PATCH', `${SECRETS}/max`, {
    contentType: 'application/merge-patch+json',
    body: { type: 'kubernetes.io/basic-auth' },
  });
  t.match(retype, {
    status: 422,
    body: { message: /type: Invalid value: "kubernetes.io\/basic-auth": field is immutable/ },
  });
});

t.test('authentication and RBAC', async (t) => {
  const server = await setup(t);
  for (const token of [null, 'unknown-token']) {
    const res = await api(server, 'GET', `${SECRETS}/mine`, { token });
    t.equal(res.status, 401);
    t.same(res.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
  }
  server.secrets.put('shop', { metadata: { name: 'mine' }, stringData: { a: '1' } });
  server.secrets.put('shop', {
    metadata: { name: 'catalog-external-secret' },
    stringData: { a: '1' },
  });
  const mine = server.secrets.get('shop', 'mine');
  const theirs = server.secrets.get('shop', 'catalog-external-secret');
  const as = { token: CATALOG_TOKEN };
  t.equal((await api(server, 'GET', `${SECRETS}/mine`, as)).status, 200, 'resourceNames allow get');
  t.equal(
    (await api(server, 'PUT', `${SECRETS}/mine`, { ...as, body: mine })).status,
    200,
    'and update',
  );
  t.equal((await api(server, 'GET', SECRETS, as)).status, 200, 'list by a rule without names');

  const forbidden = (verb: string, name?: string, ns = 'shop'): object => ({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `secrets${name === undefined ? '' : ` "${name}"`} is forbidden: User "${SA}" cannot ${verb} resource "secrets" in API group "" in the namespace "${ns}"`,
    reason: 'Forbidden',
    details: { ...(name === undefined ? {} : { name }), kind: 'secrets' },
    code: 403,
  });
  const other = `${SECRETS}/catalog-external-secret`;
  const denied: [string, string, Req, object][] = [
    ['GET', other, as, forbidden('get', 'catalog-external-secret')],
    ['PUT', other, { ...as, body: theirs }, forbidden('update', 'catalog-external-secret')],
    [
      'PATCH',
      other,
      { ...as, body: {}, contentType: 'application/merge-patch+json' },
      forbidden('patch', 'catalog-external-secret'),
    ],
    ['DELETE', `${SECRETS}/mine`, as, forbidden('delete', 'mine')],
    ['POST', SECRETS, { ...as, body: secret('mine') }, forbidden('create')],
    [
      'GET',
      '/api/v1/namespaces/kube-system/secrets',
      as,
      forbidden('list', undefined, 'kube-system'),
    ],
    [
      'GET',
      '/api/v1/namespaces/kube-system/secrets/mine',
      as,
      forbidden('get', 'mine', 'kube-system'),
    ],
  ];
  for (const [method, path, req, body] of denied) {
    const res = await api(server, method, path, req);
    t.equal(res.status, 403, `${method} ${path}`);
    t.same(res.body, body, `${method} ${path}: Status`);
  }
  const reader = await api(server, 'PUT', `${SECRETS}/mine`, { token: 'reader-token', body: mine });
  t.match(reader.body, {
    code: 403,
    message:
      'secrets "mine" is forbidden: User "reader" cannot update resource "secrets" in API group "" in the namespace "shop"',
  });
  const denyBeforeValidate = await api(server, 'POST', SECRETS, {
    ...as,
    body: secret('Bad Name'),
  });
  t.equal(denyBeforeValidate.status, 403, 'authorization comes before decoding and validation');
});

t.test('TLS mode: the CA verifies the serving certificate', async (t) => {
  const server = await startKubeApiServer({ tls: true });
  t.teardown(() => server.close());
  t.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = server.caPem ?? '';
  t.match(ca, /BEGIN CERTIFICATE/);
  const port = Number(new URL(server.url).port);
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const created = await call({
    port,
    ca,
    method: 'POST',
    path: SECRETS,
    headers,
    body: JSON.stringify(secret('tls')),
  });
  t.equal(created.status, 201);
  const got = await call({ port, ca, path: `${SECRETS}/tls`, headers });
  t.equal(got.status, 200);
  t.match(JSON.parse(got.body), { metadata: { name: 'tls' }, data: { a: b64('1') } });
  await t.rejects(
    call({ port, ca: makeCa('stranger').cert, path: SECRETS, headers }),
    'another CA is refused',
  );
});

t.test('request log records method, path, status, user, verb and resource', async (t) => {
  const server = await setup(t);
  await api(server, 'POST', SECRETS, { body: secret('logged') });
  await api(server, 'GET', `${SECRETS}/logged?x=1`, { token: CATALOG_TOKEN });
  await api(server, 'GET', `${SECRETS}/logged`, { token: null });
  await api(server, 'GET', '/healthz');
  const secrets = { resource: 'secrets' } as const;
  t.same(server.requests, [
    {
      method: 'POST',
      path: SECRETS,
      status: 201,
      user: 'kubernetes-admin',
      verb: 'create',
      ...secrets,
    },
    { method: 'GET', path: `${SECRETS}/logged`, status: 403, user: SA, verb: 'get', ...secrets },
    { method: 'GET', path: `${SECRETS}/logged`, status: 401, verb: 'get', ...secrets },
    { method: 'GET', path: '/healthz', status: 404, user: 'kubernetes-admin' },
  ]);
  server.clearRequests();
  t.same(server.requests, []);
});

t.test('five concurrent updates with the same resourceVersion: one wins', async (t) => {
  const server = await setup(t);
  const base = secretOf(await api(server, 'POST', SECRETS, { body: secret('race') }));
  server.setLatency(20);
  const results = await Promise.all(
    [11, 12, 13, 14, 15].map((n) =>
      api(server, 'PUT', `${SECRETS}/race`, { body: { ...base, data: { a: b64(String(n)) } } }),
    ),
  );
  const codes = results.map((r) => r.status).sort();
  t.same(codes, [200, 409, 409, 409, 409]);
  for (const r of results.filter((x) => x.status === 409)) t.match(r.body, { reason: 'Conflict' });
  const winner = secretOf(
    results.find((r) => r.status === 200) ??
      results[0] ?? { status: 0, contentType: null, body: {} },
  );
  t.same(server.secrets.get('shop', 'race')?.data, winner.data);
});

t.test('direct store access and fault injection', async (t) => {
  const server = await setup(t);
  const before = Number(server.secrets.resourceVersion());
  const put = server.secrets.put('shop', { metadata: { name: 'direct' }, stringData: { k: 'v' } });
  t.equal(put.metadata.resourceVersion, String(before + 1));
  t.same(put.data, { k: b64('v') });
  const again = server.secrets.put('shop', { metadata: { name: 'direct' }, data: { k: b64('w') } });
  t.equal(again.metadata.uid, put.metadata.uid, 'put keeps the uid of an existing Secret');
  t.equal(again.metadata.resourceVersion, String(before + 2));
  const stale = await api(server, 'PUT', `${SECRETS}/direct`, { body: put });
  t.equal(stale.status, 409, 'a direct write makes an earlier read stale');

  server.failNext(2, 503);
  const f1 = await api(server, 'GET', `${SECRETS}/direct`);
  const f2 = await api(server, 'GET', `${SECRETS}/direct`);
  t.match([f1, f2], [{ status: 503, body: { reason: 'ServiceUnavailable' } }, { status: 503 }]);
  server.failNext(1);
  t.match(await api(server, 'GET', `${SECRETS}/direct`), {
    status: 500,
    body: { reason: 'InternalError' },
  });
  t.equal((await api(server, 'GET', `${SECRETS}/direct`)).status, 200, 'faults are used up');

  t.equal(server.secrets.delete('shop', 'direct'), true);
  t.equal(server.secrets.get('shop', 'direct'), undefined);
  t.equal(server.secrets.delete('shop', 'direct'), false);
});
