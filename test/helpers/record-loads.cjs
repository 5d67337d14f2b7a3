/**
 * Preloaded with `--require` (in NODE_OPTIONS, so the process is the bundle as injected): writes
 * to $RECORD_LOADS_FILE, when the process exits, every module of Node's own it loaded
 * (process.moduleLoadList, which also sees what Node's modules load among themselves), as JSON.
 */
'use strict';
const { writeFileSync } = require('node:fs');

const file = process.env.RECORD_LOADS_FILE;
process.on('exit', () => {
  if (file === undefined) return;
  const builtins = process.moduleLoadList
    .filter((m) => m.startsWith('NativeModule '))
    .map((m) => m.slice('NativeModule '.length));
  writeFileSync(file, JSON.stringify({ builtins }));
});
