/**
 * Baseline for the intercept benchmark: the nfqueue binding with a bare DROP callback and
 * nothing else (no record, no channel). Run in the target namespace instead of intercept.
 *   node intercept-bare.js [queueNum]
 */
import type { Buffer } from 'node:buffer';
import { loadAddon } from '../../src/io/native.js';

interface Nfq {
  NFQueue: new () => {
    open(n: number, rcvbuf: number): void;
    bindings: { read(cb: (info: { id: number }, p: Buffer) => number): void; setVerdict(id: number, v: number, b: null): void };
  };
}
const q = new (loadAddon<Nfq>('nfqueue').NFQueue)();
q.open(Number(process.argv[2] ?? 0), 16 * 1024 * 1024);
const b = q.bindings;
let n = 0;
b.read((info) => {
  n++;
  b.setVerdict(info.id, 0, null);
  return 0;
});
process.stderr.write('intercept ready (bare DROP baseline)\n');
process.on('SIGTERM', () => {
  process.stderr.write(`final stats: queued=${n}\n`);
  process.exit(0);
});
