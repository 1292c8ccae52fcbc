import { Buffer } from 'node:buffer';

/**
 * A bounded FIFO of packets for a source that cannot pause (live capture): each packet is copied
 * into one preallocated byte slab (contiguously; a packet that does not fit before the slab's end
 * goes to its start) and described by preallocated slot arrays. Nothing is allocated per packet;
 * push() refuses (returns false) when either the slots or the bytes are used up, and the caller
 * counts the drop. Memory is fixed at construction: slab + 20 bytes per slot.
 */
export class PacketRing {
  readonly slab: Buffer;
  private readonly offs: Int32Array;
  private readonly lens: Int32Array;
  private readonly transfers: Int32Array;
  private readonly stamps: Float64Array;
  private head = 0;
  private count = 0;
  /** End (exclusive) of the newest packet's bytes. */
  private tailEnd = 0;

  constructor(
    slabBytes: number,
    readonly slots: number,
  ) {
    if (slabBytes < 1 || slots < 1) throw new RangeError(`PacketRing needs room: ${slabBytes} bytes, ${slots} slots`);
    this.slab = Buffer.allocUnsafe(slabBytes);
    this.offs = new Int32Array(slots);
    this.lens = new Int32Array(slots);
    this.transfers = new Int32Array(slots);
    this.stamps = new Float64Array(slots);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held (counting the unusable gap left at the slab's end by a wrap). */
  get bytesUsed(): number {
    if (this.count === 0) return 0;
    const start = this.offs[this.head] as number;
    return this.tailEnd > start ? this.tailEnd - start : this.slab.length - start + this.tailEnd;
  }

  /** Copies src[off, off + len) in; false when there is no room (nothing changes then). */
  push(src: Uint8Array, off: number, len: number, tsUs: number, transferIdx: number): boolean {
    if (len <= 0 || this.count === this.slots) return false;
    let at: number;
    if (this.count === 0) {
      if (len > this.slab.length) return false;
      at = 0;
    } else {
      const start = this.offs[this.head] as number;
      if (this.tailEnd > start) {
        // Used bytes are [start, tailEnd): room after them, else at the slab's start.
        if (this.tailEnd + len <= this.slab.length) at = this.tailEnd;
        else if (len <= start) at = 0;
        else return false;
      } else if (this.tailEnd + len <= start) {
        // Wrapped: the free bytes are [tailEnd, start).
        at = this.tailEnd;
      } else return false;
    }
    this.slab.set(src.subarray(off, off + len), at);
    const slot = (this.head + this.count) % this.slots;
    this.offs[slot] = at;
    this.lens[slot] = len;
    this.stamps[slot] = tsUs;
    this.transfers[slot] = transferIdx;
    this.count++;
    this.tailEnd = at + len;
    return true;
  }

  /** The oldest packet (only when size > 0): offset and length in slab, timestamp, transfer. */
  get headOffset(): number {
    return this.offs[this.head] as number;
  }

  get headLength(): number {
    return this.lens[this.head] as number;
  }

  get headTsUs(): number {
    return this.stamps[this.head] as number;
  }

  get headTransfer(): number {
    return this.transfers[this.head] as number;
  }

  /** Forgets the oldest packet (its bytes stay readable until the next push). */
  shift(): void {
    if (this.count === 0) return;
    this.head = (this.head + 1) % this.slots;
    this.count--;
    if (this.count === 0) {
      this.head = 0;
      this.tailEnd = 0;
    }
  }
}
