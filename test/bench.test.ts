/**
 * Each benchmark in its quick mode: it runs, prints its table and ends with one JSON line, and
 * exits 0. No timing assertions (the machine is shared and noisy): the figures come from
 * `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from './helpers/agent-process.ts';

const SCRIPTS: readonly { name: string; keys: readonly string[] }[] = [
  { name: 'startup', keys: ['bareMs', 'results', 'goal'] },
  { name: 'api-calls', keys: ['results', 'goal'] },
  { name: 'memory', keys: ['series', 'bareRssBytes', 'ratio', 'goal'] },
  { name: 'webhook', keys: ['results', 'fixedRate', 'goal'] },
  { name: 'inject', keys: ['injectMs', 'baselineMs', 'perDocumentMs'] },
];

function runScript(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', `${name}.ts`), '--quick'], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

for (const script of SCRIPTS) {
  t.test(`bench/${script.name}.ts --quick`, { timeout: 110_000 }, async (t) => {
    const { code, stdout, stderr } = await runScript(script.name);
    t.equal(code, 0, stderr);
    const lines = stdout.trimEnd().split('\n');
    const result = JSON.parse(lines.at(-1) ?? '') as Record<string, unknown>;
    t.equal(result['bench'], script.name);
    t.equal(result['quick'], true);
    for (const key of script.keys) t.ok(key in result, `${key} in the JSON line`);
    t.match(stdout, /-{3,}/, 'prints a table');
  });
}
