/**
 * The keys the emulator knows: temporary credentials its STS issued (verified on every request:
 * signature, session token, expiry) and, when the seed lists any, static keys (then the only
 * long-term keys accepted). Without a static list any other key is taken as-is, as a dev
 * convenience. Auth failures are neutral here; the endpoint answers them in AWS's words.
 */
import { randomBytes } from 'node:crypto';
import {
  type ParsedAuthorization,
  type SignedRequest,
  parseAuthorization,
  signatureMatches,
} from './sigv4.ts';

/** Who signed a request: the key, and the role behind it when the emulator knows one. */
export interface Caller {
  readonly accessKeyId: string;
  /** The role STS issued the key for, or a seeded static key's role. */
  readonly roleArn?: string;
}

export interface StaticCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly roleArn?: string;
}

export interface IssuedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly roleArn: string;
  readonly assumedRoleArn: string;
  readonly assumedRoleId: string;
  /** Epoch milliseconds. */
  readonly expiration: number;
}

export type AuthFailureKind = 'missing' | 'incomplete' | 'unrecognized' | 'signature' | 'expired';

export class AuthFailure extends Error {
  readonly kind: AuthFailureKind;
  /** The access key id, when the header named one (for the request log). */
  readonly accessKeyId: string | undefined;
  constructor(kind: AuthFailureKind, accessKeyId?: string) {
    super(kind);
    this.kind = kind;
    this.accessKeyId = accessKeyId;
  }
}

export interface Authenticated {
  readonly caller: Caller;
  readonly region: string;
}

export class CredentialRegistry {
  readonly #issued = new Map<string, IssuedCredentials>();
  readonly #static: ReadonlyMap<string, StaticCredential> | undefined;
  readonly #accountId: string;
  readonly #now: () => number;

  constructor(options: {
    accountId: string;
    staticCredentials?: readonly StaticCredential[];
    now?: () => number;
  }) {
    this.#accountId = options.accountId;
    this.#now = options.now ?? Date.now;
    const list = options.staticCredentials;
    this.#static =
      list === undefined || list.length === 0
        ? undefined
        : new Map(list.map((c) => [c.accessKeyId, c]));
  }

  issue(roleArn: string, sessionName: string, durationSeconds: number): IssuedCredentials {
    const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
    const creds: IssuedCredentials = {
      accessKeyId: `ASIA${randomId(16)}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `IQoJb3JpZ2luX2VjE${randomBytes(96).toString('base64')}`,
      roleArn,
      assumedRoleArn: `arn:aws:sts::${this.#accountId}:assumed-role/${roleName}/${sessionName}`,
      assumedRoleId: `AROA${randomId(17)}:${sessionName}`,
      expiration: this.#now() + durationSeconds * 1000,
    };
    this.#issued.set(creds.accessKeyId, creds);
    return creds;
  }

  /**
   * Checks a request signed for `service` (its SigV4 signing name); throws AuthFailure. Where
   * the signature is checked (keys it issued, or a seed's credentials), also as AWS: `host` and
   * the request's date are signed, and the credential's scope names that date and `service`.
   */
  authenticate(request: SignedRequest, service: string): Authenticated {
    const header = request.headers.authorization;
    if (header === undefined || header === '') throw new AuthFailure('missing');
    const auth = parseAuthorization(header);
    if (auth === undefined) throw new AuthFailure('incomplete');
    const issued = this.#issued.get(auth.accessKeyId);
    if (issued !== undefined)
      return { caller: this.#checkIssued(request, auth, issued, service), region: auth.region };
    return { caller: this.#checkStatic(request, auth, service), region: auth.region };
  }

  #checkIssued(
    request: SignedRequest,
    auth: ParsedAuthorization,
    issued: IssuedCredentials,
    service: string,
  ): Caller {
    const { accessKeyId } = auth;
    if (request.headers['x-amz-security-token'] !== issued.sessionToken)
      throw new AuthFailure('unrecognized', accessKeyId);
    checkScope(request, auth, service);
    if (!signatureMatches(request, auth, issued.secretAccessKey))
      throw new AuthFailure('signature', accessKeyId);
    if (issued.expiration <= this.#now()) throw new AuthFailure('expired', accessKeyId);
    return { accessKeyId, roleArn: issued.roleArn };
  }

  #checkStatic(request: SignedRequest, auth: ParsedAuthorization, service: string): Caller {
    const { accessKeyId } = auth;
    if (this.#static === undefined) return { accessKeyId };
    const known = this.#static.get(accessKeyId);
    if (known === undefined) throw new AuthFailure('unrecognized', accessKeyId);
    checkScope(request, auth, service);
    if (!signatureMatches(request, auth, known.secretAccessKey)) {
      throw new AuthFailure('signature', accessKeyId);
    }
    return known.roleArn === undefined ? { accessKeyId } : { accessKeyId, roleArn: known.roleArn };
  }
}

/**
 * What AWS requires of a signed request beyond the signature itself: `host` and `x-amz-date`
 * among the signed headers (else IncompleteSignature), and a credential scope of that date and
 * of the service called (else the signature does not match).
 */
function checkScope(request: SignedRequest, auth: ParsedAuthorization, service: string): void {
  const amzDate = request.headers['x-amz-date'];
  if (!auth.signedHeaders.includes('host') || typeof amzDate !== 'string')
    throw new AuthFailure('incomplete', auth.accessKeyId);
  if (
    !auth.signedHeaders.includes('x-amz-date') ||
    auth.date !== amzDate.slice(0, 8) ||
    auth.service !== service
  )
    throw new AuthFailure('signature', auth.accessKeyId);
}

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomId(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ID_CHARS.charAt(b % ID_CHARS.length);
  return out;
}
