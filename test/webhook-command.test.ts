import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import t from 'tap';
import type { CommandContext } from '../common/command.ts';
import { parseWebhookConfig, run } from '../injector/webhook-command.ts';
import {
  JSON_HEADERS,
  call,
  makeCa,
  makePair,
  tempDir,
  writeSecretVolume,
} from './helpers/certs.ts';
import { podReview as review } from './helpers/admission.ts';
import { freePort } from './helpers/agent-process.ts';
import { lineMatching } from './helpers/wait.ts';

const ca = makeCa();
const pair = makePair(ca);

function context(argv: string[], env: Record<string, string> = {}) {
  const lines: string[] = [];
  const stdout = new PassThrough();
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk: string) => lines.push(...chunk.split('\n').filter((l) => l !== '')));
  const controller = new AbortController();
  const ctx: CommandContext = {
    argv,
    env,
    stdout,
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    signal: controller.signal,
  };
  return { ctx, lines, stdout, abort: () => controller.abort() };
}

function podReview(uid: string, annotations: Record<string, string>): string {
  return review({ uid, annotations, image: 'catalog:1' });
}

/** The plain-HTTP metrics endpoint's text. */
async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

t.test('flags and their environment twins, validated once', async (t) => {
  const base = ['--tls-cert-file', 'c', '--tls-key-file', 'k'];
  const config = parseWebhookConfig(base, {
    SECRETS_AGENT_WEBHOOK_PORT: '9443',
    SECRETS_AGENT_WEBHOOK_IMAGE: 'registry.example/secrets-agent:1.2.3',
    SECRETS_AGENT_WEBHOOK_NATIVE_SIDECAR: 'false',
    SECRETS_AGENT_WEBHOOK_DEFAULT_REGION: 'eu-west-1',
    SECRETS_AGENT_WEBHOOK_SHUTDOWN_DELAY: '5s',
    SECRETS_AGENT_WEBHOOK_MAX_CONNECTIONS: '64',
    SECRETS_AGENT_WEBHOOK_REQUEST_TIMEOUT: '2500ms',
  });
  t.not(config, 'help');
  t.match(config, {
    port: 9443,
    metricsPort: 9090,
    address: '0.0.0.0',
    shutdownDelayMs: 5000,
    injector: {
      image: 'registry.example/secrets-agent:1.2.3',
      nativeSidecar: false,
      defaultRegion: 'eu-west-1',
      agentPort: 9102,
    },
    limits: {
      maxBodyBytes: 3 * 1024 * 1024,
      maxBytesInFlight: 16 * 1024 * 1024,
      maxConnections: 64,
      headersTimeoutMs: 5000,
      requestTimeoutMs: 2500,
      keepAliveTimeoutMs: 120_000,
    },
  });
  t.ok(Object.isFrozen(config));
  t.match(
    parseWebhookConfig([...base, '--port', '8000'], { SECRETS_AGENT_WEBHOOK_PORT: '9443' }),
    { port: 8000 },
    'flag wins',
  );
  t.equal(parseWebhookConfig(['--help'], {}), 'help');
  const bad: [string[], RegExp][] = [
    [[], /--tls-cert-file \(SECRETS_AGENT_WEBHOOK_TLS_CERT_FILE\) is required/],
    [['--tls-cert-file', 'c'], /--tls-key-file/],
    [[...base, '--native-sidecar', 'yes'], /--native-sidecar must be true or false/],
    [[...base, '--port', '70000'], /--port must be a port number/],
    [[...base, '--agent-port', '0'], /--agent-port must be a port number from 1/],
    [[...base, '--shutdown-delay', 'soon'], /--shutdown-delay must be a duration/],
    [[...base, '--log-level', 'loud'], /--log-level/],
    [[...base, 'extra'], /unexpected argument/],
    [[...base, '--max-connections', '0'], /--max-connections must be at least 1, got 0/],
    [[...base, '--max-request-bytes', '10'], /--max-request-bytes must be at least 1024/],
    [
      [...base, '--max-request-bytes', '4194304', '--max-bytes-in-flight', '2097152'],
      /--max-bytes-in-flight \(2097152\) must be at least --max-request-bytes \(4194304\)/,
    ],
    [[...base, '--request-timeout', '1m'], /--request-timeout must be from 100ms to 30s; got 1m/],
    [[...base, '--header-timeout', 'later'], /--header-timeout must be a duration from 100ms/],
    [[...base, '--keep-alive-timeout', '0s'], /--keep-alive-timeout must be from 1s to 1h/],
  ];
  for (const [argv, message] of bad)
    t.throws(() => parseWebhookConfig(argv, {}), { code: 'USAGE', message }, argv.join(' '));
});

t.test(
  'the command serves admit() over HTTPS, counts outcomes, and stops on the signal',
  async (t) => {
    const dir = tempDir();
    await writeSecretVolume(dir, { 'tls.crt': pair.cert, 'tls.key': pair.key });
    const { ctx, lines, stdout, abort } = context([
      '--address',
      '127.0.0.1',
      '--port',
      '0',
      '--metrics-port',
      String(await freePort()),
      '--tls-cert-file',
      join(dir, 'tls.crt'),
      '--tls-key-file',
      join(dir, 'tls.key'),
      '--default-region',
      'eu-west-1',
      '--image',
      'registry.example/secrets-agent:9.9.9',
    ]);
    const listened = lineMatching([stdout], /"msg":"listening"/);
    const running = run(ctx);
    t.teardown(abort);
    const { port } = JSON.parse(await listened) as { port: number };
    const post = (body: string) =>
      call({ port, ca: ca.cert, method: 'POST', path: '/mutate', headers: JSON_HEADERS, body });

    const injected = await post(
      podReview('u-inj', {
        'secrets-agent.io/inject': 'true',
        'secrets-agent.io/secret-db': 'prod/db',
      }),
    );
    t.equal(injected.status, 200);
    const response = (
      JSON.parse(injected.body) as {
        response: { uid: string; allowed: boolean; patchType?: string; patch?: string };
      }
    ).response;
    t.match(response, { uid: 'u-inj', allowed: true, patchType: 'JSONPatch' });
    t.match(
      Buffer.from(response.patch ?? '', 'base64').toString('utf8'),
      'registry.example/secrets-agent:9.9.9',
      'the --image flag reached the injector',
    );

    const skipped = await post(podReview('u-skip', {}));
    t.match(JSON.parse(skipped.body), { response: { uid: 'u-skip', allowed: true } });
    const denied = await post(
      podReview('u-deny', { 'secrets-agent.io/inject': 'true', 'secrets-agent.io/secert-db': 'x' }),
    );
    t.match(JSON.parse(denied.body), { response: { uid: 'u-deny', allowed: false } });
    const malformed = await post(
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: 'u-bad', resource: 7 },
      }),
    );
    t.equal(malformed.status, 400, "admit's typed error is a 400");

    const metricsPort =
      lines
        .map((l) => JSON.parse(l) as { msg: string; metricsPort?: number })
        .find((l) => l.msg === 'listening')?.metricsPort ?? 0;
    const text = await scrape(metricsPort);
    for (const outcome of ['injected', 'skipped', 'denied', 'error']) {
      t.match(
        text,
        new RegExp(`secrets_agent_injector_admissions_total\\{outcome="${outcome}"\\} 1`),
        outcome,
      );
    }
    t.match(text, /secrets_agent_injector_certificate_expiry_timestamp_seconds \d+/);

    abort();
    t.equal(await running, 0);
    t.ok(lines.some((l) => l.includes('"msg":"stopped"')));
    await t.rejects(call({ port, ca: ca.cert, path: '/healthz' }), 'closed');
  },
);
