/**
 * Loaded into every test process (`.taprc`, node-arg): fast-check properties run from one seed,
 * so a run is repeatable and a failure reproduces as it was seen. `FUZZ_SEED=<n> npm test`
 * tries other cases; a property's own seed, where it gives one, wins.
 */
import fc from 'fast-check';

export const SEED = Number(process.env['FUZZ_SEED'] ?? '20261207');
fc.configureGlobal({ seed: SEED });
