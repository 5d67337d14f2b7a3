import { CONTRACT_AGENT_METRICS } from './helpers/contract.ts';
/** The README documents what the code defines: flags, env twins, config fields, error codes, metrics. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { AGENT_COMMAND } from '../agent/command.ts';
import * as LOCAL_API from '../agent/local-api.ts';
import { createAgentMetrics } from '../agent/metrics.ts';
import { CONFIG_FIELDS, LIMITS, SECRET_FIELDS } from '../common/config.ts';
import { formatDuration } from '../common/duration.ts';
import {
  FIND_MAX_CALLS,
  PATH_MAX_CALLS,
  TAGGED_FIND_MAX_CALLS,
} from '../agent/source/worst-case.ts';
import { MAX_VALUE_LENGTH } from '../injector/annotations.ts';
import { UPSTREAM_LIMITS } from '../agent/source/upstream.ts';
import { MAX_ARRAY_LENGTH } from '../agent/jmespath-bounds.ts';
import { ErrorCodes } from '../common/errors.ts';
import { LISTENERS, type ListenerLimits, type ListenerName } from '../common/listener.ts';
import { devCommand } from '../dev/command.ts';
import { ENV_PREFIX, POD_KEYS, SECRET_PREFIXES } from '../injector/keys.ts';
import { INJECT_COMMAND } from '../injector/inject-command.ts';
import { WEBHOOK_COMMAND } from '../injector/webhook-command.ts';

// The user's documentation: the README and the reference pages under docs/. Table cells are
// compared with their padding folded, so reformatting the tables changes nothing.
const root = join(import.meta.dirname, '..');
const pages = [
  'README.md',
  ...(await readdir(join(root, 'docs')))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
];
const readme = (await Promise.all(pages.map((p) => readFile(join(root, p), 'utf8'))))
  .join('\n')
  .replace(/ {2,}/g, ' ');
const limitsPage = (await readFile(join(root, 'docs', 'limits.md'), 'utf8')).replace(/ {2,}/g, ' ');

t.test('every command flag and its environment twin is documented', async (t) => {
  for (const command of [AGENT_COMMAND, devCommand, WEBHOOK_COMMAND, INJECT_COMMAND]) {
    for (const flag of command.flags) {
      t.match(readme, `\`--${flag.name}`, `${command.name} --${flag.name}`);
      t.match(readme, `\`${flag.env}\``, `${command.name} ${flag.env}`);
    }
  }
});

t.test('every configuration field is documented', async (t) => {
  for (const field of [...CONFIG_FIELDS, ...SECRET_FIELDS])
    t.match(readme, `| \`${field}\` |`, field);
});

t.test('every error code is documented with the catalog text', async (t) => {
  // One list item per code, `- \`CODE\`: catalog text`, the whole item: its text may wrap onto
  // indented lines, which are joined here before the item is compared.
  const items = readme.replace(/\n (?=\S)/g, ' ').split('\n');
  for (const [code, text] of Object.entries(ErrorCodes)) {
    const item = `- \`${code}\`: ${text}`;
    t.ok(items.includes(item), `${code}: a list item "${item}"`);
  }
});

t.test('every agent metric is documented, and named as documented', async (t) => {
  const metrics = createAgentMetrics();
  const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
  for (const name of CONTRACT_AGENT_METRICS) t.ok(names.includes(name), `${name} exists`);
  for (const name of names) t.match(readme, `\`${name}\``, `README: ${name}`);
});

t.test('every annotation the injector parses is documented', async (t) => {
  const tableRows = readme.split('\n').filter((line) => line.startsWith('| `'));
  for (const key of POD_KEYS) {
    t.ok(
      tableRows.some((row) => row.split('|')[1]?.includes(`\`${key}\``)),
      `${key} has a table row`,
    );
  }
  for (const prefix of [...SECRET_PREFIXES, ENV_PREFIX]) {
    const placeholder = prefix === ENV_PREFIX ? '<VAR>' : '<name>';
    t.match(readme, `| \`${prefix}${placeholder}\` |`, prefix);
  }
});

t.test("the Limits table states the schema's bounds", async (t) => {
  const section = limitsPage;
  const row = (input: string): string =>
    section.split('\n').find((l) => l.startsWith(`| ${input}`)) ?? '';
  const duration = (ms: number): string => `\`${formatDuration(ms)}\``;
  const rows: [string, string[]][] = [
    ['`refresh-interval`', Object.values(LIMITS.refreshIntervalMs).map(duration)],
    ['`initTimeout`', Object.values(LIMITS.initTimeoutMs).map(duration)],
    ['`requestTimeout`', Object.values(LIMITS.requestTimeoutMs).map(duration)],
    ['sources per pod', [`${LIMITS.secrets.min} to ${LIMITS.secrets.max}`]],
    ['`<name>`', [`${LIMITS.fileNameLength} characters`]],
    ['`secret-<name>`', [LIMITS.secretIdLength.toLocaleString('en-US')]],
    ['`key-<name>`', [`${LIMITS.keyLength / 1024} KiB`]],
    ['`template-<name>`', [`${LIMITS.templateLength / 1024} KiB`]],
    ['`version-stage-<name>`', [`${LIMITS.versionStageLength}`]],
    ['`version-id-<name>`', [`${LIMITS.versionIdLength.min} to ${LIMITS.versionIdLength.max}`]],
    ['`reload-url`', [LIMITS.urlLength.toLocaleString('en-US')]],
    ['`proxy-address`', [LIMITS.urlLength.toLocaleString('en-US')]],
    ['`local-api-port`', [`${LIMITS.localApiPort.min} to ${LIMITS.localApiPort.max}`]],
    ['`k8sSecret.owners`', [`at most ${LIMITS.secretOwners} owner`]],
    ['`outputDir`', [`${LIMITS.pathLength.toLocaleString('en-US')} characters`]],
    [
      'pages of one `path-`',
      [`${PATH_MAX_CALLS} / ${FIND_MAX_CALLS} (${TAGGED_FIND_MAX_CALLS} with a tag)`],
    ],
    ['local API requests', [`URL ${LOCAL_API.MAX_URL_LENGTH.toLocaleString('en-US')}`]],
    [
      'local API cache',
      [
        `${LOCAL_API.MAX_CACHED.toLocaleString('en-US')} read-through entries, ${LOCAL_API.MAX_CACHED_BYTES / 1024 / 1024} MiB`,
        'once a second',
      ],
    ],
    ['any `secrets-agent.io/` value', [`${MAX_VALUE_LENGTH / 1024} KiB`]],
    ['`key-` / `template-`, on the way', [MAX_ARRAY_LENGTH.toLocaleString('en-US')]],
    [
      'a value AWS answers',
      [
        `Secrets Manager ${UPSTREAM_LIMITS.secretBytes / 1024} KiB`,
        `SSM ${UPSTREAM_LIMITS.parameterBytes / 1024} KiB`,
      ],
    ],
  ];
  for (const [input, bounds] of rows) {
    t.not(row(input), '', `a row for ${input}`);
    for (const bound of bounds) t.match(row(input), bound, `${input}: ${bound}`);
  }
});

t.test("the Ports table states every listener's bounds, as declared", async (t) => {
  // The row of each listener; a listener added to LISTENERS without a row fails here.
  const labels: Record<ListenerName, string> = {
    webhook: 'webhook HTTPS',
    webhookMetrics: 'webhook metrics',
    agentStatus: 'agent health and metrics',
    localApi: 'agent local API',
  };
  const seconds = (ms: number): string => `${ms / 1000} s`;
  for (const [name, limits] of Object.entries(LISTENERS) as [ListenerName, ListenerLimits][]) {
    const row = limitsPage.split('\n').find((l) => l.startsWith(`| ${labels[name]} `));
    t.ok(row, `a row for ${name}`);
    const cells = (row ?? '')
      .split('|')
      .slice(2, 7)
      .map((c) => c.trim());
    // The webhook's body deadline counts from its headers' (see the page).
    const body =
      name === 'webhook'
        ? limits.headersTimeoutMs + limits.requestTimeoutMs
        : limits.requestTimeoutMs;
    t.same(
      cells,
      [
        String(limits.maxConnections),
        seconds(limits.headersTimeoutMs),
        seconds(body),
        seconds(limits.keepAliveTimeoutMs),
        `${limits.maxHeaderBytes / 1024} KiB`,
      ],
      name,
    );
  }
});

t.test('the Markdown documentation fits a terminal: no line over 100 columns', async (t) => {
  const skip = new Set(['node_modules', 'dist', '.git', '.tap', '.demo']);
  const markdown = async (dir: string): Promise<string[]> => {
    const entries = await readdir(join(root, dir), { withFileTypes: true });
    const found = await Promise.all(
      entries.map(async (e) => {
        const path = dir === '' ? e.name : join(dir, e.name);
        if (e.isDirectory()) return skip.has(e.name) ? [] : markdown(path);
        return e.name.endsWith('.md') ? [path] : [];
      }),
    );
    return found.flat();
  };
  const files = await markdown('');
  const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });
  t.ok(files.includes('README.md') && files.includes(join('docs', 'agent.md')), 'files found');
  for (const file of files) {
    const lines = (await readFile(join(root, file), 'utf8')).split('\n');
    // Columns as a terminal counts them: one per character as the reader sees it.
    const columns = (line: string): number => Array.from(graphemes.segment(line)).length;
    const wide = lines.flatMap((line, i) => (columns(line) > 100 ? [i + 1] : []));
    t.same(wide, [], `${file}: lines over 100 columns`);
  }
});
