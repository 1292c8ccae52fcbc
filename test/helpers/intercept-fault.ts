// `node intercept-fault.js MS [intercept args…]`: intercept exactly as the installed CLI runs
// it, plus an uncaught error MS ms after start (integration test of crash clean-up). The fault
// hook lives here so the production CLI reads no test-only switch.
import { interceptMain } from '../../src/cli/intercept-main.js';

const [ms, ...args] = process.argv.slice(2);
if (ms === undefined || !/^[0-9]+$/.test(ms)) {
  process.stderr.write('usage: intercept-fault.js MS [intercept args...]\n');
  process.exit(2);
}
await interceptMain([process.argv[0] as string, process.argv[1] as string, ...args], { faultAfterMs: Number(ms) });
