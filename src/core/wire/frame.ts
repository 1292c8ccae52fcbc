import { Buffer } from 'node:buffer';
import { copyBytes } from './bytes.js';
import { FRAME_HEADER_SIZE } from './constants.js';
import { EXT_FRAME_MARKER, EXT_HEADER_SIZE, EXT_MAX_BODY } from './extension.js';
import type { FramePool, FrameSlot } from './frame-pool.js';

/*
 * Combined frame (docs/wire-protocol.md §4), interceptor → copier:
 *
 *   off  size
 *    0    2    count, u16 big-endian (stock: 1..16; 1..6 in the payload variant)
 *    2   n*R   count records of R bytes (64, or 192 in the payload variant), in arrival order
 */

/** Write callback of a frame that was not lent from a pool (nothing to give back). */
const NO_RELEASE = (): void => undefined;
/** Nothing buffered (shared; zero length, so nothing can be written into it). */
const EMPTY = Buffer.alloc(0);

/**
 * Builds one frame in place: records are written straight into the frame buffer, so a record
 * is copied once (packet → frame) and the frame is handed to the socket without another copy.
 * With a pool, frame buffers (and their views) are reused: `take()` lends the buffer out and
 * `takenRelease` is the callback that gives it back once the socket is done with it. Without
 * one, a fresh buffer is allocated per frame (the socket keeps the one it was given).
 */
export class FrameBuilder {
  private buf: Buffer | null = null;
  private slot: FrameSlot | null = null;
  private n = 0;
  /** Callback for the frame last returned by `take()`: call it when its bytes are no longer used. */
  takenRelease: () => void = NO_RELEASE;

  constructor(
    readonly recordSize: number,
    readonly maxRecords: number,
    private readonly pool: FramePool | null = null,
  ) {}

  /** Records in the frame being built. */
  get count(): number {
    return this.n;
  }

  /** Bytes the frame would take if taken now. */
  get byteLength(): number {
    return this.n === 0 ? 0 : FRAME_HEADER_SIZE + this.n * this.recordSize;
  }

  /** Buffer to write the next record into, at `slotOffset()`. Call `commit()` once it is written. */
  slotBuffer(): Buffer {
    if (this.buf === null) {
      if (this.pool !== null) {
        this.slot = this.pool.get();
        this.buf = this.slot.buf;
      } else this.buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE + this.maxRecords * this.recordSize);
    }
    return this.buf;
  }

  slotOffset(): number {
    return FRAME_HEADER_SIZE + this.n * this.recordSize;
  }

  /** Accepts the record written at the slot; returns true when the frame is now full. */
  commit(): boolean {
    this.n++;
    return this.n >= this.maxRecords;
  }

  /** Appends a finished record (copying it). Returns true when the frame is now full. */
  append(record: Buffer, off = 0): boolean {
    const b = this.slotBuffer();
    copyBytes(record, off, b, this.slotOffset(), this.recordSize);
    return this.commit();
  }

  /**
   * Finishes the frame: writes the count and returns the bytes; null when empty. The bytes stay
   * valid until `takenRelease` (as it is now) is called; until then the buffer is not reused.
   */
  take(): Buffer | null {
    if (this.n === 0 || this.buf === null) return null;
    const b = this.buf;
    b.writeUInt16BE(this.n, 0);
    const slot = this.slot;
    const frame = slot !== null ? slot.view(this.n) : b.subarray(0, FRAME_HEADER_SIZE + this.n * this.recordSize);
    this.takenRelease = slot !== null ? slot.release : NO_RELEASE;
    this.buf = null;
    this.slot = null;
    this.n = 0;
    return frame;
  }

  /** Throws away the records of the frame being built (its pooled buffer goes back). */
  discard(): number {
    const dropped = this.n;
    this.n = 0;
    if (this.slot !== null) {
      this.slot.release();
      this.slot = null;
      this.buf = null;
    }
    return dropped;
  }
}

/** Encodes whole records (each `recordSize` bytes) as one frame. For tests and simple senders. */
export function encodeFrame(records: readonly Buffer[], recordSize: number): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_SIZE + records.length * recordSize);
  out.writeUInt16BE(records.length, 0);
  records.forEach((r, i) => r.copy(out, FRAME_HEADER_SIZE + i * recordSize, 0, recordSize));
  return out;
}

export type FrameResult = 'need-more' | 'record' | 'bad-count' | 'ext';

/**
 * Split-safe decoder for the interceptor → copier stream (copier side). Accepts any chunking.
 *
 *   dec.feed(chunk);
 *   for (let r = dec.next(); r === 'record'; r = dec.next()) use(dec.record, dec.recordOff);
 *
 * A record lying whole inside a chunk is returned as a view into that chunk (no copy); one split
 * across chunks is assembled in an internal buffer. Either view is valid until the next call.
 * 'bad-count' (count above `maxRecords`) is sticky: stock copiers close the connection then.
 * With `combined = false` the stream is bare records with no count (`--disable-combined`).
 * With `extensions` (a copier that asked for the payload extension, docs/wire-extension.md) a
 * count of 0xffff opens an extension frame instead: 'ext' returns its kind in `extKind` and its
 * body as `record[recordOff, recordOff + extLen)`. Only the error path looks for it, so plain
 * frames cost nothing more.
 */
export class FrameDecoder {
  record: Buffer;
  recordOff = 0;
  /** Frames whose count has been read (count 0 frames included). */
  frames = 0;
  private readonly assembly: Buffer;
  private readonly countBuf = Buffer.alloc(FRAME_HEADER_SIZE);
  private countLen = 0;
  private partLen = 0;
  private remaining = 0; // records still due in the current frame
  private chunk: Buffer = EMPTY;
  private pos = 0;
  private broken = false;
  /** The count that made the stream invalid, for the log. */
  badCount = -1;
  /** The last extension frame: kind and body length (body at record/recordOff). */
  extKind = 0;
  extLen = 0;
  /** 0: not in an extension frame; 1: reading its header; 2: reading its body. */
  private extState = 0;
  private readonly extHdr = Buffer.alloc(EXT_HEADER_SIZE - FRAME_HEADER_SIZE);
  private extBody: Buffer = Buffer.alloc(0);

  constructor(
    readonly recordSize: number,
    readonly maxRecords: number,
    readonly combined = true,
    readonly extensions = false,
  ) {
    this.assembly = Buffer.alloc(recordSize);
    this.record = this.assembly;
  }

  /** Bytes received but not yet returned as records. */
  get bufferedBytes(): number {
    return this.countLen + this.partLen + (this.chunk.length - this.pos);
  }

  /** Bytes chunk[0, n) follow (n: all of it by default). */
  feed(chunk: Buffer, n = chunk.length): void {
    if (n < chunk.length) chunk = chunk.subarray(0, n);
    if (this.pos < this.chunk.length) chunk = Buffer.concat([this.chunk.subarray(this.pos), chunk]);
    this.chunk = chunk;
    this.pos = 0;
  }

  /**
   * The caller is about to reuse the fed buffer: copies what next() has not consumed (nothing once
   * it returned 'need-more': partial records and frames are already copied aside).
   */
  detach(): void {
    this.chunk = this.pos < this.chunk.length ? Buffer.from(this.chunk.subarray(this.pos)) : EMPTY;
    this.pos = 0;
  }

  next(): FrameResult {
    if (this.broken) return 'bad-count';
    for (;;) {
      if (this.extState !== 0) return this.readExt();
      if (this.remaining === 0 && this.combined) {
        const r = this.readCount();
        if (r !== 'record') return r;
        continue;
      }
      const avail = this.chunk.length - this.pos;
      const size = this.recordSize;
      if (this.partLen === 0 && avail >= size) {
        this.record = this.chunk;
        this.recordOff = this.pos;
        this.pos += size;
        if (this.combined) this.remaining--;
        return 'record';
      }
      const take = Math.min(size - this.partLen, avail);
      this.chunk.copy(this.assembly, this.partLen, this.pos, this.pos + take);
      this.partLen += take;
      this.pos += take;
      if (this.partLen < size) return 'need-more';
      this.partLen = 0;
      this.record = this.assembly;
      this.recordOff = 0;
      if (this.combined) this.remaining--;
      return 'record';
    }
  }

  /** Reads the next count; returns 'record' to mean "count read, records may follow". */
  private readCount(): FrameResult {
    let count: number;
    const avail = this.chunk.length - this.pos;
    if (this.countLen === 0 && avail >= FRAME_HEADER_SIZE) {
      count = this.chunk.readUInt16BE(this.pos);
      this.pos += FRAME_HEADER_SIZE;
    } else {
      const take = Math.min(FRAME_HEADER_SIZE - this.countLen, avail);
      this.chunk.copy(this.countBuf, this.countLen, this.pos, this.pos + take);
      this.countLen += take;
      this.pos += take;
      if (this.countLen < FRAME_HEADER_SIZE) return 'need-more';
      this.countLen = 0;
      count = this.countBuf.readUInt16BE(0);
    }
    this.frames++;
    if (count === EXT_FRAME_MARKER && this.extensions) {
      this.extState = 1;
      this.partLen = 0;
      return 'record';
    }
    if (count > this.maxRecords) {
      this.broken = true;
      this.badCount = count;
      return 'bad-count';
    }
    this.remaining = count;
    return 'record';
  }

  /** The rest of an extension frame: 6 header bytes (kind, flags, length), then the body. */
  private readExt(): FrameResult {
    const avail = this.chunk.length - this.pos;
    if (this.extState === 1) {
      const need = this.extHdr.length;
      const take = Math.min(need - this.partLen, avail);
      this.chunk.copy(this.extHdr, this.partLen, this.pos, this.pos + take);
      this.partLen += take;
      this.pos += take;
      if (this.partLen < need) return 'need-more';
      this.partLen = 0;
      this.extKind = this.extHdr[0] as number;
      this.extLen = this.extHdr.readUInt32BE(2);
      if (this.extLen > EXT_MAX_BODY) {
        this.broken = true;
        this.badCount = EXT_FRAME_MARKER;
        return 'bad-count';
      }
      this.extState = 2;
      return this.readExt();
    }
    const len = this.extLen;
    if (this.partLen === 0 && this.chunk.length - this.pos >= len) {
      this.record = this.chunk;
      this.recordOff = this.pos;
      this.pos += len;
      this.extState = 0;
      return 'ext';
    }
    if (this.extBody.length < len) this.extBody = Buffer.allocUnsafe(Math.max(len, 2 * this.extBody.length));
    const take = Math.min(len - this.partLen, avail);
    this.chunk.copy(this.extBody, this.partLen, this.pos, this.pos + take);
    this.partLen += take;
    this.pos += take;
    if (this.partLen < len) return 'need-more';
    this.partLen = 0;
    this.record = this.extBody;
    this.recordOff = 0;
    this.extState = 0;
    return 'ext';
  }
}
