/**
 * The emulator's secrets: each a name, a stable ARN suffix and its versions with their stages.
 * ARNs carry the region of the request that asks.
 */
import { createHash, randomUUID } from 'node:crypto';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';

/** A secret value: SecretString or SecretBinary. */
export type SecretValue =
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'binary'; readonly bytes: Buffer };

export interface VersionRecord {
  readonly id: string;
  readonly value: SecretValue;
  readonly stages: Set<string>;
  /** Epoch milliseconds. */
  readonly created: number;
}

export interface SecretRecord {
  readonly name: string;
  /** The 6 characters AWS appends to the name in the ARN. */
  readonly suffix: string;
  readonly versions: Map<string, VersionRecord>;
  readonly tags: Map<string, string>;
}

const SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class SecretStore {
  readonly accountId: string;
  readonly now: () => number;
  readonly #secrets = new Map<string, SecretRecord>();

  constructor(options: { accountId?: string; now?: () => number } = {}) {
    this.accountId = options.accountId ?? '123456789012';
    this.now = options.now ?? Date.now;
  }

  arn(secret: SecretRecord, region: string): string {
    return `arn:aws:secretsmanager:${region}:${this.accountId}:secret:${secret.name}-${secret.suffix}`;
  }

  /** The secret named `name`, created without versions if it is new. */
  secret(name: string): SecretRecord {
    let secret = this.#secrets.get(name);
    if (secret === undefined) {
      secret = { name, suffix: stableSuffix(name), versions: new Map(), tags: new Map() };
      this.#secrets.set(name, secret);
    }
    return secret;
  }

  /** Every secret, by name. */
  list(): SecretRecord[] {
    return [...this.#secrets.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }

  /** Removes a secret (at once, as a forced deletion does). */
  delete(name: string): boolean {
    return this.#secrets.delete(name);
  }

  /** Finds a secret by name, full ARN or partial ARN (the ARN without the random suffix). */
  find(secretId: string): SecretRecord | undefined {
    const arn = /^arn:[^:]+:secretsmanager:[^:]*:(\d{12}):secret:(.+)$/.exec(secretId);
    if (arn === null) return this.#secrets.get(secretId);
    const [, account, rest = ''] = arn;
    if (account !== this.accountId) return undefined;
    const full = /^(.+)-([A-Za-z0-9]{6})$/.exec(rest);
    if (full !== null) {
      const candidate = this.#secrets.get(full[1] ?? '');
      if (candidate !== undefined && candidate.suffix === full[2]) return candidate;
    }
    return this.#secrets.get(rest);
  }

  /**
   * Adds a version and moves `stages` to it from whichever version held them. Moving
   * AWSCURRENT hands AWSPREVIOUS to the version that lost AWSCURRENT, as AWS does.
   */
  putVersion(secret: SecretRecord, value: SecretValue, stages: readonly string[]): VersionRecord {
    const version = this.addVersion(secret, value, undefined, []);
    for (const stage of stages) {
      const holder = this.versionByStage(secret, stage);
      holder?.stages.delete(stage);
      version.stages.add(stage);
      if (stage === AWSCURRENT && holder !== undefined) {
        this.versionByStage(secret, AWSPREVIOUS)?.stages.delete(AWSPREVIOUS);
        holder.stages.add(AWSPREVIOUS);
      }
    }
    return version;
  }

  /** Adds a version with exactly these stages, moving nothing (a seed says where each stage is). */
  addVersion(
    secret: SecretRecord,
    value: SecretValue,
    versionId: string | undefined,
    stages: readonly string[],
  ): VersionRecord {
    const version: VersionRecord = {
      id: versionId ?? randomUUID(),
      value,
      stages: new Set(stages),
      created: this.now(),
    };
    secret.versions.set(version.id, version);
    return version;
  }

  versionByStage(secret: SecretRecord, stage: string): VersionRecord | undefined {
    for (const v of secret.versions.values()) if (v.stages.has(stage)) return v;
    return undefined;
  }
}

/** A deterministic 6-character suffix, so seeded ARNs stay the same from run to run. */
function stableSuffix(name: string): string {
  const digest = createHash('sha256').update(name).digest();
  let out = '';
  for (let i = 0; i < 6; i++) out += SUFFIX_CHARS.charAt((digest[i] ?? 0) % SUFFIX_CHARS.length);
  return out;
}
