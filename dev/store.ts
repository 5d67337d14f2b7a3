/**
 * The in-memory secrets: each secret has versions, each version a value and staging labels.
 * One store serves every region (unless a secret is pinned to some regions); ARNs are rendered
 * with the region of the request that asks.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { SecretValue, Tag } from './input.ts';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';

export interface VersionRecord {
  readonly id: string;
  readonly value: SecretValue;
  readonly stages: Set<string>;
  /** Epoch milliseconds. */
  readonly created: number;
  lastAccessed?: number;
}

export interface SecretRecord {
  readonly name: string;
  /** The 6 characters AWS appends to the name in the ARN. */
  readonly suffix: string;
  description?: string;
  kmsKeyId?: string;
  tags: Tag[];
  readonly created: number;
  lastChanged: number;
  lastAccessed?: number;
  /** When the secret was scheduled for deletion (a deleted secret answers "marked for deletion"). */
  deleted?: number;
  deletionDate?: number;
  /** Visible only in these regions; every region when absent. */
  readonly regions?: readonly string[];
  readonly versions: Map<string, VersionRecord>;
}

export interface NewSecret {
  readonly name: string;
  readonly description?: string;
  readonly kmsKeyId?: string;
  readonly tags?: readonly Tag[];
  readonly regions?: readonly string[];
}

const SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class SecretStore {
  readonly accountId: string;
  readonly now: () => number;
  readonly #secrets = new Map<string, SecretRecord>();
  readonly #generations = new Map<string, number>();

  constructor(options: { accountId?: string; now?: () => number } = {}) {
    this.accountId = options.accountId ?? '123456789012';
    this.now = options.now ?? Date.now;
  }

  arn(secret: SecretRecord, region: string): string {
    return `arn:aws:secretsmanager:${region}:${this.accountId}:secret:${secret.name}-${secret.suffix}`;
  }

  /** A new secret without versions. The name must be free (callers check). */
  create(input: NewSecret): SecretRecord {
    const generation = (this.#generations.get(input.name) ?? 0) + 1;
    this.#generations.set(input.name, generation);
    const now = this.now();
    const secret: SecretRecord = {
      name: input.name,
      suffix: stableSuffix(`${input.name}#${generation}`),
      tags: [...(input.tags ?? [])],
      created: now,
      lastChanged: now,
      versions: new Map(),
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.kmsKeyId === undefined ? {} : { kmsKeyId: input.kmsKeyId }),
      ...(input.regions === undefined ? {} : { regions: input.regions }),
    };
    this.#secrets.set(input.name, secret);
    return secret;
  }

  remove(name: string): void {
    this.#secrets.delete(name);
  }

  /** Every secret visible in the region, oldest first (deleted ones included). */
  list(region: string): SecretRecord[] {
    return [...this.#secrets.values()]
      .filter((s) => visibleIn(s, region))
      .sort((a, b) => a.created - b.created);
  }

  byName(name: string): SecretRecord | undefined {
    return this.#secrets.get(name);
  }

  /** Finds a secret by name, full ARN or partial ARN (the ARN without the random suffix). */
  find(secretId: string, region: string): SecretRecord | undefined {
    const secret = this.#findAnyRegion(secretId);
    return secret !== undefined && visibleIn(secret, region) ? secret : undefined;
  }

  /** The name a secret id refers to, whatever the region (fault and access scoping). */
  resolveName(secretId: string): string | undefined {
    return this.#findAnyRegion(secretId)?.name;
  }

  #findAnyRegion(secretId: string): SecretRecord | undefined {
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
   * Adds a version and attaches `stages` to it, taking each stage from whichever version held
   * it. Moving AWSCURRENT hands AWSPREVIOUS to the version that lost AWSCURRENT, as AWS does.
   */
  putVersion(
    secret: SecretRecord,
    value: SecretValue,
    versionId: string | undefined,
    stages: readonly string[],
  ): VersionRecord {
    const version: VersionRecord = {
      id: versionId ?? randomUUID(),
      value,
      stages: new Set(),
      created: this.now(),
    };
    secret.versions.set(version.id, version);
    this.moveStages(secret, version, stages);
    secret.lastChanged = version.created;
    return version;
  }

  moveStages(secret: SecretRecord, target: VersionRecord, stages: readonly string[]): void {
    for (const stage of stages) {
      const holder = this.versionByStage(secret, stage);
      if (holder === target) continue;
      holder?.stages.delete(stage);
      target.stages.add(stage);
      if (stage === AWSCURRENT && holder !== undefined) {
        this.versionByStage(secret, AWSPREVIOUS)?.stages.delete(AWSPREVIOUS);
        holder.stages.add(AWSPREVIOUS);
      }
    }
  }

  /** Adds a version with exactly these stages, moving nothing (seeds say where each stage is). */
  addVersionLiteral(
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

  versionsToStages(secret: SecretRecord): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const v of secret.versions.values()) if (v.stages.size > 0) out[v.id] = [...v.stages];
    return out;
  }

  /** Marks a read, as AWS does (LastAccessedDate is rounded down to the day). */
  touch(secret: SecretRecord, version: VersionRecord): void {
    const day = Math.floor(this.now() / 86_400_000) * 86_400_000;
    secret.lastAccessed = day;
    version.lastAccessed = day;
  }
}

function visibleIn(secret: SecretRecord, region: string): boolean {
  return secret.regions === undefined || secret.regions.includes(region);
}

/** A deterministic 6-character suffix, so seeded ARNs stay the same from run to run. */
function stableSuffix(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < 6; i++) out += SUFFIX_CHARS.charAt((digest[i] ?? 0) % SUFFIX_CHARS.length);
  return out;
}
