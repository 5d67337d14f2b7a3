/** bench/fleet.ts and its kin in their quick mode, in a file of their own (test/helpers/bench-run.ts). */
import t from 'tap';
import { benchTest, scriptsOf } from './helpers/bench-run.ts';

for (const name of scriptsOf('fleet')) benchTest(t, name);
