/**
 * `secrets-agent inject` over a generated 1,000-document manifest (Deployments, Pods and
 * ConfigMaps, some opted in, most not): wall time and cost per document, against a baseline
 * of `node -e` parsing and stringifying the same YAML with the `yaml` package, so the ratio
 * shows the injector's own cost. Both are whole processes, start-up included, same Node.
 *
 *   node bench/inject.ts [--quick]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI, median, printResult, QUICK, round, table, tempDir, timedRun } from './lib.ts';

const DOCS = QUICK ? 100 : 1000;
const RUNS = QUICK ? 2 : 7;

function podSpec(i: number, optIn: boolean): Record<string, unknown> {
  return {
    metadata: {
      labels: { app: `app-${i}` },
      annotations: optIn
        ? {
            'secrets-agent.io/inject': 'true',
            [`secrets-agent.io/secret-db`]: `prod/app-${i}/db`,
            'secrets-agent.io/key-db': 'password',
            'secrets-agent.io/secret-api': `prod/app-${i}/api`,
            'secrets-agent.io/refresh-interval': '1m',
          }
        : { 'prometheus.io/scrape': 'true' },
    },
    spec: {
      serviceAccountName: `app-${i}`,
      containers: [
        {
          name: 'app',
          image: `registry.example/app-${i}:1.0.${i}`,
          ports: [{ containerPort: 8080 }],
          env: [{ name: 'MODE', value: 'production' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
        },
      ],
    },
  };
}

/** Document i: a Deployment, a Pod or a ConfigMap; one in three workloads opted in. */
function document(i: number): Record<string, unknown> {
  const optIn = i % 3 === 0;
  switch (i % 3 === 0 ? i % 2 : i % 3) {
    case 0:
      return {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `app-${i}`, namespace: 'shop' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: `app-${i}` } },
          template: podSpec(i, optIn),
        },
      };
    case 1: {
      const pod = podSpec(i, optIn);
      const metadata = { name: `pod-${i}`, namespace: 'shop', ...(pod['metadata'] as object) };
      return { apiVersion: 'v1', kind: 'Pod', ...pod, metadata };
    }
    default:
      return {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `config-${i}`, namespace: 'shop' },
        data: { 'app.properties': `feature.x=true\nitems=${i}\n`, LOG_LEVEL: 'info' },
      };
  }
}

const work = tempDir('sa-bench-inject-');
const file = join(work, 'manifest.yaml');
const docs = Array.from({ length: DOCS }, (_, i) => document(i));
writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
const optedIn = docs.filter((d) =>
  JSON.stringify(d).includes('"secrets-agent.io/inject":"true"'),
).length;

// Resolves `yaml` from the project's node_modules (timedRun runs in the root).
const BASELINE = `
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
const docs = parseAllDocuments(readFileSync(process.argv[1], 'utf8'));
process.stdout.write(docs.map((d) => d.toString()).join('---\\n'));
`;
const env = { PATH: process.env['PATH'] ?? '' };

const inject: number[] = [];
const baseline: number[] = [];
let outputBytes = 0;
// A warm-up of each, then interleaved runs.
for (let i = 0; i <= RUNS; i++) {
  const run = await timedRun([CLI, 'inject', '-f', file], env);
  if (run.code !== 0) throw new Error(`inject exited ${run.code}: ${run.stderr}`);
  outputBytes = run.stdout.length;
  const base = await timedRun(['--input-type=module', '-e', BASELINE, file], { ...env }, 60_000);
  if (base.code !== 0) throw new Error(`baseline exited ${base.code}: ${base.stderr}`);
  if (i > 0) {
    inject.push(run.ms);
    baseline.push(base.ms);
  }
}
const injectMs = median(inject);
const baseMs = median(baseline);
process.stdout.write(
  `inject -f over ${DOCS} documents (${optedIn} opted in), whole process, median of ${RUNS}\n\n`,
);
process.stdout.write(
  `${table(
    ['run', 'median ms', 'ms per document', 'x baseline'],
    [
      [
        'secrets-agent inject',
        round(injectMs, 1),
        round(injectMs / DOCS, 3),
        (injectMs / baseMs).toFixed(2),
      ],
      ['node -e yaml parse+stringify', round(baseMs, 1), round(baseMs / DOCS, 3), '1.00'],
    ],
  )}\n`,
);
process.stdout.write(
  `\ninjector's own cost: ${round((injectMs - baseMs) / DOCS, 3)} ms per document\n`,
);
printResult('inject', {
  documents: DOCS,
  optedIn,
  runs: RUNS,
  injectMs: round(injectMs, 1),
  baselineMs: round(baseMs, 1),
  perDocumentMs: round(injectMs / DOCS, 3),
  ownCostPerDocumentMs: round((injectMs - baseMs) / DOCS, 3),
  ratio: round(injectMs / baseMs),
  outputBytes,
});
