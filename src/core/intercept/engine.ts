import { Buffer } from 'node:buffer';
import {
  buildRecord,
  encodeExtAck,
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
import { ConnOutput, NO_DONE } from './output.js';
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
  /** Records queued on the connections, and their frames written (see output.ts). */
  private readonly out: ConnOutput;

  constructor(
    readonly opts: EngineOptions,
    private readonly sink: InterceptSink,
  ) {
    this.recordSize = recordSizeFor(opts.withPayload);
    this.scratch = Buffer.alloc(this.recordSize);
    this.out = new ConnOutput(this.stats, sink, this.recordSize, opts.connBufferBytes, this.scratch);
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
    return this.out.pending;
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
    if (this.opts.payloadForward > 0) this.out.notePayload(pkt, len);
    this.dispatch(this.scratch, false, nowUs);
    this.out.payLen = 0;
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
        this.out.enqueue(c, rec, nowUs);
        return;
      }
    }
    const synOrRst = ((rec[33] as number) & (TCP_SYN | TCP_RST)) !== 0;
    if (this.singles.length > 0 && !(synOrRst && this.live.length > this.singles.length)) {
      s.hashed++;
      this.out.enqueue(pickOwner(this.singles, clientIp, clientPort), rec, nowUs);
      return;
    }
    if (this.live.length > 0 && !synOrRst) {
      s.hashed++;
      this.out.enqueue(pickOwner(this.live, clientIp, clientPort), rec, nowUs);
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

  /**
   * End of an event-loop turn: flush the frames whose burst is over (no record since the last
   * tick) or that are `holdUs` old. Returns true if frames are still pending (tick again soon).
   */
  onTick(nowUs: number): boolean {
    return this.out.tick(this.live, this.opts.holdUs, nowUs);
  }

  /** Writes every pending frame now (shutdown). */
  flushAll(nowUs: number): void {
    this.out.flushAll(this.live, nowUs);
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
        this.out.flush(c, nowUs); // a tick was missed; never hold a record for long
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
    for (const rec of waiting) this.out.enqueue(c, rec, nowUs);
    this.stats.delayFlushed += waiting.length;
  }

  /**
   * The payload extension's request: grant what the copy range allows and say so first, before
   * any extension record (pending stock records go out ahead of the ACK, in order).
   */
  private extRequest(c: Conn, wanted: number, nowUs: number): void {
    if (c.extGranted >= 0) return;
    c.extGranted = Math.min(wanted >>> 0, this.opts.payloadForward);
    if (c.frame.count > 0) this.out.flush(c, nowUs);
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
