/** The heavier benchmarks in their quick mode (test/helpers/bench-run.ts), in a file of their own. */
import t from 'tap';
import { benchTest, HEAVY } from './helpers/bench-run.ts';

for (const name of HEAVY) benchTest(t, name);
