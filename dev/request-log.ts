/** What the emulator answered, per request: queryable by tests. Never holds a secret value. */
export interface RequestRecord {
  readonly requestId: string;
  /** ISO time the request arrived. */
  readonly time: string;
  readonly service: 'secretsmanager' | 'ssm' | 'sts';
  readonly operation: string;
  readonly secretIds: readonly string[];
  readonly region: string | undefined;
  readonly accessKeyId: string | undefined;
  readonly roleArn: string | undefined;
  /** `ok`, the AWS error code answered, or `dropped`. */
  readonly outcome: string;
  /** HTTP status; 0 when the connection was dropped. */
  readonly status: number;
  /** Kinds of the injected faults that applied. */
  readonly faults: readonly string[];
  /** Per-secret error codes of a BatchGetSecretValue, by secret id. */
  readonly secretErrors?: Readonly<Record<string, string>>;
}

export class RequestLog {
  readonly #records: RequestRecord[] = [];
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  add(record: RequestRecord): void {
    this.#records.push(record);
    if (this.#records.length > this.#limit) this.#records.shift();
  }

  /** Records, oldest first, optionally only those matching every given field. */
  list(filter: { operation?: string; outcome?: string; secretId?: string } = {}): RequestRecord[] {
    return this.#records.filter(
      (r) =>
        (filter.operation === undefined || r.operation === filter.operation) &&
        (filter.outcome === undefined || r.outcome === filter.outcome) &&
        (filter.secretId === undefined || r.secretIds.includes(filter.secretId)),
    );
  }

  clear(): void {
    this.#records.length = 0;
  }
}
