/** The lighter benchmarks in their quick mode (test/helpers/bench-run.ts). */
import t from 'tap';
import { benchTest, HEAVY, SCRIPTS } from './helpers/bench-run.ts';

for (const { name } of SCRIPTS) if (!HEAVY.includes(name)) benchTest(t, name);
