#!/usr/bin/env node
/**
 * `secrets-agent agent` as an entry of its own: what the injected container runs
 * (`node [V8 flags] /app/dist/agent.js --config-json …`, the flags in the pod spec). Its file in
 * the bundle holds the agent and nothing of the injector: a pod pays for the agent only.
 */
import { run } from '../agent/command.ts';
import { VERSION } from '../common/version.ts';
import { exit, runCommand } from './run.ts';

const argv = process.argv.slice(2);
// `--version` anywhere, as every command of cli.js answers it.
if (argv.includes('--version')) {
  process.stdout.write(`secrets-agent ${VERSION}\n`);
  exit(0);
} else {
  runCommand('agent', () => Promise.resolve(run), argv);
}
