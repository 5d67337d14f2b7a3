/**
 * A source whose new content does not fit on the volume, in-process (no root needed): the files
 * sink holds it and the agent names it in its failures, the warning, the gauge and the
 * `/readyz` detail, while the others' changes count as landed; the gauge and the detail clear
 * once it fits. files-swap-room.test.ts shows the same on a real tmpfs.
 */
import t from 'tap';
import { Agent } from '../agent/agent.ts';
import { createAgentMetrics } from '../agent/metrics.ts';
import { prepareRenderer, renderFile } from '../agent/render.ts';
import type { SecretFile, WriteResult } from '../agent/sink/files.ts';
import { refKey, type FetchOutcome, type SecretSource } from '../agent/source/source.ts';
import { parseAgentConfig } from '../common/config.ts';
import { createLogger } from '../common/log.ts';

const source: SecretSource = {
  fetch(refs) {
    const out = new Map<string, FetchOutcome>();
    for (const ref of refs)
      out.set(refKey(ref), { ref, ok: true, value: { arn: 'arn', versionId: 'v', string: 'x' } });
    return Promise.resolve(out);
  },
  close() {},
};

t.test('a held source is a named failure; the others land', async (t) => {
  const config = await parseAgentConfig({
    outputDir: '/pod/secrets',
    httpPort: 0,
    mode: 'sidecar',
    refreshInterval: '5m',
    secrets: [
      { name: 'big', id: 'big' },
      { name: 'small', id: 'small' },
    ],
  });
  await prepareRenderer(config.secrets);
  // What the sink answers, write by write: big held, then everything fits.
  const answers: WriteResult[] = [
    {
      status: 'written',
      changed: ['small'],
      held: [{ name: 'big', code: 'ENOSPC', bytes: 65536 }],
    },
    { status: 'written', changed: ['big'] },
  ];
  const written: (readonly SecretFile[])[] = [];
  const files = {
    write: (set: readonly SecretFile[]): Promise<WriteResult> => {
      written.push(set);
      return Promise.resolve(answers.shift() ?? { status: 'unchanged', changed: [] });
    },
  };
  const logs: string[] = [];
  const metrics = createAgentMetrics();
  const agent = new Agent({
    config,
    source,
    files,
    metrics,
    logger: createLogger({ write: (line: string) => logs.push(line) }),
    render: renderFile,
  });
  const gauge = async (): Promise<number | undefined> =>
    (await metrics.fileNoSpace.get()).values.find((v) => v.labels['secret'] === 'big')?.value;

  const first = await agent.cycle(new AbortController().signal);
  t.same(first.changed, ['small'], 'the small one landed');
  t.equal(first.failures.length, 1);
  t.match(first.failures[0], {
    secret: 'big',
    error: { code: 'WRITE_FAILED', retryable: true, message: /big \(65536 bytes\) does not fit/ },
  });
  t.equal(await gauge(), 1);
  t.match(agent.detail, /no room on the volume for: big \(ENOSPC, 65536 bytes\)/);
  const warning = logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l['msg'] === 'secret file does not fit');
  t.match(warning, { level: 'warn', secret: 'big', code: 'ENOSPC', bytes: 65536 });
  t.notOk(agent.ready, 'not ready before every file was written once');

  const second = await agent.cycle(new AbortController().signal);
  t.same(second.failures, []);
  t.equal(await gauge(), 0, 'the gauge clears once it fits');
  t.equal(agent.detail, undefined);
  t.ok(agent.ready);
  t.equal(written.length, 2, 'the sink is asked again: the held source is tried every write');
});
