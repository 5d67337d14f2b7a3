/** The lighter benchmarks in their quick mode (test/helpers/bench-run.ts). */
import t from 'tap';
import { benchTest, OWN_FILE, SCRIPTS } from './helpers/bench-run.ts';

for (const { name } of SCRIPTS) if (OWN_FILE[name] === undefined) benchTest(t, name);
