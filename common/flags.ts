/**
 * Command-line flags with environment-variable twins. Each command declares its flags once;
 * `--help` and the README's command reference are generated from the same table. A flag on
 * the command line wins over its environment variable, which wins over the default.
 */
import { parseArgs } from 'node:util';
import { AgentError } from './errors.ts';

export type FlagType = 'string' | 'integer' | 'boolean';

export interface FlagSpec {
  readonly name: string;
  readonly env: string;
  readonly type: FlagType;
  readonly help: string;
  readonly default?: string;
  readonly short?: string;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly flags: readonly FlagSpec[];
}

export type FlagValues = Readonly<Record<string, string | number | boolean | undefined>>;

export type Env = Readonly<Record<string, string | undefined>>;

export interface ParsedFlags {
  readonly values: FlagValues;
  readonly help: boolean;
  readonly positionals: readonly string[];
}

/** Parses argv and the environment against a command's flag table. Throws USAGE errors. */
export function parseFlags(spec: CommandSpec, argv: readonly string[], env: Env): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const flag of spec.flags) {
    options[flag.name] = {
      type: flag.type === 'boolean' ? 'boolean' : 'string',
      ...(flag.short === undefined ? {} : { short: flag.short }),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new AgentError('USAGE', `${spec.name}: ${(err as Error).message}`, { cause: err });
  }
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const flag of spec.flags) {
    const fromArgs = parsed.values[flag.name];
    const raw =
      fromArgs === undefined ? (env[flag.env] === '' ? undefined : env[flag.env]) : fromArgs;
    values[flag.name] = coerce(spec.name, flag, raw ?? flag.default);
  }
  return {
    values,
    help: parsed.values['help'] === true,
    positionals: parsed.positionals,
  };
}

function coerce(
  command: string,
  flag: FlagSpec,
  raw: string | boolean | undefined | (string | boolean)[],
): string | number | boolean | undefined {
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) raw = raw.at(-1);
  const where = `${command}: --${flag.name} (${flag.env})`;
  switch (flag.type) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new AgentError('USAGE', `${where} must be true or false, got "${String(raw)}"`);
    case 'integer': {
      const n = Number(raw);
      if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
        throw new AgentError('USAGE', `${where} must be a whole number, got "${String(raw)}"`);
      }
      return n;
    }
    case 'string':
      return String(raw);
  }
}

/** The `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  const rows = spec.flags.map((f) => {
    const left = `  --${f.name}${f.type === 'boolean' ? '' : ' VALUE'}`;
    const dflt = f.default === undefined ? '' : ` (default ${f.default})`;
    return `${left.padEnd(28)} ${f.help}${dflt}\n${''.padEnd(29)} env ${f.env}`;
  });
  return [
    `secrets-agent ${spec.name}: ${spec.summary}`,
    '',
    `usage: ${spec.usage}`,
    '',
    'flags:',
    ...rows,
    `  ${'--help'.padEnd(26)} this text`,
    '',
  ].join('\n');
}

export function stringFlag(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function integerFlag(values: FlagValues, name: string): number | undefined {
  const v = values[name];
  return typeof v === 'number' ? v : undefined;
}

export function booleanFlag(values: FlagValues, name: string): boolean {
  return values[name] === true;
}
