/**
 * Bare NFQUEUE driver: the tap (either backend) with a trivial handler and nothing else (no
 * record, no channel). The intercept benchmark's baseline, and the subject of the tap's
 * integration tests. Run inside a namespace whose iptables rule feeds the queue.
 *
 *   node intercept-bare.js [--queue N] [--backend fast|nfqueue|auto] [--max-len N] [--copy-range N]
 *                          [--rcvbuf BYTES (exact; default 16 MiB grown to fit the max length)]
 *                          [--batch N] [--paused] [--verdict-by-byte]
 *
 * --verdict-by-byte: the verdict comes from the packet's first UDP payload byte ('A' ACCEPT,
 * 'T' throw inside the handler, anything else DROP); otherwise every packet is dropped.
 * Signals: SIGUSR1 resumes reading (after --paused), SIGUSR2 prints a stats line, SIGINT closes
 * the queue and lets the process end on its own (checks that close() frees the event loop),
 * SIGTERM prints the final stats and exits.
 * Output (stderr): "intercept ready (…)", then `stats {json}` lines: handled packets, handler
 * errors, the tap's counters and the kernel's /proc line for the queue.
 */
import { parseArgs } from 'node:util';
import type { Buffer } from 'node:buffer';
import { NfqueueTap, readKernelQueueStats, type NfqBackend } from '../../src/io/nfqueue-tap.js';

const { values: o } = parseArgs({
  options: {
    queue: { type: 'string', default: '0' },
    backend: { type: 'string' }, // unset: TCPCOPY_TS_NFQ_BACKEND, else auto
    'max-len': { type: 'string' },
    'copy-range': { type: 'string', default: '64' },
    rcvbuf: { type: 'string' }, // given: used as is; unset: 16 MiB, grown to fit the max length
    batch: { type: 'string' },
    paused: { type: 'boolean', default: false },
    'verdict-by-byte': { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const queueNum = Number(o.queue);
const byByte = o['verdict-by-byte'] === true;
let handled = 0;
let accepted = 0;

const handler = (p: Buffer, len: number): number => {
  handled++;
  if (!byByte) return 0;
  const ihl = ((p[0] as number) & 15) * 4;
  const b = len > ihl + 8 ? p[ihl + 8] : 0;
  if (b === 0x54) throw new Error('test: handler throws (T)');
  if (b === 0x41) {
    accepted++;
    return 1;
  }
  return 0;
};

const tap = NfqueueTap.open(
  {
    queueNum,
    rcvbufBytes: o.rcvbuf === undefined ? 16 * 1024 * 1024 : Number(o.rcvbuf),
    autoRcvbuf: o.rcvbuf === undefined,
    copyRange: Number(o['copy-range']),
    maxLen: o['max-len'] === undefined ? null : Number(o['max-len']),
    batchSize: o.batch === undefined ? undefined : Number(o.batch),
    backend: o.backend as NfqBackend | 'auto' | undefined,
    onWarning: (m) => process.stderr.write(`WARN ${m}\n`),
  },
  handler,
  () => undefined,
);
if (o.paused === true) tap.pause();
// A paused queue has no active handle: keep the process up until SIGINT/SIGTERM.
const keepAlive = setInterval(() => undefined, 1 << 30);

const stats = (): string =>
  JSON.stringify({
    backend: tap.backend,
    handled,
    accepted,
    handlerErrors: tap.handlerErrors,
    portId: tap.portId,
    maxLen: tap.maxLen,
    rcvbuf: tap.rcvbuf,
    tap: tap.counters(),
    kernel: readKernelQueueStats(queueNum),
  });

process.on('SIGUSR1', () => tap.resume());
process.on('SIGUSR2', () => process.stderr.write(`stats ${stats()}\n`));
process.on('SIGINT', () => {
  tap.close();
  clearInterval(keepAlive);
  process.stderr.write(`closed ${stats()}\n`);
  process.removeAllListeners('SIGUSR1');
  process.removeAllListeners('SIGUSR2');
  process.removeAllListeners('SIGTERM');
});
process.on('SIGTERM', () => {
  process.stderr.write(`final stats: ${stats()}\n`);
  process.exit(0);
});
// Last: the handlers above must be in place before anyone is told to signal us.
process.stderr.write(`intercept ready (bare baseline, backend ${tap.backend}${o.paused === true ? ', paused' : ''})\n`);
