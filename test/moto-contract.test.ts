/**
 * The dev endpoint checked against moto, an AWS emulator written by others (Debian's
 * python3-moto): the same seed in both, then
 *
 * - the real agent (the bundle under `npm test`) against each, side by side: the files it
 *   writes are byte-identical, exit codes and termination lines agree, and the AWS calls by
 *   operation are the same, counted on the wire (a proxy in front of each endpoint) and by the
 *   agent itself (`secrets_agent_aws_api_calls_total`);
 * - the raw answers the agent depends on, field by field.
 *
 * Where the two differ, the test says which one matches AWS and asserts the difference, so a
 * moto upgrade that fixes it shows up here.
 */
import { request as httpRequest, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parseSeed } from '../dev/seed.ts';
import { startDevServer } from '../dev/server.ts';
import {
  agentEnv,
  eventually,
  freePort,
  irsaEnv,
  runAgent,
  startAgent,
  webIdentityToken,
} from './helpers/agent-process.ts';
import { tempDir } from './helpers/tmp.ts';
import { AWS_JSON_AUTH, awsJson, type AwsJsonAnswer } from './helpers/aws-json.ts';
import { seedMoto, startMoto } from './moto/moto.ts';
import { fileNeeds } from './helpers/needs.ts';

fileNeeds(t, 'moto');
// The cases share one moto (its start is the slow part) and only read from it: they run side
// by side, most of their time spent waiting on the agents' retries.
t.jobs = 4;

const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';
const V3 = '33333333-3333-4333-8333-333333333333';
const V4 = '44444444-4444-4444-8444-444444444444';
const V5 = '55555555-5555-4555-8555-555555555555';
const ROLE = 'arn:aws:iam::123456789012:role/catalog';
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

const seed = parseSeed({
  region: 'us-east-1',
  secrets: [
    ...Array.from({ length: 25 }, (_, i) => ({
      name: `bulk/${String(i).padStart(2, '0')}`,
      value: `value ${i}: ünïcödé, 'single' "double" \\ \n second line`,
    })),
    {
      name: 'app/json',
      versions: [
        {
          id: V4,
          value: {
            username: 'catalog_user',
            password: `p@ss"word'${'x'.repeat(40)}`,
            port: 5432,
            nested: { host: 'db.local', tags: ['a', 'b'] },
          },
          stages: ['AWSCURRENT'],
        },
      ],
    },
    {
      name: 'app/binary',
      versions: [{ id: V5, binary: ALL_BYTES.toString('base64'), stages: ['AWSCURRENT'] }],
    },
    {
      name: 'app/rotated',
      versions: [
        { id: V1, value: { password: 'old' }, stages: ['AWSPREVIOUS'] },
        { id: V2, value: { password: 'new' }, stages: ['AWSCURRENT'] },
        { id: V3, value: { password: 'next' }, stages: ['AWSPENDING'] },
      ],
    },
    // A set for find- (nested names, a tag), and a name that only a case-insensitive or
    // word match would add to it.
    { name: 'conf/db', value: { host: 'db.local', port: 5432 }, tags: { team: 'pay' } },
    { name: 'conf/nested/flag', value: 'on', tags: { team: 'ops' } },
    { name: 'conf/nested/other', value: 'x', tags: { owner: 'pay' } },
    { name: 'confidential', value: 'not under conf/' },
  ],
  parameters: [
    { name: '/app/url', value: 'postgres://db.local:5432/app' },
    { name: '/app/password', value: `s3cure'"\\ ünï`, type: 'SecureString' },
    { name: '/app/hosts', value: ['a.local', 'b.local'] },
    { name: '/app/labelled', value: 'v1', labels: ['prod'] },
    ...Array.from({ length: 12 }, (_, i) => ({
      name: `/tree/${i % 2 === 0 ? 'even' : 'odd'}/p${String(i).padStart(2, '0')}`,
      value: `tree ${i}`,
    })),
  ],
});

/** What the agent adds to a not-found failure: the region it asked (agent/not-found.ts). */
const ASKED = ` (asked in region ${seed.region})`;

const moto = await startMoto(t);
await seedMoto(moto.url, seed);
const dev = await startDevServer({ seed });
t.teardown(() => dev.close());
t.comment(`moto ${moto.version} at ${moto.url}, the dev endpoint at ${dev.url}`);

const PARTIAL_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/json';
const ARN = /^arn:aws:secretsmanager:us-east-1:123456789012:secret:app\/json-[A-Za-z0-9]{6}$/;

// ---------------------------------------------------------------------------------------------
// The agent against both.

/** A loopback proxy that counts the AWS calls passing through, by operation. */
async function countingProxy(
  t: Test,
  upstream: string,
): Promise<{ url: string; calls: () => Record<string, number> }> {
  const target = new URL(upstream);
  const calls: Record<string, number> = {};
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const amzTarget = req.headers['x-amz-target'];
      const operation =
        typeof amzTarget === 'string'
          ? (amzTarget.split('.').at(-1) ?? amzTarget)
          : (new URLSearchParams(body.toString('utf8')).get('Action') ?? 'other');
      calls[operation] = (calls[operation] ?? 0) + 1;
      // The Host header is passed on unchanged: it is signed, and the dev endpoint checks.
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls: () => ({ ...calls }),
  };
}

/**
 * The stable names in an output directory (a directory source's files by their relative path):
 * content (base64) and mode, read as an app would.
 */
async function filesIn(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const names = (await readdir(join(dir, prefix)).catch(() => []))
    .filter((n) => prefix !== '' || !n.startsWith('.'))
    .sort();
  for (const name of names) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    const path = join(dir, rel);
    const info = await stat(path);
    if (info.isDirectory()) {
      Object.assign(out, await filesIn(dir, rel));
      continue;
    }
    out[rel] = `${(info.mode & 0o777).toString(8)} ${(await readFile(path)).toString('base64')}`;
  }
  return out;
}

/** `name{labels} value` lines of one metric, as a labels → value map. */
function metric(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const cut = line.lastIndexOf(' ');
    out[line.slice(name.length, cut)] = Number(line.slice(cut + 1));
  }
  return out;
}

interface Scenario {
  readonly title: string;
  readonly secrets: readonly Record<string, unknown>[];
  /** The web identity (IRSA) path instead of static keys. */
  readonly irsa?: boolean;
}

interface Outcome {
  readonly code: number | null;
  readonly termination: string;
  readonly files: Record<string, string>;
  /** Calls seen on the wire, by operation. */
  readonly wire: Record<string, number>;
  readonly output: string;
}

interface SidecarOutcome {
  readonly files: Record<string, string>;
  readonly wire: Record<string, number>;
  /** The metrics once the first write is done; undefined when the agent gave up (exit 1). */
  readonly apiCalls?: Record<string, number>;
  readonly fetches?: Record<string, number>;
  readonly code?: number | null;
  /** What an agent that exited wrote: why it gave up, for a failure to show. */
  readonly output?: string;
}

async function environment(
  t: Test,
  endpoint: string,
  s: Scenario,
): Promise<Record<string, string>> {
  return s.irsa === true ? irsaEnv(endpoint, await tempDir(t), ROLE) : agentEnv(endpoint);
}

async function runInit(t: Test, upstream: string, s: Scenario): Promise<Outcome> {
  const proxy = await countingProxy(t, upstream);
  const root = await tempDir(t);
  const out = join(root, 'secrets');
  const termination = join(root, 'termination-log');
  const config = {
    mode: 'init',
    outputDir: out,
    httpPort: 0,
    terminationLogPath: termination,
    secrets: s.secrets,
  };
  const run = await runAgent(
    ['--config-json', JSON.stringify(config)],
    await environment(t, proxy.url, s),
  );
  return {
    code: run.code,
    termination: (await readFile(termination, 'utf8').catch(() => '')).trimEnd(),
    files: await filesIn(out),
    wire: proxy.calls(),
    output: run.stdout + run.stderr,
  };
}

/**
 * Sidecar mode, scraped once the first write is done; a sidecar whose first write fails gives up
 * as init does (exit 1), and then only its calls on the wire are compared.
 */
async function runSidecar(t: Test, upstream: string, s: Scenario): Promise<SidecarOutcome> {
  const proxy = await countingProxy(t, upstream);
  const out = join(await tempDir(t), 'secrets');
  const port = await freePort();
  const config = {
    mode: 'sidecar',
    outputDir: out,
    httpAddress: '127.0.0.1',
    httpPort: port,
    refreshInterval: '1h',
    secrets: s.secrets,
  };
  const agent = startAgent(
    ['--config-json', JSON.stringify(config)],
    await environment(t, proxy.url, s),
  );
  t.teardown(() => agent.stop('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  let code: number | null | undefined;
  let output = '';
  void agent.exited.then((run) => {
    output = run.stdout + run.stderr;
    code = run.code;
  });
  await eventually(async () => {
    if (code !== undefined) return true;
    const ready = await fetch(`${base}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    return ready ? true : undefined;
  }, 30_000);
  if (code !== undefined) return { files: await filesIn(out), wire: proxy.calls(), code, output };
  const text = await (await fetch(`${base}/metrics`)).text();
  const outcome = {
    files: await filesIn(out),
    wire: proxy.calls(),
    apiCalls: metric(text, 'secrets_agent_aws_api_calls_total'),
    fetches: metric(text, 'secrets_agent_fetch_total'),
  };
  await agent.stop('SIGTERM');
  return outcome;
}

const json = { name: 'json', id: 'app/json' };
const FILES: Scenario = {
  title: 'init with 29 ids (two BatchGetSecretValue calls), JSON, binary, stage and version pins',
  secrets: [
    ...Array.from({ length: 25 }, (_, i) => ({
      name: `bulk-${i}`,
      id: `bulk/${String(i).padStart(2, '0')}`,
    })),
    json,
    { name: 'password', id: 'app/json', key: 'password', mode: '0400' },
    { name: 'db.yaml', id: 'app/json', format: 'yaml' },
    { name: 'app.env', id: 'app/json', format: 'env' },
    {
      name: 'dsn',
      id: 'app/json',
      template: 'postgres://{{ username }}@{{ nested.host }}:{{ port }}',
    },
    { name: 'by-partial-arn', id: PARTIAL_ARN, key: 'username' },
    { name: 'binary', id: 'app/binary' },
    { name: 'current', id: 'app/rotated', key: 'password' },
    { name: 'previous', id: 'app/rotated', versionStage: 'AWSPREVIOUS', key: 'password' },
    { name: 'pending', id: 'app/rotated', versionStage: 'AWSPENDING', key: 'password' },
    { name: 'pinned', id: 'app/rotated', versionId: V1, key: 'password' },
  ],
};

t.test(FILES.title, async (t) => {
  const [m, d] = await Promise.all([runInit(t, moto.url, FILES), runInit(t, dev.url, FILES)]);
  t.equal(m.code, 0, 'moto: exit 0', { output: m.output });
  t.equal(d.code, 0, 'dev: exit 0', { output: d.output });
  t.equal(Object.keys(d.files).length, FILES.secrets.length, 'every file written');
  t.same(m.files, d.files, 'byte-identical files and modes');
  const read = (name: string): Buffer =>
    Buffer.from((d.files[name] ?? '').split(' ')[1] ?? '', 'base64');
  t.same(read('binary'), ALL_BYTES, 'all 256 byte values');
  t.equal(read('previous').toString(), 'old');
  t.equal(read('pinned').toString(), 'old');
  t.equal(read('pending').toString(), 'next');
  t.equal(read('current').toString(), 'new');
  t.equal(read('by-partial-arn').toString(), 'catalog_user');
  t.equal(d.files['password']?.split(' ')[0], '400');
  // ceil(29 / 20) batch calls (25 bulk, app/json, its partial ARN, app/binary, app/rotated),
  // and one GetSecretValue per pinned stage or version.
  t.same(d.wire, { BatchGetSecretValue: 2, GetSecretValue: 3 }, 'dev: calls on the wire');
  t.same(m.wire, d.wire, 'moto: the same calls');
});

const IRSA: Scenario = {
  title: 'IRSA: AssumeRoleWithWebIdentity, then the reads signed with its credentials',
  secrets: [json, { name: 'binary', id: 'app/binary' }],
  irsa: true,
};

t.test(IRSA.title, async (t) => {
  // A dev endpoint of its own: its request log holds this run's reads alone.
  const own = await startDevServer({ seed });
  t.teardown(() => own.close());
  const [m, d] = await Promise.all([runInit(t, moto.url, IRSA), runInit(t, own.url, IRSA)]);
  t.equal(m.code, 0, 'moto: exit 0', { output: m.output });
  t.equal(d.code, 0, 'dev: exit 0', { output: d.output });
  t.same(m.files, d.files, 'byte-identical files');
  t.equal(Object.keys(d.files).length, 2);
  t.same(d.wire, { AssumeRoleWithWebIdentity: 1, BatchGetSecretValue: 1 });
  t.same(m.wire, d.wire);
  const read = own.requests.list({ operation: 'BatchGetSecretValue' }).at(-1);
  t.equal(read?.roleArn, ROLE, 'dev verified the signature of the STS-issued key');
});

const MISSING: Scenario = {
  title: 'a missing secret fails init: same exit code, same termination line up to AWS wording',
  secrets: [json, { name: 'gone', id: 'no/such-secret' }],
};

t.test(MISSING.title, async (t) => {
  const [m, d] = await Promise.all([runInit(t, moto.url, MISSING), runInit(t, dev.url, MISSING)]);
  t.equal(d.code, 1, 'dev: exit 1', { output: d.output });
  t.equal(m.code, d.code, 'moto: the same', { output: m.output });
  const prefix = 'failed to fetch gone: secret no/such-secret: ResourceNotFoundException: ';
  t.equal(d.termination, `${prefix}Secrets Manager can't find the specified secret.${ASKED}`);
  // moto 5.1 leaves a missing secret out of BatchGetSecretValue's answer altogether (no entry in
  // Errors, see the wire test below); AWS, and the dev endpoint, answer it with an Errors entry.
  // The agent names it either way, in its own words when AWS gave none.
  t.equal(m.termination, `${prefix}missing from the BatchGetSecretValue answer${ASKED}`);
  t.same(m.wire, d.wire, 'the same calls, retries included');
  t.ok((d.wire['BatchGetSecretValue'] ?? 0) >= 1);
  t.same(m.files, d.files, 'the same files written before giving up');
  t.same(Object.keys(d.files), ['json']);
});

const MISSING_STAGE: Scenario = {
  title: 'a missing version stage fails init with the same error code',
  secrets: [{ name: 'nope', id: 'app/rotated', versionStage: 'AWSNOPE' }],
};

t.test(MISSING_STAGE.title, async (t) => {
  const [m, d] = await Promise.all([
    runInit(t, moto.url, MISSING_STAGE),
    runInit(t, dev.url, MISSING_STAGE),
  ]);
  t.equal(d.code, 1, 'dev: exit 1', { output: d.output });
  t.equal(m.code, d.code, 'moto: the same', { output: m.output });
  const prefix =
    'failed to fetch nope: secret app/rotated (stage AWSNOPE): ResourceNotFoundException: ';
  // AWS names the label (as the dev endpoint does); moto answers with its generic message.
  t.equal(
    d.termination,
    `${prefix}Secrets Manager can't find the specified secret value for staging label: AWSNOPE${ASKED}`,
  );
  t.equal(m.termination, `${prefix}Secrets Manager can't find the specified secret.${ASKED}`);
  t.same(m.wire, d.wire);
  t.ok((d.wire['GetSecretValue'] ?? 0) >= 1);
});

const MISMATCH: Scenario = {
  title: 'a version id and a stage that do not match fail init the same way, word for word',
  secrets: [{ name: 'mismatch', id: 'app/rotated', versionId: V2, versionStage: 'AWSPREVIOUS' }],
};

t.test(MISMATCH.title, async (t) => {
  const [m, d] = await Promise.all([runInit(t, moto.url, MISMATCH), runInit(t, dev.url, MISMATCH)]);
  t.equal(d.code, 1, 'dev: exit 1', { output: d.output });
  t.equal(m.code, d.code, 'moto: the same', { output: m.output });
  t.equal(
    d.termination,
    `failed to fetch mismatch: secret app/rotated (version ${V2}): InvalidRequestException: You provided a VersionStage that is not associated to the provided VersionId.`,
  );
  t.equal(m.termination, d.termination);
  t.same(m.wire, d.wire);
});

const SOURCES: Scenario = {
  title:
    'init with parameters (version and label selectors, SecureString, StringList), a path and finds',
  secrets: [
    { name: 'url', source: 'parameter', id: '/app/url' },
    { name: 'password', source: 'parameter', id: '/app/password', mode: '0400' },
    { name: 'hosts', source: 'parameter', id: '/app/hosts' },
    { name: 'v1', source: 'parameter', id: '/app/labelled:1' },
    { name: 'prod', source: 'parameter', id: '/app/labelled:prod' },
    { name: 'tree', source: 'path', id: '/tree' },
    { name: 'conf', source: 'find', id: 'conf/', mode: '0440' },
    { name: 'pay', source: 'find', id: 'conf/', tag: 'team=pay' },
  ],
};

t.test(SOURCES.title, async (t) => {
  const [m, d] = await Promise.all([runInit(t, moto.url, SOURCES), runInit(t, dev.url, SOURCES)]);
  t.equal(d.code, 0, 'dev: exit 0', { output: d.output });
  t.equal(m.code, 0, 'moto: exit 0', { output: m.output });
  t.same(m.files, d.files, 'byte-identical files and modes, directories included');
  const read = (name: string): string =>
    Buffer.from((d.files[name] ?? '').split(' ')[1] ?? '', 'base64').toString();
  t.equal(read('password'), `s3cure'"\\ ünï`, 'a SecureString, decrypted');
  t.equal(read('hosts'), 'a.local,b.local', 'a StringList as SSM returns it');
  t.equal(read('prod'), 'v1');
  t.equal(read('tree/odd/p11'), 'tree 11');
  t.equal(read('conf/nested/flag'), 'on');
  t.same(
    Object.keys(d.files).filter((n) => n.startsWith('conf/') || n.startsWith('pay/')),
    ['conf/db', 'conf/nested/flag', 'conf/nested/other', 'pay/db'],
    'the exact prefix (not "confidential"), and the exact tag',
  );
  // 6 parameters in one call; 12 under /tree in pages of 10; the find in one page of 20; the
  // tagged find: ListSecrets, then the matches read by id.
  t.same(d.wire, {
    GetParameters: 1,
    GetParametersByPath: 2,
    BatchGetSecretValue: 2,
    ListSecrets: 1,
  });
  t.same(m.wire, d.wire, 'moto: the same calls');
});

const PARAMETER_ARN: Scenario = {
  title: 'a parameter by its ARN: AWS and the dev endpoint answer it, moto does not',
  secrets: [
    {
      name: 'by-arn',
      source: 'parameter',
      id: 'arn:aws:ssm:us-east-1:123456789012:parameter/app/url',
    },
  ],
};

t.test(PARAMETER_ARN.title, async (t) => {
  const [m, d] = await Promise.all([
    runInit(t, moto.url, PARAMETER_ARN),
    runInit(t, dev.url, PARAMETER_ARN),
  ]);
  t.equal(d.code, 0, 'dev: exit 0', { output: d.output });
  t.same(d.files, {
    'by-arn': `644 ${Buffer.from('postgres://db.local:5432/app').toString('base64')}`,
  });
  // GetParameters takes names or ARNs; moto 5.1 lists an ARN under InvalidParameters. It also
  // leaves out Selector for a name:version or name:label (the agent matches either way).
  t.equal(m.code, 1, 'moto: exit 1', { output: m.output });
  t.match(m.termination, /^failed to fetch by-arn: parameter arn:aws:ssm:\S+: ParameterNotFound: /);
});

const MISSING_SOURCES: Scenario = {
  title: 'a missing parameter and an empty path fail init the same way',
  secrets: [
    { name: 'url', source: 'parameter', id: '/app/url' },
    { name: 'gone', source: 'parameter', id: '/app/gone' },
    { name: 'empty', source: 'path', id: '/nothing/here' },
  ],
};

t.test(MISSING_SOURCES.title, async (t) => {
  const [m, d] = await Promise.all([
    runInit(t, moto.url, MISSING_SOURCES),
    runInit(t, dev.url, MISSING_SOURCES),
  ]);
  t.equal(d.code, 1, 'dev: exit 1', { output: d.output });
  t.equal(m.code, d.code, 'moto: the same', { output: m.output });
  t.equal(
    d.termination,
    `failed to fetch gone: parameter /app/gone: ParameterNotFound: SSM has no such parameter (or version, or label) in this account and region${ASKED} (and 1 more: empty)`,
  );
  t.equal(m.termination, d.termination, 'word for word');
  t.same(m.files, d.files);
  t.same(Object.keys(d.files), ['url']);
  t.same(m.wire, d.wire);
});

t.test(
  'sidecar: the agent counts the same AWS calls against both, and so does the wire',
  async (t) => {
    // Each scenario counts through proxies of its own: they run at once.
    const scenarios = [FILES, IRSA, MISSING, SOURCES];
    const outcomes = await Promise.all(
      scenarios.map((s) => Promise.all([runSidecar(t, moto.url, s), runSidecar(t, dev.url, s)])),
    );
    for (const [i, s] of scenarios.entries()) {
      const [m, d] = outcomes[i] ?? [];
      if (m === undefined || d === undefined) throw new Error(`no outcome for ${s.title}`);
      const outputs = { moto: m.output, dev: d.output };
      t.same(m.files, d.files, `${s.title}: byte-identical files`, outputs);
      t.equal(m.code, d.code, `${s.title}: the same exit`, outputs);
      if (s === MISSING) {
        t.equal(d.code, 1, 'a first write that cannot complete: exit 1, as init');
        t.same(m.wire, d.wire, `${s.title}: the same calls on the wire, retries included`);
        continue;
      }
      t.same(m.apiCalls, d.apiCalls, `${s.title}: secrets_agent_aws_api_calls_total`);
      t.same(m.fetches, d.fetches, `${s.title}: secrets_agent_fetch_total`);
      const total = Object.values(d.apiCalls ?? {}).reduce((a, b) => a + b, 0);
      const onWire = Object.values(d.wire).reduce((a, b) => a + b, 0);
      t.ok(total > 0, `${s.title}: calls were counted`);
      t.equal(total, onWire, `${s.title}: the metric counts what went on the wire`);
      t.same(m.wire, d.wire, `${s.title}: the same calls on the wire`);
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Raw answers, field by field, where the agent depends on them.

function sm(url: string, operation: string, input: unknown): Promise<AwsJsonAnswer> {
  return awsJson(url, `secretsmanager.${operation}`, input);
}

async function both(operation: string, input: unknown): Promise<[AwsJsonAnswer, AwsJsonAnswer]> {
  return Promise.all([sm(moto.url, operation, input), sm(dev.url, operation, input)]);
}

/** The fields the agent reads from a secret value: everything but the ARN's random suffix. */
function valueFields(entry: unknown): Record<string, unknown> {
  const e = entry as Record<string, unknown>;
  return {
    keys: Object.keys(e).sort(),
    arn: typeof e['ARN'] === 'string' ? e['ARN'].replace(/-[A-Za-z0-9]{6}$/, '-XXXXXX') : e['ARN'],
    name: e['Name'],
    versionId: e['VersionId'],
    stages: [...((e['VersionStages'] as string[] | undefined) ?? [])].sort(),
    string: e['SecretString'],
    binary: e['SecretBinary'],
    createdDate: typeof e['CreatedDate'],
  };
}

t.test('GetSecretValue: string, binary, stage and version id', async (t) => {
  const cases: [string, Record<string, string>][] = [
    ['a JSON string', { SecretId: 'app/json' }],
    ['a binary value', { SecretId: 'app/binary' }],
    ['by partial ARN', { SecretId: PARTIAL_ARN }],
    ['AWSPREVIOUS', { SecretId: 'app/rotated', VersionStage: 'AWSPREVIOUS' }],
    ['a version id', { SecretId: 'app/rotated', VersionId: V3 }],
    ['the current version', { SecretId: 'app/rotated' }],
  ];
  for (const [what, input] of cases) {
    const [m, d] = await both('GetSecretValue', input);
    t.equal(d.status, 200, what);
    t.equal(m.status, d.status, what);
    t.same(valueFields(m.body), valueFields(d.body), what);
  }
  const [, d] = await both('GetSecretValue', { SecretId: 'app/json' });
  t.match(d.body['ARN'], ARN);
  t.same(valueFields(d.body)['keys'], [
    'ARN',
    'CreatedDate',
    'Name',
    'SecretString',
    'VersionId',
    'VersionStages',
  ]);
  const [, prev] = await both('GetSecretValue', {
    SecretId: 'app/rotated',
    VersionStage: 'AWSPREVIOUS',
  });
  t.match(valueFields(prev.body), {
    versionId: V1,
    stages: ['AWSPREVIOUS'],
    string: '{"password":"old"}',
  });
});

t.test('BatchGetSecretValue: values, and Errors for a missing secret', async (t) => {
  const input = { SecretIdList: ['app/json', 'app/binary', 'no/such-secret'] };
  const [m, d] = await both('BatchGetSecretValue', input);
  t.equal(m.status, 200);
  t.equal(d.status, 200);
  const values = (a: AwsJsonAnswer): unknown[] =>
    (a.body['SecretValues'] as unknown[]).map(valueFields);
  t.same(values(m), values(d), 'the same values, in the order asked');
  t.equal(values(d).length, 2);
  // AWS reports each secret it cannot read in Errors (ErrorCode, Message, SecretId); so does
  // the dev endpoint. moto 5.1 drops it silently (its source says so: a TODO).
  t.same(d.body['Errors'], [
    {
      SecretId: 'no/such-secret',
      ErrorCode: 'ResourceNotFoundException',
      Message: "Secrets Manager can't find the specified secret.",
    },
  ]);
  t.same(m.body['Errors'], [], 'moto: no Errors entry');
  // No more pages: the dev endpoint leaves NextToken out, moto sends null; the SDK reads both
  // as absent.
  t.notOk('NextToken' in d.body);
  t.equal(m.body['NextToken'], null);
});

t.test('error shapes: not found, bad request, unknown operation', async (t) => {
  const [m, d] = await both('GetSecretValue', { SecretId: 'no/such-secret' });
  for (const a of [m, d]) {
    t.equal(a.body['__type'], 'ResourceNotFoundException');
    t.equal(a.errorType, 'ResourceNotFoundException');
    t.equal(a.body['message'], "Secrets Manager can't find the specified secret.");
  }
  // AWS answers ResourceNotFoundException with HTTP 400, as every Secrets Manager client error
  // (and so does the dev endpoint); moto uses 404. The SDK goes by __type, not the status.
  t.equal(d.status, 400);
  t.equal(m.status, 404);

  const [ms, ds] = await both('GetSecretValue', {
    SecretId: 'app/rotated',
    VersionStage: 'AWSNOPE',
  });
  t.equal(ds.body['__type'], 'ResourceNotFoundException');
  t.equal(ms.body['__type'], ds.body['__type']);
  t.equal(
    ds.body['message'],
    "Secrets Manager can't find the specified secret value for staging label: AWSNOPE",
    'the label named, as AWS does',
  );
  t.equal(ms.body['message'], "Secrets Manager can't find the specified secret.", 'moto: generic');

  // A version id and a stage that do not match: InvalidRequestException with AWS's words in
  // both (the dev endpoint answered ResourceNotFoundException before this suite compared them);
  // moto again uses 404 where AWS uses 400.
  const [mm, dm] = await both('GetSecretValue', {
    SecretId: 'app/rotated',
    VersionId: V2,
    VersionStage: 'AWSPREVIOUS',
  });
  t.equal(dm.body['__type'], 'InvalidRequestException');
  t.equal(mm.body['__type'], dm.body['__type']);
  t.equal(mm.body['message'], dm.body['message']);
  t.equal(dm.status, 400);
  t.equal(mm.status, 404);

  const bad = {
    SecretIdList: ['app/json'],
    Filters: [{ Key: 'name', Values: ['app/'] }],
  };
  const [mb, db] = await both('BatchGetSecretValue', bad);
  t.equal(db.status, 400);
  t.equal(mb.status, db.status);
  t.equal(db.body['__type'], 'InvalidParameterException');
  t.equal(mb.body['__type'], db.body['__type']);
  t.equal(mb.body['message'], db.body['message']);

  // AWS reads up to 20 secrets a call; the dev endpoint refuses 21 ids, moto answers them all.
  const ids = Array.from({ length: 21 }, () => 'app/json');
  const [m21, d21] = await both('BatchGetSecretValue', { SecretIdList: ids });
  t.equal(d21.status, 400);
  t.equal(d21.body['__type'], 'InvalidParameterException');
  t.equal(m21.status, 200, 'moto: no limit');

  // An operation the endpoint does not know: AWS's UnknownOperationException from the dev
  // endpoint; moto fails with an HTML 500 page for one it has no handler for.
  const res = await fetch(dev.url, {
    method: 'POST',
    headers: { 'x-amz-target': 'secretsmanager.NoSuchOperation', authorization: AWS_JSON_AUTH },
    body: '{}',
  });
  t.equal(res.status, 400);
  t.equal(((await res.json()) as Record<string, unknown>)['__type'], 'UnknownOperationException');
  const motoRes = await fetch(moto.url, {
    method: 'POST',
    headers: { 'x-amz-target': 'secretsmanager.NoSuchOperation', authorization: AWS_JSON_AUTH },
    body: '{}',
  });
  t.equal(motoRes.status, 500, 'moto: a server error');
  await motoRes.body?.cancel();
});

/** The text of each element named in `names`, from an XML answer (the first of each). */
function xmlFields(xml: string, names: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of names) out[name] = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
  return out;
}

async function assumeRole(url: string, token: string): Promise<{ status: number; xml: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: ROLE,
      RoleSessionName: 'pod',
      WebIdentityToken: token,
    }).toString(),
  });
  return { status: res.status, xml: await res.text() };
}

t.test('STS AssumeRoleWithWebIdentity: the XML the SDK reads', async (t) => {
  const token = webIdentityToken();
  const [m, d] = await Promise.all([assumeRole(moto.url, token), assumeRole(dev.url, token)]);
  const names = [
    'AccessKeyId',
    'SecretAccessKey',
    'SessionToken',
    'Expiration',
    'Arn',
    'AssumedRoleId',
  ];
  for (const [who, a] of [
    ['moto', m],
    ['dev', d],
  ] as const) {
    t.equal(a.status, 200, who);
    t.match(
      a.xml,
      /^(<\?xml[^>]*>\s*)?<AssumeRoleWithWebIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/,
      `${who}: the response element`,
    );
    const f = xmlFields(a.xml, names);
    t.match(f['AccessKeyId'], /^ASIA[A-Z0-9]{16}$/, `${who}: a temporary key id`);
    t.ok((f['SecretAccessKey'] ?? '').length >= 40, `${who}: a secret key`);
    t.ok((f['SessionToken'] ?? '').length > 0, `${who}: a session token`);
    const expires = Date.parse(f['Expiration'] ?? '');
    t.ok(Math.abs(expires - Date.now() - 3_600_000) < 120_000, `${who}: expires in an hour`);
    t.equal(f['Arn'], 'arn:aws:sts::123456789012:assumed-role/catalog/pod', `${who}: the role`);
    t.match(f['AssumedRoleId'], /^AROA?[A-Z0-9]+:pod$/, `${who}: the role id names the session`);
    t.match(a.xml, /<RequestId>[^<]+<\/RequestId>/, `${who}: a request id`);
  }
  // Where they differ (none of it read by the agent): AWS also returns SubjectFromWebIdentityToken,
  // Audience and Provider (the dev endpoint does; moto leaves them out), and gives Expiration in
  // whole seconds (moto adds milliseconds).
  t.match(d.xml, /<SubjectFromWebIdentityToken>system:serviceaccount:shop:catalog</);
  t.match(d.xml, /<Provider>https:\/\/oidc\.eks\.example</);
  t.match(xmlFields(d.xml, ['Expiration'])['Expiration'], /:\d\dZ$/);
  t.notMatch(m.xml, /SubjectFromWebIdentityToken/);
});

t.test('STS: a token that is not a JWT', async (t) => {
  const [m, d] = await Promise.all([
    assumeRole(moto.url, 'not-a-jwt'),
    assumeRole(dev.url, 'not-a-jwt'),
  ]);
  // AWS refuses it (InvalidIdentityToken, 400), as the dev endpoint does; moto does not look at
  // the token and issues credentials.
  t.equal(d.status, 400);
  t.match(d.xml, /<Code>InvalidIdentityToken<\/Code>/);
  t.equal(m.status, 200, 'moto: accepted');
});
