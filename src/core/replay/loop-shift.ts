import type { Buffer } from 'node:buffer';
import { patchU32 } from '../packet/checksum.js';

/** Added to every captured seq of run k (k × this): each -T run is a new connection to the engine. */
const LOOP_SEQ_STEP = 0x9e3779b9;

/**
 * A later -T run: shift the client's sequence space (checksum patched incrementally) so the
 * engine sees new connections — fresh ISNs, fresh ports where the old tuple is still busy —
 * instead of retransmissions of the previous run's. Every pausable source uses it.
 */
export function shiftLoopSeq(buf: Buffer, ipOff: number, capLen: number, loop: number): void {
  const tcpOff = ipOff + (((buf[ipOff] as number) & 0x0f) << 2);
  if (capLen < tcpOff - ipOff + 18) return;
  const step = (loop * LOOP_SEQ_STEP) >>> 0;
  patchU32(buf, tcpOff + 4, (buf.readUInt32BE(tcpOff + 4) + step) >>> 0, tcpOff + 16, tcpOff);
}
