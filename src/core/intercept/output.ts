import { Buffer } from 'node:buffer';
import { FRAME_HEADER_SIZE } from '../wire/index.js';
import type { Conn } from './conn.js';
import type { InterceptSink } from './sink.js';
import type { InterceptStats } from './stats.js';

/** Extension frames pending on a connection are written once they reach this many bytes. */
const EXT_FLUSH_BYTES = 64 * 1024;
/** Write callback of the extension's own buffers (not pooled: nothing to give back). */
export const NO_DONE = (): void => undefined;

/**
 * The output side of the interceptor: records queued per copier connection (combined frames,
 * or extension frames for copiers that asked for payloads), bounded by the connection's buffer,
 * and written through the sink. The engine decides where a record goes; this decides how.
 */
export class ConnOutput {
  /** A record was queued since the last tick (the engine ticks again soon). */
  pending = false;
  /**
   * The payload of the packet being dispatched (InterceptEngine.onPacket), for copiers that asked
   * for it with the extension; payLen 0 outside onPacket (delayed records carry no payload).
   */
  payPkt: Buffer = Buffer.alloc(0);
  payOff = 0;
  payLen = 0;

  constructor(
    private readonly stats: InterceptStats,
    private readonly sink: InterceptSink,
    private readonly recordSize: number,
    private readonly connBufferBytes: number,
    /** The engine's record of the packet being dispatched (only that one has a payload here). */
    private readonly scratch: Buffer,
  ) {}

  /** Where the queued packet's TCP payload lies (as much of it as the copy range brought). */
  notePayload(pkt: Buffer, len: number): void {
    const ihl = ((pkt[0] as number) & 0x0f) << 2;
    const off = ihl + (((pkt[ihl + 12] as number) >> 4) << 2);
    const end = Math.min(len, pkt.readUInt16BE(2));
    this.payPkt = pkt;
    this.payOff = off;
    this.payLen = end > off ? end - off : 0;
  }

  /**
   * A copier that asked for payloads gets a response packet with data as one RECORD+PAYLOAD
   * extension frame. Its frames are batched like combined frames (written at the end of the
   * burst, or at EXT_FLUSH_BYTES), in arrival order: records that come while extension frames are
   * pending queue behind them as one-record combined frames.
   */
  private enqueueExt(c: Conn, record: Buffer, nowUs: number): void {
    const n = Math.min(this.payLen, c.extGranted);
    const size = this.recordSize;
    if (c.backlog + c.frame.byteLength + c.ext.bytes + size + n + 8 > this.connBufferBytes) {
      this.overBound(c, nowUs);
      return;
    }
    if (c.ext.bytes === 0 && c.frame.count === 0) c.firstUs = nowUs;
    if (c.frame.count > 0) {
      // Order: the combined frame being built is older than this record.
      const k = c.frame.count;
      const f = c.frame.take();
      if (f !== null) {
        c.ext.appendFrame(f, k);
        this.added(c);
      }
      c.frame.takenRelease();
    }
    c.ext.appendRecordPayload(record, size, this.payPkt, this.payOff, n);
    this.added(c);
    if (c.ext.bytes >= EXT_FLUSH_BYTES) this.flush(c, nowUs);
  }

  /** A record without payload while extension frames are pending: a one-record combined frame behind them. */
  private enqueueBehindExt(c: Conn, record: Buffer, nowUs: number): void {
    const size = this.recordSize;
    if (c.backlog + c.ext.bytes + size + FRAME_HEADER_SIZE > this.connBufferBytes) {
      this.overBound(c, nowUs);
      return;
    }
    c.ext.appendRecord(record, size);
    this.added(c);
  }

  private added(c: Conn): void {
    c.added++;
    this.pending = true;
  }

  private overBound(c: Conn, nowUs: number): void {
    this.stats.backpressureDrops++;
    c.dropped++;
    if (c.overSinceUs < 0) c.overSinceUs = nowUs;
  }

  enqueue(c: Conn, record: Buffer, nowUs: number): void {
    if (c.extGranted > 0) {
      if (this.payLen > 0 && record === this.scratch) {
        this.enqueueExt(c, record, nowUs);
        return;
      }
      if (c.ext.bytes > 0) {
        this.enqueueBehindExt(c, record, nowUs);
        return;
      }
    }
    const size = this.recordSize;
    if (c.backlog + c.frame.byteLength + size + 2 > this.connBufferBytes) {
      this.overBound(c, nowUs);
      return;
    }
    if (c.frame.append(record, 0)) {
      this.flush(c, nowUs);
      return;
    }
    if (c.frame.count === 1) c.firstUs = nowUs;
    c.added++;
    this.pending = true;
  }

  flush(c: Conn, nowUs: number): void {
    if (c.ext.bytes > 0) {
      // The combined-frame builder is empty while extension frames are pending (see enqueue).
      // The socket keeps this buffer until it is sent: the next burst gets a new one.
      this.stats.frames += c.ext.frames;
      this.stats.records += c.ext.records;
      const out = c.ext.take() as Buffer;
      c.backlog = this.sink.write(c.id, out, NO_DONE);
    } else {
      const n = c.frame.count;
      const f = c.frame.take();
      if (f === null) return;
      c.backlog = this.sink.write(c.id, f, c.frame.takenRelease);
      this.stats.frames++;
      this.stats.records += n;
    }
    if (c.backlog > this.connBufferBytes && c.overSinceUs < 0) c.overSinceUs = nowUs;
  }

  /** A tick (see InterceptEngine.onTick) over the live connections; true if frames are still pending. */
  tick(live: readonly Conn[], holdUs: number, nowUs: number): boolean {
    let pending = false;
    for (const c of live) {
      if (c.frame.count === 0 && c.ext.bytes === 0) continue;
      if (c.added === 0 || nowUs - c.firstUs >= holdUs) this.flush(c, nowUs);
      else pending = true;
      c.added = 0;
    }
    this.pending = pending;
    return pending;
  }

  flushAll(live: readonly Conn[], nowUs: number): void {
    for (const c of live) this.flush(c, nowUs);
    this.pending = false;
  }
}
