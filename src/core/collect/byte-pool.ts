import { Buffer } from 'node:buffer';

/** The smallest buffer handed out; classes grow ×4 from here up to the cap. */
const MIN_CLASS = 2048;

/**
 * Reusable buffers for the report's answer bytes, in ×4 size classes. Every new Buffer of 4 KiB
 * or more is an ArrayBuffer that V8 counts as external memory until a mark-compact frees it; on a
 * long run at low pace (few scavenges, answers promoted) that count alone kept starting
 * mark-compacts about every 100 ms. Reused buffers are allocated once.
 */
export class BytePool {
  private readonly free: Buffer[][] = [];
  private pooled = 0;

  constructor(
    /** The largest buffer asked for (the per-answer cap). */
    readonly cap: number,
    /** Bytes kept in free lists at most; buffers given back beyond it are left to the GC. */
    readonly maxPooled = 8 << 20,
  ) {}

  /** The size of the class that holds n bytes (never above the cap). */
  classSize(n: number): number {
    let s = MIN_CLASS;
    while (s < n && s < this.cap) s *= 4;
    return Math.min(s, this.cap);
  }

  /** A buffer of at least n bytes (n ≤ cap); its content is undefined. */
  get(n: number): Buffer {
    const size = this.classSize(n);
    const list = this.free[this.index(size)];
    const b = list?.pop();
    if (b !== undefined) {
      this.pooled -= b.length;
      return b;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /** Gives back a buffer from get() (whole, not a slice); nothing may use it afterwards. */
  put(b: Buffer): void {
    if (this.pooled + b.length > this.maxPooled || b.length !== this.classSize(b.length)) return;
    const i = this.index(b.length);
    (this.free[i] ??= []).push(b);
    this.pooled += b.length;
  }

  /** Bytes waiting in the free lists. */
  get pooledBytes(): number {
    return this.pooled;
  }

  private index(size: number): number {
    let i = 0;
    for (let s = MIN_CLASS; s < size; s *= 4) i++;
    return i;
  }
}
