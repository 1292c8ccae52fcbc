import { Buffer } from 'node:buffer';
import {
  buildRecord,
  encodeExtAck,
  FRAME_HEADER_SIZE,
  FramePool,
  INTERNAL_VERSION,
  newChannelMessage,
  newRecordInfo,
  recordSizeFor,
  type ChannelMessage,
  type RecordInfo,
} from '../wire/index.js';
import type { LogLevel } from '../log-level.js';
import { Conn, sameCopier } from './conn.js';
import { DelayTable } from './delay.js';
import { pickOwner } from './hash.js';
import { cidrContains, type EngineOptions } from './options.js';
import { RouteTable } from './routes.js';
import { InterceptStats } from './stats.js';
import { VERDICT_ACCEPT, VERDICT_DROP, type InterceptSink, type Verdict } from './sink.js';

export { VERDICT_ACCEPT, VERDICT_DROP, type InterceptSink, type Verdict } from './sink.js';

/** Pooled frame buffers (~1 KiB each): plenty for the frames in flight on healthy copiers. */
const FRAME_POOL_SLOTS = 256;

const TCP_SYN = 0x02;
/** Extension frames pending on a connection are written once they reach this many bytes. */
const EXT_FLUSH_BYTES = 64 * 1024;
/** Write callback of the extension's own buffers (not pooled: nothing to give back). */
const NO_DONE = (): void => undefined;
const TCP_RST = 0x04;

/**
 * The interceptor's logic, with no I/O: packets in (with a verdict out), copier bytes in,
 * frames/closes/log lines out through the sink. Time is passed in (µs, any monotonic origin).
 *
 * Routing of a response (its record):
 *  1. an exact route from a CLIENT_ADD → that connection;
 *  2. otherwise, if route-unaware copiers (never sent CLIENT_ADD: stock single mode) are
 *     connected → one of them, by a stable hash of the exact client address — except a SYN/RST
 *     while some copier announces routes: a new copier's connections look route-unaware until
 *     its first CLIENT_ADD lands, so its early SYN-ACKs (or another copier's) would be hashed
 *     to the wrong copier; they wait for their CLIENT_ADD instead (step 3). (A stock --single
 *     copier sharing an interceptor with route-announcing copiers is not a supported mix.)
 *  3. otherwise, a SYN/RST (a SYN-ACK may overtake its CLIENT_ADD) waits in the delay table, and
 *     anything else goes to a live connection by the same hash;
 *  4. no copier has said hello yet but one is connecting → held in the delay table and delivered
 *     on its hello (if younger than the 3 s group window);
 *  5. no connection at all → discarded (counted). The packet is dropped in every case.
 * A connection joins the copier set only once its hello is read.
 *
 * Batching: records accumulate per connection and are flushed when the frame is full, or at
 * the first tick (`onTick`, run by the app right after the event loop's I/O phase) that saw no
 * new record for that connection — i.e. when the queue momentarily ran dry — or after `holdUs`
 * of continuous arrivals. An isolated response is thus written in the same or next loop
 * iteration, while a burst shares frames.
 */
export class InterceptEngine {
  readonly stats = new InterceptStats();
  private readonly conns = new Map<number, Conn>();
  private live: Conn[] = [];
  private singles: Conn[] = [];
  private readonly routes: RouteTable;
  private readonly delay: DelayTable;
  private readonly recordSize: number;
  private readonly scratch: Buffer;
  /** Frame buffers shared by all connections, lent to the socket until its write completes. */
  private readonly framePool: FramePool;
  private readonly info: RecordInfo = newRecordInfo();
  private readonly msg: ChannelMessage = newChannelMessage();
  private readonly passSet: Set<number>;
  private groupStartUs = 0;
  private pending = false;
  /**
   * The payload of the packet being dispatched (onPacket), for copiers that asked for it with
   * the extension; payLen 0 outside onPacket (delayed records carry no payload).
   */
  private payPkt: Buffer = Buffer.alloc(0);
  private payOff = 0;
  private payLen = 0;

  constructor(
    readonly opts: EngineOptions,
    private readonly sink: InterceptSink,
  ) {
    this.recordSize = recordSizeFor(opts.withPayload);
    this.scratch = Buffer.alloc(this.recordSize);
    this.framePool = new FramePool(this.recordSize, opts.maxFrameRecords, FRAME_POOL_SLOTS);
    this.passSet = new Set(opts.passList.map((ip) => ip >>> 0));
    this.routes = new RouteTable(opts.maxRoutes, opts.routeIdleUs);
    this.delay = new DelayTable(opts.delayMaxRecords, opts.delayLifetimeUs);
  }

  /** Live copier connections, in accept order. */
  get connectionIds(): number[] {
    return this.live.map((c) => c.id);
  }

  get routeCount(): number {
    return this.routes.size;
  }

  get delayedCount(): number {
    return this.delay.size;
  }

  /** True when some frame is waiting for a tick. */
  get hasPending(): boolean {
    return this.pending;
  }

  // ---- NFQUEUE side ---------------------------------------------------------------------------

  /** One queued packet (the IPv4 datagram, `len` bytes copied). Never throws on bad input. */
  onPacket(pkt: Buffer, len: number, nowUs: number): Verdict {
    const s = this.stats;
    s.queued++;
    if (len > pkt.length) len = pkt.length;
    if (this.passSet.size > 0 && len >= 20 && (pkt[0] as number) >> 4 === 4 && this.passSet.has(pkt.readUInt32BE(16))) {
      s.passed++;
      return VERDICT_ACCEPT;
    }
    const info = this.info;
    const res = buildRecord(pkt, len, this.scratch, 0, this.opts.withPayload, info);
    if (res !== 'ok') {
      if (res === 'not-ipv4' || res === 'not-tcp') {
        // Not a TCP response at all: the rule queued more than it should. Not ours to drop.
        s.foreign++;
        return VERDICT_ACCEPT;
      }
      // A truncated or malformed TCP/IPv4 packet from the service: nothing to forward, but it
      // must not reach the fake client either.
      s.invalid++;
      s.dropped++;
      return VERDICT_DROP;
    }
    s.dropped++;
    s.responseBytes += info.payloadLength;
    const d = this.opts.docker;
    if (d !== null && info.clientIp === d.from) {
      this.scratch.writeUInt32BE(d.to, 16);
      info.clientIp = d.to;
    }
    if (this.opts.payloadForward > 0) this.notePayload(pkt, len);
    this.dispatch(this.scratch, false, nowUs);
    this.payLen = 0;
    return VERDICT_DROP;
  }

  /**
   * Routes one record. Fields are read from the record itself (IHL is always 5 there), so the
   * same path serves fresh records (`owned` false: the scratch buffer, copied if kept) and
   * records coming out of the delay table (`owned` true).
   */
  private dispatch(rec: Buffer, owned: boolean, nowUs: number): void {
    const s = this.stats;
    const clientIp = rec.readUInt32BE(16);
    const clientPort = rec.readUInt16BE(22);
    if (this.routes.size > 0) {
      const id = this.routes.lookup(clientIp, clientPort, rec.readUInt32BE(12), rec.readUInt16BE(20), nowUs);
      const c = id >= 0 ? this.conns.get(id) : undefined;
      if (c !== undefined) {
        s.routed++;
        this.enqueue(c, rec, nowUs);
        return;
      }
    }
    const synOrRst = ((rec[33] as number) & (TCP_SYN | TCP_RST)) !== 0;
    if (this.singles.length > 0 && !(synOrRst && this.live.length > this.singles.length)) {
      s.hashed++;
      this.enqueue(pickOwner(this.singles, clientIp, clientPort), rec, nowUs);
      return;
    }
    if (this.live.length > 0 && !synOrRst) {
      s.hashed++;
      this.enqueue(pickOwner(this.live, clientIp, clientPort), rec, nowUs);
      return;
    }
    // Only route-aware copiers and a SYN/RST: its CLIENT_ADD is probably still in flight. Or no
    // copier has said hello yet but one is connecting (start-up, copier restart): hold the
    // record until the hello instead of losing the session's first answer.
    if ((this.live.length > 0 && synOrRst) || (this.live.length === 0 && this.conns.size > 0)) {
      const copy = owned ? rec : Buffer.from(rec);
      if (this.delay.put(clientIp, clientPort, rec.readUInt32BE(12), rec.readUInt16BE(20), copy, nowUs)) s.delayed++;
      else s.delayOverflow++;
      return;
    }
    s.discarded++;
  }

  /** Where the queued packet's TCP payload lies (as much of it as the copy range brought). */
  private notePayload(pkt: Buffer, len: number): void {
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
    if (c.backlog + c.frame.byteLength + c.ext.bytes + size + n + 8 > this.opts.connBufferBytes) {
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
    if (c.backlog + c.ext.bytes + size + FRAME_HEADER_SIZE > this.opts.connBufferBytes) {
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

  private enqueue(c: Conn, record: Buffer, nowUs: number): void {
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
    if (c.backlog + c.frame.byteLength + size + 2 > this.opts.connBufferBytes) {
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

  private flush(c: Conn, nowUs: number): void {
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
    if (c.backlog > this.opts.connBufferBytes && c.overSinceUs < 0) c.overSinceUs = nowUs;
  }

  /**
   * End of an event-loop turn: flush the frames whose burst is over (no record since the last
   * tick) or that are `holdUs` old. Returns true if frames are still pending (tick again soon).
   */
  onTick(nowUs: number): boolean {
    let pending = false;
    for (const c of this.live) {
      if (c.frame.count === 0 && c.ext.bytes === 0) continue;
      if (c.added === 0 || nowUs - c.firstUs >= this.opts.holdUs) this.flush(c, nowUs);
      else pending = true;
      c.added = 0;
    }
    this.pending = pending;
    return pending;
  }

  /** Writes every pending frame now (shutdown). */
  flushAll(nowUs: number): void {
    for (const c of this.live) this.flush(c, nowUs);
    this.pending = false;
  }

  /** Periodic housekeeping (about once a second): delay expiry, idle routes, stuck copiers. */
  onTimer(nowUs: number): void {
    const s = this.stats;
    s.delayExpired += this.delay.expire(nowUs);
    if (this.routes.size > 0) {
      this.routes.sweep(nowUs, 4096);
      s.routes = this.routes.size;
    }
    if (this.conns.size > this.live.length) {
      for (const c of [...this.conns.values()]) {
        if (c.decoder.helloSeen || nowUs - c.acceptedUs < this.opts.helloTimeoutUs) continue;
        const reason =
          `no complete hello within ${(this.opts.helloTimeoutUs / 1e6).toFixed(0)} s ` +
          `(${c.decoder.partialBytes} of 14 bytes): not a copier, or a half-open connection`;
        this.forget(c, reason, 'warn');
        this.sink.close(c.id, reason);
      }
    }
    for (const c of [...this.live]) {
      if (c.overSinceUs >= 0 && nowUs - c.overSinceUs >= this.opts.stuckUs) {
        const reason =
          `copier not reading: ${c.backlog} bytes queued for ${((nowUs - c.overSinceUs) / 1e6).toFixed(1)} s, ` +
          `${c.dropped} records dropped`;
        this.forget(c, reason, 'warn');
        this.sink.close(c.id, reason);
      } else if ((c.frame.count > 0 || c.ext.bytes > 0) && nowUs - c.firstUs >= this.opts.holdUs) {
        this.flush(c, nowUs); // a tick was missed; never hold a record for long
      }
    }
  }

  // ---- copier side ----------------------------------------------------------------------------

  /**
   * A copier connected from `peerIp` (u32; -1 if not IPv4). Returns false if it must be
   * refused (the app closes it; the engine keeps no state for it).
   */
  onConnect(id: number, peerIp: number, peer: string, nowUs: number): boolean {
    const s = this.stats;
    const o = this.opts;
    let refusal: string | null = null;
    if (o.allow.length > 0 && !(peerIp >= 0 && o.allow.some((c) => cidrContains(c, peerIp >>> 0)))) {
      refusal = 'not in --allow';
    } else if (this.conns.size >= o.maxConnections) {
      refusal = `already ${this.conns.size} copier connections`;
    } else if (o.protect && this.live.length > 0 && nowUs - this.groupStartUs > o.groupWindowUs) {
      refusal = '-c: another copier is connected';
    }
    if (refusal !== null) {
      s.connsRefused++;
      this.sink.log('warn', `refused copier connection from ${peer}: ${refusal}`);
      return false;
    }
    if (this.live.length === 0) this.groupStartUs = nowUs;
    const c = new Conn(id, peer, peerIp, this.framePool, nowUs);
    this.conns.set(id, c);
    s.connsAccepted++;
    this.sink.log('info', `connection ${id} from ${peer} accepted, waiting for its hello`);
    return true;
  }

  /**
   * A connection becomes a copier link (eligible for records) once its hello is read: a TCP
   * health check or port scan that never says hello never swallows a session's records. A stock
   * copier sends the hello right after connecting, long before its first SYN.
   */
  private join(c: Conn, version: number, nowUs: number): void {
    this.live.push(c);
    // A further connection of a copier that already announced routes is route-aware too: one
    // that has not carried a CLIENT_ADD yet must not take other copiers' unrouted SYN-ACKs.
    if (this.live.some((x) => x.routing && sameCopier(x, c))) c.routing = true;
    else this.singles.push(c);
    this.stats.connsLive = this.live.length;
    this.sink.log('info', `copier connected from ${c.peer} (connection ${c.id}, channel version ${version}, ${this.live.length} live)`);
    if (this.live.length === 1 && this.delay.size > 0) {
      // The first copier link after a time without any: deliver what was held while it was
      // connecting. Older records (a connection that never said hello) are dropped: they may
      // belong to an earlier run of a copier that reuses the same client addresses.
      const expired = [0];
      const held = this.delay.takeAll(nowUs, this.opts.groupWindowUs, expired);
      this.stats.delayExpired += expired[0] ?? 0;
      this.stats.delayFlushed += held.length;
      for (const rec of held) this.dispatch(rec, true, nowUs);
    }
  }

  /** Bytes from a copier. A bad message closes that connection (through the sink). */
  onData(id: number, chunk: Buffer, nowUs: number): void {
    const c = this.conns.get(id);
    if (c === undefined) return;
    const m = this.msg;
    c.decoder.feed(chunk);
    for (;;) {
      const r = c.decoder.next(m);
      switch (r) {
        case 'need-more':
          return;
        case 'hello':
          if (m.type !== INTERNAL_VERSION) {
            this.sink.log('warn', `copier ${c.peer} speaks channel version ${m.type}, expected ${INTERNAL_VERSION}; continuing`);
          }
          this.join(c, m.type, nowUs);
          break;
        case 'client-add':
          this.clientAdd(c, m, nowUs);
          break;
        case 'client-del':
          this.clientDel(c, m);
          break;
        case 'ext-request':
          this.extRequest(c, m.targetIp, nowUs);
          break;
        default: {
          this.stats.badMessages++;
          const reason =
            r === 'bad-hello'
              ? 'bad hello (non-zero client fields: pre-version copier or not a copier)'
              : r === 'bad-address'
                ? `route message with zero client address (type ${m.type})`
                : `unknown message type ${m.type}`;
          this.forget(c, reason, 'warn');
          this.sink.close(c.id, reason);
          return;
        }
      }
    }
  }

  private clientAdd(c: Conn, m: ChannelMessage, nowUs: number): void {
    this.stats.clientAdd++;
    this.routes.add(m.cltIp, m.cltPort, m.targetIp, m.targetPort, c.id, nowUs);
    this.stats.routes = this.routes.size;
    if (!c.routing) {
      // The copier's other connections are route-aware from now on as well (see join()).
      for (const x of this.live) if (sameCopier(x, c)) x.routing = true;
      c.routing = true;
      this.singles = this.singles.filter((x) => !x.routing);
    }
    if (this.delay.size === 0) return;
    const waiting = this.delay.take(m.cltIp, m.cltPort, m.targetIp, m.targetPort);
    if (waiting === null) return;
    for (const rec of waiting) this.enqueue(c, rec, nowUs);
    this.stats.delayFlushed += waiting.length;
  }

  /**
   * The payload extension's request: grant what the copy range allows and say so first, before
   * any extension record (pending stock records go out ahead of the ACK, in order).
   */
  private extRequest(c: Conn, wanted: number, nowUs: number): void {
    if (c.extGranted >= 0) return;
    c.extGranted = Math.min(wanted >>> 0, this.opts.payloadForward);
    if (c.frame.count > 0) this.flush(c, nowUs);
    c.backlog = this.sink.write(c.id, encodeExtAck(c.extGranted), NO_DONE);
    this.sink.log('info', `copier ${c.peer} (connection ${c.id}) asked for response payloads: granted ${c.extGranted} bytes per packet`);
  }

  /**
   * A copier withdraws a route. It may come on any of that copier's connections (it spreads its
   * messages over them), never on another copier's.
   */
  private clientDel(c: Conn, m: ChannelMessage): void {
    this.stats.clientDel++;
    const owner = this.routes.owner(m.cltIp, m.cltPort, m.targetIp, m.targetPort);
    if (owner < 0) return;
    const oc = this.conns.get(owner);
    if (oc !== undefined && !sameCopier(oc, c)) return;
    this.routes.delete(m.cltIp, m.cltPort, m.targetIp, m.targetPort, owner);
    this.stats.routes = this.routes.size;
  }

  /** The copier's socket reported drain: its queue is empty again. */
  onDrain(id: number): void {
    const c = this.conns.get(id);
    if (c === undefined) return;
    c.backlog = 0;
    c.overSinceUs = -1;
  }

  /** The connection is gone (EOF, error, or closed by us). Idempotent. */
  onClosed(id: number, reason: string): void {
    const c = this.conns.get(id);
    if (c === undefined) return;
    let why = reason;
    if (!c.decoder.helloSeen) why = `${reason}; closed before a complete hello (${c.decoder.partialBytes} of 14 bytes)`;
    else if (c.decoder.partialBytes > 0) why = `${reason}; ${c.decoder.partialBytes} bytes of an incomplete message`;
    this.forget(c, why, 'info');
  }

  private forget(c: Conn, reason: string, level: LogLevel): void {
    if (!this.conns.delete(c.id)) return;
    this.live = this.live.filter((x) => x !== c);
    this.singles = this.singles.filter((x) => x !== c);
    const s = this.stats;
    s.lostOnClose += c.frame.discard() + c.ext.records;
    const routes = this.routes.size > 0 ? this.routes.removeConn(c.id) : 0;
    s.routes = this.routes.size;
    s.connsClosed++;
    s.connsLive = this.live.length;
    this.sink.log(level, `copier connection ${c.id} from ${c.peer} closed: ${reason} (${routes} routes dropped, ${this.live.length} live)`);
  }
}
