/**
 * `npm start`: the whole local flow with no AWS account and no cluster. Starts
 * `secrets-agent dev` seeded with example secrets, runs the agent (the built CLI, as the image
 * does) in sidecar mode writing into .demo/secrets, and shows each update as it lands.
 * Ctrl-C stops everything.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startDevServer } from '../dev/server.ts';
import { loadSeedFile } from '../dev/seed.ts';

const root = join(import.meta.dirname, '..');
const out = join(root, '.demo', 'secrets');
const port = Number(process.env['SECRETS_AGENT_DEV_PORT'] ?? '4566');
const print = (line = ''): boolean => process.stdout.write(`${line}\n`);

await rm(join(root, '.demo'), { recursive: true, force: true });
const server = await startDevServer({
  port,
  seed: await loadSeedFile(join(root, 'test/fixtures/seed.yaml')),
});
const agent = spawn(
  process.execPath,
  [
    join(root, 'dist/cli.js'),
    'agent',
    '--config',
    join(root, 'agent/examples/demo.yaml'),
    '--output-dir',
    out,
    '--log-level',
    'warn',
  ],
  {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      AWS_ENDPOINT_URL: server.url,
      AWS_ACCESS_KEY_ID: 'demo',
      AWS_SECRET_ACCESS_KEY: 'demo',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  },
);

async function show(): Promise<void> {
  const names = (await readdir(out).catch(() => [] as string[]))
    .filter((n) => !n.startsWith('..'))
    .sort();
  for (const name of names) {
    const bytes = await readFile(join(out, name));
    const text = /^[\t\n\r -~]*$/.test(bytes.toString('latin1'))
      ? bytes.toString('utf8').trimEnd()
      : `<${bytes.length} binary bytes>`;
    print(`  .demo/secrets/${name}:\n${text.replace(/^/gm, '      ')}`);
  }
}

let version = '';
const poll = setInterval(() => {
  void readFile(join(out, 'catalog'), 'utf8').then(
    async (text) => {
      if (text === version) return;
      const first = version === '';
      version = text;
      print(
        first
          ? '\nThe agent wrote the secrets:'
          : '\nThe secret changed; the agent rewrote the files:',
      );
      await show();
      if (first) {
        print(`
Secrets Manager (local): ${server.url}   agent metrics: http://127.0.0.1:9102/metrics
Change the secret and watch the files follow within the 5s refresh interval:
  curl -X PUT ${server.url}/_dev/secrets/eks-workshop-catalog-secret -d '{"value":{"username":"catalog_user","password":"rotated-${Date.now() % 1000}"}}'
Or with the AWS CLI:
  AWS_ENDPOINT_URL=${server.url} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws secretsmanager put-secret-value --secret-id eks-workshop-catalog-secret --secret-string '{"username":"catalog_user","password":"new"}'
Ctrl-C stops everything.`);
      }
    },
    () => undefined,
  );
}, 250);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(poll);
  agent.kill('SIGTERM');
  await new Promise((resolve) =>
    agent.exitCode === null ? agent.once('exit', resolve) : resolve(undefined),
  );
  await server.close();
  print('\nstopped.');
  process.exit(code);
}
agent.once('exit', (code) => void stop(code ?? 1));
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
print(`secrets-agent demo: Secrets Manager on ${server.url}, agent writing into .demo/secrets …`);
