import { Buffer } from 'node:buffer';
import { FRAME_HEADER_SIZE } from './constants.js';

/**
 * One reusable frame buffer. The socket keeps a reference to what it was given until the write
 * completes, so a slot is lent out with the frame and comes back only through `release`, which
 * the channel passes as the write's callback. `release` and the per-count views are made once
 * per slot, so a frame costs no allocation once the pool is warm.
 */
export class FrameSlot {
  readonly buf: Buffer;
  /** views[n]: the first n records' frame (header + n records), made on first use. */
  private readonly views: (Buffer | undefined)[];
  inUse = false;
  /** Write callback: gives the slot back to its pool. Ignores the write's error (the socket is gone). */
  readonly release: () => void;

  constructor(
    private readonly pool: FramePool | null,
    readonly recordSize: number,
    maxRecords: number,
  ) {
    this.buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE + maxRecords * recordSize);
    this.views = new Array<Buffer | undefined>(maxRecords + 1);
    this.release = (): void => {
      if (!this.inUse) return; // a second callback must not free a slot lent out again
      this.inUse = false;
      this.pool?.put(this);
    };
  }

  view(records: number): Buffer {
    let v = this.views[records];
    if (v === undefined) {
      v = this.buf.subarray(0, FRAME_HEADER_SIZE + records * this.recordSize);
      this.views[records] = v;
    }
    return v;
  }
}

/**
 * Free list of frame slots shared by the connections of one engine. Bounded: when every slot is
 * lent out (a stuck copier's socket holds its frames), `get` hands out a one-off slot that is
 * never pooled, so a leak or a slow copier costs allocation, never correctness.
 */
export class FramePool {
  private readonly free: FrameSlot[] = [];
  /** Slots made beyond the pool's bound (each an allocation). */
  overflow = 0;
  private made = 0;

  constructor(
    readonly recordSize: number,
    readonly maxRecords: number,
    readonly maxSlots: number,
  ) {}

  get freeCount(): number {
    return this.free.length;
  }

  get(): FrameSlot {
    let s = this.free.pop();
    if (s === undefined) {
      if (this.made < this.maxSlots) {
        this.made++;
        s = new FrameSlot(this, this.recordSize, this.maxRecords);
      } else {
        this.overflow++;
        s = new FrameSlot(null, this.recordSize, this.maxRecords);
      }
    }
    s.inUse = true;
    return s;
  }

  /** @internal FrameSlot.release */
  put(s: FrameSlot): void {
    this.free.push(s);
  }
}
