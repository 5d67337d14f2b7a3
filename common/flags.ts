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

/** The widest a help line may be (checked for every command by test/help.test.ts). */
export const HELP_WIDTH = 100;

/** Parses argv and the environment against a command's flag table. Throws USAGE errors. */
export function parseFlags(spec: CommandSpec, argv: readonly string[], env: Env): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    // Answered by the composition root (cli/main.ts) before a command runs.
    version: { type: 'boolean' },
  };
  for (const flag of spec.flags) {
    options[flag.name] = {
      type: flag.type === 'boolean' ? 'boolean' : 'string',
      ...(flag.short === undefined ? {} : { short: flag.short }),
    };
  }
  // Not strict: node's own messages for unknown flags quote unevenly and suggest `--`; the
  // tokens say the same in our words (unknownFlag).
  const parsed = parseArgs({
    args: [...argv],
    options,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  for (const token of parsed.tokens) if (token.kind === 'option') checkToken(spec, options, token);
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

/** An option as parseArgs' tokens give it. */
interface OptionToken {
  readonly name: string;
  readonly rawName: string;
  readonly value?: string | undefined;
  readonly inlineValue?: boolean | undefined;
}

/** One flag as written: known, with a value if it takes one, without one if it does not. */
function checkToken(
  spec: CommandSpec,
  options: Readonly<Record<string, { type: 'string' | 'boolean' }>>,
  token: OptionToken,
): void {
  const option = options[token.name];
  const usage = (message: string): AgentError =>
    new AgentError('USAGE', `${spec.name}: ${token.rawName} ${message}`);
  if (option === undefined) throw unknownFlag(spec, token.rawName);
  if (option.type === 'boolean') {
    if (token.inlineValue === true) throw usage('takes no value');
    return;
  }
  if (token.value === undefined) throw usage('needs a value');
  // `--config --mode init`: the next flag is not a value (`--config=-x` says it is).
  if (token.inlineValue === false && /^-./.test(token.value))
    throw usage(
      `needs a value, got the flag ${token.value} (write ${token.rawName}=${token.value} if it is the value)`,
    );
}

function unknownFlag(spec: CommandSpec, raw: string): AgentError {
  return new AgentError(
    'USAGE',
    `${spec.name}: unknown flag ${raw} (secrets-agent ${spec.name} --help lists the flags)`,
  );
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

/** `text` in lines of at most `width` columns, broken between words. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

/**
 * The `--help` text of a command: one column of flags, as wide as the longest, and their help
 * beside it, wrapped within HELP_WIDTH columns; each flag's environment variable under it.
 */
export function helpText(spec: CommandSpec): string {
  const left = (f: Pick<FlagSpec, 'name' | 'type' | 'short'>): string =>
    `  ${f.short === undefined ? '' : `-${f.short}, `}--${f.name}${f.type === 'boolean' ? '' : ' VALUE'}`;
  type Row = Pick<FlagSpec, 'name' | 'type' | 'help' | 'short' | 'default'>;
  const own: Row[] = [
    { name: 'help', type: 'boolean', short: 'h', help: 'this text' },
    { name: 'version', type: 'boolean', help: 'the version' },
  ];
  const column = Math.max(...[...spec.flags, ...own].map((f) => left(f).length)) + 2;
  const indent = ' '.repeat(column);
  const row = (f: Row, extra: string[]): string[] => {
    const dflt = f.default === undefined ? '' : ` (default ${f.default})`;
    const lines = wrap(`${f.help}${dflt}`, HELP_WIDTH - column);
    return [
      `${left(f).padEnd(column)}${lines[0] ?? ''}`,
      ...[...lines.slice(1), ...extra].map((l) => `${indent}${l}`),
    ];
  };
  return [
    ...wrap(`secrets-agent ${spec.name}: ${spec.summary}`, HELP_WIDTH),
    '',
    `usage: ${spec.usage}`,
    '',
    'flags:',
    ...spec.flags.flatMap((f) => row(f, [`env ${f.env}`])),
    ...own.flatMap((f) => row(f, [])),
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
