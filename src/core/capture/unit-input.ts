import { Buffer } from 'node:buffer';

const EMPTY = Buffer.alloc(0);

/**
 * The capture parser's input: byte chunks pushed in any size, and "units" (a pcap record, a
 * pcapng block) made contiguous on demand. A unit lying wholly inside the current chunk is used
 * in place (zero copy); one that straddles chunks is assembled in `carry` (only the bytes it
 * needs are copied). Offsets are absolute file offsets.
 */
export class UnitInput {
  // Input: the current chunk, read position, and the absolute offset of the current unit.
  protected chunk: Buffer = EMPTY;
  protected pos = 0;
  protected offset = 0;
  // Partial unit assembled across chunks.
  protected carry: Buffer = Buffer.alloc(4096);
  protected carryLen = 0;
  // Result of ensure(): the unit's bytes start at ub[uo].
  protected ub: Buffer = EMPTY;
  protected uo = 0;

  /** Makes n bytes of the current unit contiguous at ub[uo]; false (bytes saved) if not there yet. */
  protected ensure(n: number): boolean {
    if (this.carryLen === 0 && this.chunk.length - this.pos >= n) {
      this.ub = this.chunk;
      this.uo = this.pos;
      return true;
    }
    if (this.carry.length < n) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.carry.length * 2));
      this.carry.copy(bigger, 0, 0, this.carryLen);
      this.carry = bigger;
    }
    const take = Math.min(n - this.carryLen, this.chunk.length - this.pos);
    if (take > 0) {
      this.chunk.copy(this.carry, this.carryLen, this.pos, this.pos + take);
      this.carryLen += take;
      this.pos += take;
    }
    if (this.carryLen < n) return false;
    this.ub = this.carry;
    this.uo = 0;
    return true;
  }

  /** Drops the current unit (n bytes, all made available by ensure(n)). */
  protected consume(n: number): void {
    if (this.carryLen > 0) this.carryLen = 0;
    else this.pos += n;
    this.offset += n;
  }
}

export function le32(b: Buffer, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function be32(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
