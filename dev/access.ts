/**
 * Who is calling and what the seed lets them read. Rules are per role ARN: `allow` lists secret
 * names, ARNs or globs (`*` any run of characters, `?` one); `batch: false` denies the whole
 * BatchGetSecretValue call. A caller without a role, or a role without rules, may do anything.
 */
export interface Caller {
  readonly accessKeyId?: string;
  /** The role behind credentials the emulator's STS issued (or a static key's seeded role). */
  readonly roleArn?: string;
  /** The ARN AWS would name in an AccessDenied message. */
  readonly principalArn: string;
}

export interface RoleRules {
  readonly allow?: readonly string[];
  readonly batch?: boolean;
}

export type RoleTable = Readonly<Record<string, RoleRules>>;

export class AccessPolicy {
  readonly caller: Caller;
  readonly #rules: RoleRules | undefined;

  constructor(caller: Caller, roles: RoleTable) {
    this.caller = caller;
    this.#rules = caller.roleArn === undefined ? undefined : roles[caller.roleArn];
  }

  /** Whether the caller may touch the secret named `name` (whose ARN, when it exists, is `arn`). */
  allowsSecret(name: string, arn: string | undefined): boolean {
    const allow = this.#rules?.allow;
    if (allow === undefined) return true;
    return allow.some(
      (pattern) => globMatch(pattern, name) || (arn !== undefined && globMatch(pattern, arn)),
    );
  }

  allowsBatch(): boolean {
    return this.#rules?.batch !== false;
  }
}

export function globMatch(pattern: string, text: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(text);
}
