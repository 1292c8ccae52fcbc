import { Buffer } from 'node:buffer';

/** The first `cap` bytes of a stream, in a buffer that grows by doubling (no chunk list). */
export class ByteAcc {
  private buf: Buffer | null = null;
  len = 0;

  constructor(private readonly cap: number) {}

  /** Appends src[off, off + n) (cut at the cap). */
  add(src: Buffer, off: number, n: number): void {
    const room = this.cap - this.len;
    if (n > room) n = room;
    if (n <= 0) return;
    let b = this.buf;
    if (b === null || b.length < this.len + n) {
      // ×4 growth: an answer of k bytes is copied about 1⅓ times, not 2.
      const grown = Buffer.allocUnsafe(Math.min(this.cap, Math.max(2048, this.len + n, (b?.length ?? 0) * 4)));
      if (b !== null) b.copy(grown, 0, 0, this.len);
      this.buf = b = grown;
    }
    src.copy(b, this.len, off, off + n);
    this.len += n;
  }

  /** The bytes gathered (handed over: the accumulator is not used afterwards). */
  take(): Buffer {
    return this.buf === null ? Buffer.alloc(0) : this.buf.subarray(0, this.len);
  }
}
