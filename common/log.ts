/**
 * Structured JSON logs, one object a line. The logger takes only what callers hand it: secret
 * names and ids, never values (no call site passes a value, and tests grep every line for a
 * canary value).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LogSink {
  write(line: string): unknown;
}

export function isLogLevel(value: string): value is LogLevel {
  return value in RANK;
}

export function createLogger(
  sink: LogSink,
  options: { level?: LogLevel; base?: LogFields; now?: () => Date } = {},
): Logger {
  const min = RANK[options.level ?? 'info'];
  const base = options.base ?? {};
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] < min) return;
    const record = { time: now().toISOString(), level, msg, ...base, ...fields };
    sink.write(`${JSON.stringify(record, errorReplacer)}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(sink, { ...options, base: { ...base, ...fields } }),
  };
}

/** Errors serialise as their code and message only: no stack, no cause chain with payloads. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return code === undefined ? { message: value.message } : { code, message: value.message };
  }
  return value;
}

/** A logger that drops everything (library defaults, tests that do not read logs). */
export const silentLogger: Logger = createLogger({ write: () => undefined }, { level: 'error' });
