/**
 * Renders the cases given as JSON on stdin, in this process alone, and prints what each did and
 * the process's peak RSS growth over all of them (from after a first, ordinary render): for
 * test/render-peak.test.ts, which generates the cases.
 */
import { resourceUsage } from 'node:process';
import { prepareRenderer, renderFile } from '../../agent/render.ts';
import { parseAgentConfig } from '../../common/config.ts';
import { AgentError } from '../../common/errors.ts';

export interface RenderCase {
  readonly template?: string;
  readonly key?: string;
  readonly data: unknown;
}

export interface RenderPeak {
  readonly peakGrowthMiB: number;
  readonly results: readonly {
    readonly bytes?: number;
    readonly code?: string;
    readonly ms: number;
  }[];
}

async function render(c: RenderCase): Promise<{ bytes?: number; code?: string; ms: number }> {
  const config = await parseAgentConfig({
    outputDir: '/tmp/render-peak',
    secrets: [
      {
        name: 'f',
        id: 's',
        ...(c.template === undefined ? {} : { template: c.template }),
        ...(c.key === undefined ? {} : { key: c.key }),
      },
    ],
  });
  const spec = config.secrets[0];
  if (spec === undefined) throw new Error('no spec');
  await prepareRenderer(config.secrets);
  const started = performance.now();
  try {
    const bytes = renderFile(spec, {
      string: JSON.stringify(c.data),
      arn: '',
      versionId: '',
    }).byteLength;
    return { bytes, ms: performance.now() - started };
  } catch (err) {
    if (!(err instanceof AgentError)) throw err;
    return { code: err.code, ms: performance.now() - started };
  }
}

let input = '';
for await (const chunk of process.stdin) input += String(chunk);
const cases = JSON.parse(input) as RenderCase[];
await render({ template: '{{a}}', data: { a: 'warm' } });
await render({ key: 'a', data: { a: 'warm' } });
const before = resourceUsage().maxRSS;
const results = [];
for (const c of cases) {
  const r = await render(c);
  results.push({ ...r, peakGrowthMiB: (resourceUsage().maxRSS - before) / 1024 });
}
const peak: RenderPeak = { peakGrowthMiB: (resourceUsage().maxRSS - before) / 1024, results };
process.stdout.write(JSON.stringify(peak));
