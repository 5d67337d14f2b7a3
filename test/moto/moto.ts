/**
 * moto, the AWS emulator from Debian (`test/moto/install.sh` puts it in `.moto/`), as a process
 * on a free loopback port, and seeding it through the AWS SDK from a dev endpoint seed, so the
 * same secrets, versions and stages live in both.
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { LabelParameterVersionCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Test } from 'tap';
import type { Seed, SeedSecret } from '../../dev/seed.ts';
import { freePort, ROOT } from '../helpers/agent-process.ts';
import { lineMatching } from '../helpers/wait.ts';

const SITE = join(ROOT, '.moto/usr/lib/python3/dist-packages');

export interface Moto {
  readonly url: string;
  /** moto's version, as `moto.__version__` says. */
  readonly version: string;
  /** What moto printed (one line per request), for failure messages. */
  output(): string;
}

/** Starts moto (installed by `test/moto/install.sh`) and stops it when `t` ends. */
export async function startMoto(t: Test): Promise<Moto> {
  const env = { PATH: process.env['PATH'] ?? '', PYTHONPATH: SITE, PYTHONDONTWRITEBYTECODE: '1' };
  const version = execFileSync('/usr/bin/python3', ['-c', 'import moto; print(moto.__version__)'], {
    env,
  })
    .toString()
    .trim();
  const port = await freePort();
  const child = spawn(
    '/usr/bin/python3',
    ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const url = `http://127.0.0.1:${port}`;
  // werkzeug says when it listens; an early exit ends the streams and rejects with the output.
  await lineMatching([child.stdout, child.stderr], /Running on http/, 30_000);
  await fetch(`${url}/moto-api/`);
  return { url, version, output: () => output };
}

/**
 * Creates the seed's secrets in moto the way they come about in AWS: CreateSecret with the first
 * value, PutSecretValue for the next (AWSCURRENT moves, the version it left gets AWSPREVIOUS),
 * then the versions with other stages. Version ids are the seed's (ClientRequestToken).
 */
export async function seedMoto(url: string, seed: Seed): Promise<void> {
  const client = new SecretsManagerClient({
    endpoint: url,
    region: seed.region,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDMOTOSEED', secretAccessKey: 'moto' },
  });
  try {
    for (const secret of seed.secrets) {
      const [first, ...then] = creationOrder(secret);
      if (first === undefined) throw new Error(`seed: ${secret.name} has no value`);
      await client.send(
        new CreateSecretCommand({
          Name: secret.name,
          ...valueOf(first),
          ...tokenOf(first),
          ...(secret.tags === undefined
            ? {}
            : { Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })) }),
        }),
      );
      for (const v of then) {
        await client.send(
          new PutSecretValueCommand({
            SecretId: secret.name,
            ...valueOf(v),
            ...tokenOf(v),
            ...(v.stages.includes('AWSCURRENT') ? {} : { VersionStages: [...v.stages] }),
          }),
        );
      }
    }
  } finally {
    client.destroy();
  }
  await seedParameters(url, seed);
}

/** The seed's SSM parameters, each one version, with its labels. */
async function seedParameters(url: string, seed: Seed): Promise<void> {
  const ssm = new SSMClient({
    endpoint: url,
    region: seed.region,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDMOTOSEED', secretAccessKey: 'moto' },
  });
  try {
    for (const p of seed.parameters) {
      await ssm.send(new PutParameterCommand({ Name: p.name, Value: p.value, Type: p.type }));
      if (p.labels.length > 0)
        await ssm.send(
          new LabelParameterVersionCommand({
            Name: p.name,
            ParameterVersion: 1,
            Labels: [...p.labels],
          }),
        );
    }
  } finally {
    ssm.destroy();
  }
}

type Version = SeedSecret['versions'][number];

/** AWSPREVIOUS's version first, then AWSCURRENT's, then the rest. */
function creationOrder(secret: SeedSecret): Version[] {
  const holder = (stage: string): Version | undefined =>
    secret.versions.find((v) => v.stages.includes(stage));
  const previous = holder('AWSPREVIOUS');
  const current = holder('AWSCURRENT');
  if (current === undefined) return [];
  const first = previous ?? current;
  const firstStages = previous === undefined ? ['AWSCURRENT'] : ['AWSPREVIOUS'];
  if (first.stages.join() !== firstStages.join() || (previous && current.stages.length !== 1))
    throw new Error(`seed: ${secret.name}: stages this seeding cannot reproduce`);
  const rest = secret.versions.filter((v) => v !== previous && v !== current);
  return previous === undefined ? [current, ...rest] : [previous, current, ...rest];
}

function valueOf(v: Version): { SecretString: string } | { SecretBinary: Uint8Array } {
  return v.value.kind === 'string'
    ? { SecretString: v.value.text }
    : { SecretBinary: v.value.bytes };
}

function tokenOf(v: Version): { ClientRequestToken?: string } {
  return v.id === undefined ? {} : { ClientRequestToken: v.id };
}
