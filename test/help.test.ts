/**
 * Every command's help, version and usage errors, as a user meets them: lines within the
 * width, one aligned column of flags, `--version` everywhere, and unknown flags said plainly.
 */
import { createServer } from 'node:net';
import t from 'tap';
import fc from 'fast-check';
import { HELP_WIDTH, helpText, type CommandSpec } from '../common/flags.ts';
import { VERSION } from '../common/version.ts';
import { runCli } from './helpers/cli.ts';

const COMMANDS = ['agent', 'dev', 'inject', 'webhook'] as const;

t.test('every help line fits the width; the flags form one aligned column', async (t) => {
  for (const command of [undefined, ...COMMANDS]) {
    const args = command === undefined ? ['--help'] : [command, '--help'];
    const { code, stdout } = await runCli(args);
    t.equal(code, 0, `${args.join(' ')} exits 0`);
    const lines = stdout.split('\n');
    for (const line of lines)
      t.ok(line.length <= HELP_WIDTH, `${args.join(' ')}: ${line.length} columns: ${line}`);
    if (command === undefined) continue;
    const flags = lines.filter((l) => /^ {2}(-\w, )?--[a-z-]+/.test(l));
    t.ok(flags.length >= 2, `${command} lists its flags`);
    // Where each flag's help starts: the first non-space after the flag and its VALUE.
    const columns = new Set(flags.map((l) => /^ {2}\S.*?\s{2,}(?=\S)/.exec(l)?.[0].length));
    t.equal(columns.size, 1, `${command}: every flag's help starts at one column`);
    // Continuation lines (wrapped help, the env line) start at that column too.
    const [column = 0] = [...columns];
    const rest = lines.filter((l) => /^ {3,}\S/.test(l) && !flags.includes(l));
    for (const line of rest)
      t.equal(line.length - line.trimStart().length, column, `${command}: aligned: ${line}`);
    t.match(stdout, /--version\s+the version/, `${command} --help lists --version`);
  }
});

t.test('what dev serves is said the same everywhere: Secrets Manager, SSM and STS', async (t) => {
  const top = await runCli(['--help']);
  t.match(top.stdout, /dev +a local Secrets Manager, SSM \+ STS endpoint/);
  const dev = await runCli(['dev', '--help']);
  t.match(dev.stdout, /Secrets Manager, SSM Parameter Store \+ STS endpoint/);
  const agent = await runCli(['agent', '--help']);
  t.match(agent.stdout, /SSM Parameter Store/, 'agent --help mentions SSM');
  t.match(top.stdout, /agent +fetch Secrets Manager secrets and SSM parameters/);
});

t.test('--version: top level, -v, and after every command', async (t) => {
  for (const args of [['--version'], ['-v'], ...COMMANDS.map((c) => [c, '--version'])]) {
    const { code, stdout, stderr } = await runCli(args);
    t.equal(code, 0, `${args.join(' ')} exits 0`);
    t.equal(stdout, `secrets-agent ${VERSION}\n`, `${args.join(' ')} prints the version`);
    t.equal(stderr, '');
  }
});

t.test('an unknown flag: one clean line naming it and where the flags are listed', async (t) => {
  for (const command of COMMANDS) {
    const { code, stderr } = await runCli([command, '--no-such-flag']);
    t.equal(code, 2, `${command}: exit 2`);
    t.equal(
      stderr,
      `secrets-agent ${command}: unknown flag --no-such-flag (secrets-agent ${command} --help lists the flags)\n`,
    );
    t.equal((stderr.match(/'/g) ?? []).length % 2, 0, 'quotes balanced');
  }
  const missing = await runCli(['inject', '-f']);
  t.equal(missing.code, 2);
  t.equal(missing.stderr, 'secrets-agent inject: -f needs a value\n');
  const flagAsValue = await runCli(['agent', '--config', '--mode', 'init']);
  t.equal(flagAsValue.code, 2);
  t.equal(
    flagAsValue.stderr,
    'secrets-agent agent: --config needs a value, got the flag --mode (write --config=--mode if it is the value)\n',
  );
});

t.test('dev on a busy port says to choose another with --port', async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const { code, stderr } = await runCli(['dev', '--port', String(port)]);
  t.equal(code, 2);
  t.match(stderr, `port ${port} on 127.0.0.1 is in use (EADDRINUSE): choose another with --port N`);
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
});

t.test('any flag table gives help within the width, in one column', (t) => {
  const word = fc.stringMatching(/^[a-z]{1,24}$/);
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          name: fc.stringMatching(/^[a-z][a-z-]{0,24}$/),
          help: fc.array(word, { minLength: 1, maxLength: 40 }).map((w) => w.join(' ')),
          type: fc.constantFrom('string', 'integer', 'boolean'),
          default: fc.option(word, { nil: undefined }),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      fc.array(word, { minLength: 1, maxLength: 30 }).map((w) => w.join(' ')),
      (flags, summary) => {
        const spec: CommandSpec = {
          name: 'x',
          summary,
          usage: 'secrets-agent x',
          flags: flags.map((f) => ({
            name: f.name,
            env: `SECRETS_AGENT_${f.name.toUpperCase().replaceAll('-', '_')}`,
            type: f.type,
            help: f.help,
            ...(f.default === undefined ? {} : { default: f.default }),
          })),
        };
        const lines = helpText(spec).split('\n');
        const starts = new Set(
          lines
            .filter((l) => /^ {2}--/.test(l))
            .map((l) => /^ {2}\S+( VALUE)?\s+/.exec(l)?.[0].length),
        );
        return lines.every((l) => l.length <= HELP_WIDTH) && starts.size === 1;
      },
    ),
    { numRuns: 300 },
  );
  t.pass('every generated table held (fast-check throws at the first that broke)');
  t.end();
});
