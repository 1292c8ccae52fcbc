import { Buffer } from 'node:buffer';

/** Payloads larger than this get a buffer of their own (a chunk would fit only a few). */
const LARGE = 4096;

/**
 * Where captured payloads are kept until the target acknowledges them: bump-allocated into
 * shared chunks, so a data segment costs a memcpy and no Buffer object of its own. A chunk is
 * freed by the GC once no segment points into it (like Node's own 8 KiB pool behind small
 * Buffer.allocUnsafe slices, with the same bounded pinning: segments live for a round trip or a
 * response wait).
 */
export class PayloadArena {
  private chunk: Buffer;
  private used = 0;
  /** Offset of the bytes the last copy() placed. */
  lastOffset = 0;

  constructor(private readonly chunkSize = 16384) {
    this.chunk = Buffer.allocUnsafe(chunkSize);
  }

  /** Copies src[start, start + len) and returns the buffer now holding it (at lastOffset). */
  copy(src: Buffer, start: number, len: number): Buffer {
    if (len > LARGE) {
      const own = Buffer.allocUnsafe(len);
      src.copy(own, 0, start, start + len);
      this.lastOffset = 0;
      return own;
    }
    if (this.used + len > this.chunkSize) {
      this.chunk = Buffer.allocUnsafe(this.chunkSize);
      this.used = 0;
    }
    src.copy(this.chunk, this.used, start, start + len);
    this.lastOffset = this.used;
    this.used += len;
    return this.chunk;
  }
}
