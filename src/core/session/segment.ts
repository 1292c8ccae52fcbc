import type { Buffer } from 'node:buffer';

/**
 * A run of captured client payload, in capture sequence space. Immutable once made, so the
 * replicas of one captured connection (-n) share it; each session keeps references only until
 * the target acknowledges the bytes.
 */
export class Seg {
  constructor(
    /** Captured sequence number of the first byte. */
    readonly seq: number,
    readonly len: number,
    /** The bytes are payload[off, off + len): a copy of the capture (see PayloadArena). */
    readonly payload: Buffer,
    readonly off: number,
    /** Folded ones'-complement sum of the payload (for O(header) checksums). */
    readonly psum: number,
    /** The captured ack: online response bytes the real client had received before sending. */
    readonly origAck: number,
    /** Captured think time before this packet (0 when a response arrived in between). */
    readonly thinkUs: number,
    readonly tos: number,
  ) {}

  get end(): number {
    return (this.seq + this.len) >>> 0;
  }
}
