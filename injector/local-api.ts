/** What the injector adds for the local API: AWS_TOKEN naming the token file, and its checks. */
import { quote } from './problems.ts';
import type { Container } from './types.ts';

/** The agent writes the token there (agent/local-api.ts), beside the secret files. */
export const LOCAL_API_TOKEN_FILE = '.secrets-agent-token';
/** The variable the AWS agent's own documentation has apps read the token from. */
export const LOCAL_API_TOKEN_ENV = 'AWS_TOKEN';

/** The token file, as the app containers see it. */
export function localApiTokenRef(mountPath: string): string {
  return `file://${mountPath}/${LOCAL_API_TOKEN_FILE}`;
}

/** With the local API the injector sets AWS_TOKEN: an app's own AWS_TOKEN would be replaced. */
export function tokenEnvCollision(c: Container, mountPath: string): string | undefined {
  const existing = (c.env ?? []).find((v) => v.name === LOCAL_API_TOKEN_ENV);
  if (existing === undefined || existing.value === localApiTokenRef(mountPath)) return undefined;
  return `container ${quote(c.name)} already sets ${LOCAL_API_TOKEN_ENV}, which the local API's token needs; remove it`;
}
