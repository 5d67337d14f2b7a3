/**
 * Loaded into every test process (`.taprc`, node-arg): the processes a test starts run as they
 * would outside the runner. tap's runner loads its process-info hook (@tapjs/processinfo) into
 * each test process, and that hook passes itself on to every child through NODE_OPTIONS, so that
 * coverage can follow them. The suite collects no coverage (`disable-coverage`), and the hook
 * costs each child about 150 ms of CPU (hundreds of agent, CLI and shell processes in a run):
 * it is taken off here. The test process itself keeps it.
 */

/** process-on-spawn's state, shared through a global symbol by every copy of it. */
const SPAWN_HOOKS = Symbol.for('process-on-spawn@*:singletonId');

const hooks = (globalThis as Record<symbol, { listeners?: unknown[] } | undefined>)[SPAWN_HOOKS];
if (hooks?.listeners !== undefined) hooks.listeners = [];

const options = process.env['NODE_OPTIONS'];
if (options !== undefined) {
  const kept = options
    .split(/\s+/)
    .filter((o) => o !== '' && !o.includes('@tapjs/processinfo'))
    .join(' ');
  if (kept === '') delete process.env['NODE_OPTIONS'];
  else process.env['NODE_OPTIONS'] = kept;
}
