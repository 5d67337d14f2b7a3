/**
 * A `secrets-agent dev` endpoint for agents with IRSA's identity (irsaEnv): region us-east-1, its
 * STS taking the projected token's audience, seeded with `secrets`; closed when the test ends.
 */
import type { Test } from 'tap';
import type { SeedSecretInput } from '../../dev/seed.ts';
import { startDevServer, type DevServer } from '../../dev/server.ts';

export async function irsaDevServer(
  t: Test,
  secrets: readonly SeedSecretInput[],
): Promise<DevServer> {
  const server = await startDevServer({
    seed: { region: 'us-east-1', sts: { audiences: ['sts.amazonaws.com'] }, secrets: [...secrets] },
  });
  t.teardown(() => server.close());
  return server;
}
