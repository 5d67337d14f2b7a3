/**
 * Injected faults. Each is scoped (all optional) to an operation, a secret (by name or any id
 * that resolves to it), a region, and a count: it applies `count` times then stops, or forever
 * without one. Tests add them in-process (`server.faults.add`) or over `POST /_dev/faults`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AwsError } from './aws-error.ts';
import { sleep } from './wire.ts';

export const FAULT_KINDS = [
  'throttle',
  'error5xx',
  'latency',
  'drop',
  'accessDenied',
  'decryptFailure',
  'notFound',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Kinds that, scoped to a secret, fail just that secret's entry of a BatchGetSecretValue. */
const PER_SECRET_KINDS: readonly FaultKind[] = ['accessDenied', 'decryptFailure', 'notFound'];

export interface FaultSpec {
  readonly kind: FaultKind;
  readonly operation?: string;
  readonly secretId?: string;
  readonly region?: string;
  /** Apply this many times, then stop. Unlimited when absent. */
  readonly count?: number;
  /** `latency`: milliseconds to wait before answering (default 1000). */
  readonly latencyMs?: number;
  /** `error5xx`: 500 (InternalServiceError, the default) or 503 (ServiceUnavailable). */
  readonly status?: 500 | 503;
}

export interface Fault extends FaultSpec {
  readonly id: string;
  /** How many times it has applied. */
  hits: number;
}

/** What a request looks like to fault matching: `secretNames` are raw ids plus resolved names. */
interface FaultTarget {
  readonly operation: string;
  readonly region: string | undefined;
  readonly secretNames: readonly string[];
}

export class FaultRegistry {
  readonly #faults: Fault[] = [];

  add(spec: FaultSpec): Fault {
    const fault: Fault = { ...spec, id: randomUUID(), hits: 0 };
    this.#faults.push(fault);
    return fault;
  }

  list(): readonly Fault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  remove(id: string): boolean {
    const i = this.#faults.findIndex((f) => f.id === id);
    if (i >= 0) this.#faults.splice(i, 1);
    return i >= 0;
  }

  clear(): void {
    this.#faults.length = 0;
  }

  /**
   * The faults that apply to a whole request, consumed: every matching `latency` fault and the
   * first other matching fault. With `perSecretApart`, secret-scoped per-secret kinds are left
   * for `takeForSecret` (BatchGetSecretValue answers them entry by entry).
   */
  take(target: FaultTarget, perSecretApart = false): Fault[] {
    const taken: Fault[] = [];
    let failing = false;
    for (const fault of [...this.#faults]) {
      if (!this.#matches(fault, target)) continue;
      if (perSecretApart && fault.secretId !== undefined && PER_SECRET_KINDS.includes(fault.kind))
        continue;
      if (fault.kind !== 'latency') {
        if (failing) continue;
        failing = true;
      }
      this.#consume(fault);
      taken.push(fault);
    }
    return taken;
  }

  /** A secret-scoped per-secret fault for one batch entry, consumed. */
  takeForSecret(operation: string, region: string, name: string): Fault | undefined {
    const fault = this.#faults.find(
      (f) =>
        f.secretId !== undefined &&
        PER_SECRET_KINDS.includes(f.kind) &&
        this.#matches(f, { operation, region, secretNames: [name] }),
    );
    if (fault !== undefined) this.#consume(fault);
    return fault;
  }

  #matches(fault: Fault, target: FaultTarget): boolean {
    if (fault.operation !== undefined && fault.operation !== target.operation) return false;
    if (fault.region !== undefined && fault.region !== target.region) return false;
    if (fault.secretId !== undefined && !target.secretNames.includes(fault.secretId)) return false;
    return true;
  }

  #consume(fault: Fault): void {
    fault.hits++;
    if (fault.count !== undefined && fault.hits >= fault.count) this.remove(fault.id);
  }
}

/** The AWS error a failing fault answers with, per protocol. `latency` and `drop` have none. */
export function faultError(fault: FaultSpec, protocol: 'json' | 'sts'): AwsError | undefined {
  const sts = protocol === 'sts';
  switch (fault.kind) {
    case 'throttle':
      return sts
        ? new AwsError('Throttling', 'Rate exceeded', 400)
        : new AwsError('ThrottlingException', 'Rate exceeded', 400);
    case 'error5xx':
      if (fault.status === 503)
        return new AwsError(
          'ServiceUnavailable',
          'Service is unavailable. Please try again later.',
          503,
        );
      return sts
        ? new AwsError('InternalFailure', 'An internal error occurred.', 500)
        : new AwsError('InternalServiceError', 'An error occurred on the server side.', 500);
    case 'accessDenied':
      return sts
        ? new AwsError(
            'AccessDenied',
            'Not authorized to perform sts:AssumeRoleWithWebIdentity',
            403,
          )
        : new AwsError(
            'AccessDeniedException',
            'User is not authorized to perform this operation (injected fault).',
            400,
          );
    case 'decryptFailure':
      return sts
        ? new AwsError(
            'InvalidIdentityToken',
            "Couldn't retrieve verification key from your identity provider (injected fault)",
            400,
          )
        : new AwsError(
            'DecryptionFailure',
            "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
            400,
          );
    case 'notFound':
      return sts
        ? new AwsError(
            'InvalidIdentityToken',
            'No OpenIDConnect provider found in your account (injected fault)',
            400,
          )
        : new AwsError(
            'ResourceNotFoundException',
            "Secrets Manager can't find the specified secret.",
            400,
          );
    case 'latency':
    case 'drop':
      return undefined;
  }
}

/** Validates an untrusted fault spec (the admin endpoint's body). Throws Error with the path. */
export function parseFaultSpec(raw: unknown): FaultSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error('fault: must be an object');
  const r = raw as Record<string, unknown>;
  const kind = r['kind'];
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`fault.kind: must be one of ${FAULT_KINDS.join(', ')}`);
  }
  const spec: { -readonly [K in keyof FaultSpec]: FaultSpec[K] } = { kind: kind as FaultKind };
  for (const key of ['operation', 'secretId', 'region'] as const) {
    const v = r[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '')
      throw new Error(`fault.${key}: must be a non-empty string`);
    spec[key] = v;
  }
  for (const key of ['count', 'latencyMs'] as const) {
    const v = r[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (key === 'count' ? 1 : 0)) {
      throw new Error(
        `fault.${key}: must be a whole number${key === 'count' ? ' of at least 1' : ''}`,
      );
    }
    spec[key] = v;
  }
  const status = r['status'];
  if (status !== undefined) {
    if (status !== 500 && status !== 503) throw new Error('fault.status: must be 500 or 503');
    spec.status = status;
  }
  return spec;
}

/** What the request log records of a request a fault answered. */
interface FaultDraft {
  outcome: string;
  status: number;
}

/**
 * Plays the faults that matched a request: waits out every latency fault, then drops the
 * connection (`'dropped'`) or returns the AWS error to answer with; undefined when the request
 * should be served normally.
 */
export async function enactFaults(
  faults: readonly Fault[],
  req: IncomingMessage,
  draft: FaultDraft,
  protocol: 'json' | 'sts',
  closing: AbortSignal,
  wait: (ms: number, signal: AbortSignal) => Promise<unknown> = sleep,
): Promise<AwsError | 'dropped' | undefined> {
  const delay = faults
    .filter((f) => f.kind === 'latency')
    .reduce((sum, f) => sum + (f.latencyMs ?? 1000), 0);
  await wait(delay, closing);
  const failing = faults.find((f) => f.kind !== 'latency');
  if (failing === undefined) return undefined;
  if (failing.kind === 'drop') {
    draft.outcome = 'dropped';
    draft.status = 0;
    req.socket.destroy();
    return 'dropped';
  }
  return faultError(failing, protocol);
}
