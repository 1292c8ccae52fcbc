import { Buffer } from 'node:buffer';
import { copyBytes } from '../wire/bytes.js';
import type { BytePool } from './byte-pool.js';

const EMPTY = Buffer.alloc(0);
/** Up to this many bytes a word loop beats Buffer#copy's view allocation. */
const SMALL_COPY = 512;

/** The first `cap` bytes of a stream, in one buffer that grows ×4 (no chunk list). */
export class ByteAcc {
  private buf: Buffer | null = null;
  len = 0;

  constructor(
    private readonly cap: number,
    /** Where buffers come from and go back to (release()); null: plain allocations. */
    private readonly pool: BytePool | null = null,
  ) {}

  /** Appends src[off, off + n) (cut at the cap). */
  add(src: Buffer, off: number, n: number): void {
    const room = this.cap - this.len;
    if (n > room) n = room;
    if (n <= 0) return;
    let b = this.buf;
    if (b === null || b.length < this.len + n) {
      // ×4 growth: an answer of k bytes is copied about 1⅓ times, not 2.
      const want = Math.min(this.cap, Math.max(2048, this.len + n, (b?.length ?? 0) * 4));
      const grown = this.pool !== null ? this.pool.get(want) : Buffer.allocUnsafe(want);
      if (b !== null) {
        b.copy(grown, 0, 0, this.len);
        this.pool?.put(b);
      }
      this.buf = b = grown;
    }
    // Buffer#copy makes a view object per call: small pieces (requests, headers) go by hand.
    if (n <= SMALL_COPY) copyBytes(src, off, b, this.len, n);
    else src.copy(b, this.len, off, off + n);
    this.len += n;
  }

  /** The bytes gathered (a view: valid until release()). */
  take(): Buffer {
    return this.buf === null ? EMPTY : this.buf.subarray(0, this.len);
  }

  /** Gives the buffer back to the pool: views from take() must no longer be used. */
  release(): void {
    if (this.buf !== null && this.pool !== null) this.pool.put(this.buf);
    this.buf = null;
    this.len = 0;
  }
}
