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
    sink.write(`${logLine(record)}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(sink, { ...options, base: { ...base, ...fields } }),
  };
}

/**
 * The longest log line, and the longest string in one: whatever a caller passes (an error
 * quoting a request, a path), a line stays within MAX_LOG_LINE characters. A longer string is
 * cut, saying how much was cut; a line still too long keeps its time, level and message only.
 */
export const MAX_LOG_LINE = 16 * 1024;
export const MAX_LOG_STRING = 2 * 1024;

function logLine(record: Readonly<Record<string, unknown>>): string {
  const line = JSON.stringify(record, boundedReplacer);
  if (line.length <= MAX_LOG_LINE) return line;
  const { time, level, msg } = record;
  return JSON.stringify({ time, level, msg: cut(String(msg)), truncated: line.length });
}

function cut(text: string): string {
  if (text.length <= MAX_LOG_STRING) return text;
  return `${text.slice(0, MAX_LOG_STRING)}… (${text.length - MAX_LOG_STRING} more characters)`;
}

/**
 * Strings cut to MAX_LOG_STRING; errors serialise as their code and message only: no stack, no
 * cause chain with payloads.
 */
function boundedReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return cut(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    const message = cut(value.message);
    return code === undefined ? { message } : { code, message };
  }
  return value;
}

/** A logger that drops everything (library defaults, tests that do not read logs). */
export const silentLogger: Logger = createLogger({ write: () => undefined }, { level: 'error' });
