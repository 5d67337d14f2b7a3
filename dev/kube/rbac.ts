/**
 * Bearer-token authentication and an RBAC-like allow list for the `secrets` and `events`
 * resources, with
 * Kubernetes RBAC's rule matching: a rule with resourceNames only matches requests that carry
 * a name, so it never allows create or list.
 */
export const SECRET_VERBS = ['get', 'list', 'create', 'update', 'patch', 'delete'] as const;
export type SecretVerb = (typeof SECRET_VERBS)[number];

export interface PolicyRule {
  /** Verbs, or `'*'` for all. */
  readonly verbs: readonly string[];
  readonly namespaces: readonly string[] | '*';
  /** Resources, or `'*'` for all; absent: `secrets` only. */
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
}

export const RESOURCES = ['secrets', 'events'] as const;
export type Resource = (typeof RESOURCES)[number];

export interface Identity {
  /** e.g. `system:serviceaccount:shop:catalog`. */
  readonly username: string;
  readonly rules: readonly PolicyRule[];
}

export interface RequestAttributes {
  readonly verb: SecretVerb;
  /** Absent: secrets. */
  readonly resource?: Resource;
  readonly namespace: string;
  /** Absent for create and list, as in the apiserver's RequestInfo. */
  readonly name?: string;
}

function ruleAllows(rule: PolicyRule, req: RequestAttributes): boolean {
  if (!rule.verbs.includes('*') && !rule.verbs.includes(req.verb)) return false;
  if (rule.namespaces !== '*' && !rule.namespaces.includes(req.namespace)) return false;
  const resources = rule.resources ?? ['secrets'];
  if (!resources.includes('*') && !resources.includes(req.resource ?? 'secrets')) return false;
  const names = rule.resourceNames ?? [];
  if (names.length === 0) return true;
  return req.name !== undefined && names.includes(req.name);
}

export function authorize(identity: Identity, req: RequestAttributes): boolean {
  return identity.rules.some((rule) => ruleAllows(rule, req));
}

/** The identity behind `Authorization: Bearer <token>`, or undefined (→ 401). */
export function authenticate(
  header: string | undefined,
  tokens: Readonly<Record<string, Identity>>,
): Identity | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const token = match?.[1];
  if (token === undefined || !Object.hasOwn(tokens, token)) return undefined;
  return tokens[token];
}
