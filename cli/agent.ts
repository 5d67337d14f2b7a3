#!/usr/bin/env node
/**
 * `secrets-agent agent` as an entry of its own: what the injected container runs
 * (`node <V8 flags> /app/dist/agent.js --config-json …`, the flags in the pod spec). Its file in
 * the bundle holds the agent and nothing of the injector: a pod pays for the agent only.
 */
import { run } from '../agent/command.ts';
import { runCommand } from './run.ts';

runCommand('agent', () => Promise.resolve(run), process.argv.slice(2));
