import { Buffer } from 'node:buffer';
import { onesSum, pseudoHeaderSum } from '../packet/checksum.js';
import { classifyIpv4 } from '../packet/classify.js';
import { newTcpOptions, parseTcpOptions } from '../packet/options.js';
import { SegmentView } from '../packet/segment.js';
import { seqDiff, seqGeq, seqGt, seqLeq, seqLt } from '../packet/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../packet/tcp.js';
import { PortAllocator } from './port-allocator.js';
import { Prng, hash4 } from './prng.js';
import { Seg } from './segment.js';
import { beginTurn, gate } from './pacing.js';
import { baseRto, currentRto, rttSample } from './rtt.js';
import { NumSlab, OnlineConn, Session, type PendingControl } from './session.js';
import { EngineStats } from './stats.js';
import { TimerHeap } from './timer-heap.js';
import { TupleMap } from './tuple-map.js';
import type { EngineConfig, EngineSink, Outcome, SessionInfo } from './types.js';
import { Sender } from './sender.js';

const LOOPBACK = 0x7f000001;
/** Our window-scale shift in fake SYNs (the real client's is unknown). */
const FAKE_WSCALE = 7;
/** Fixed hash keys: ISNs and TS values must keep rising across runs for the same tuple. */
const ISN_KEY = 0x1f2e3d4c;
const TS_KEY = 0x5a6b7c8d;
/** Reconnects per captured connection before a target that keeps closing wins. */
const MAX_RECONNECTS = 8;

/**
 * The session engine (pure): captured client packets and interceptor records in, packets and
 * session outcomes out through the sink; time only as arguments. See docs/session-engine.md for
 * the stock behaviour this follows and the weaknesses it fixes.
 *
 * Inputs:
 *  - onCaptured(pkt, ipOff, capLen, nowUs, capTsUs): a client→server packet, in capture order,
 *    at the moment the caller's file/live pacing releases it. capTsUs is its capture timestamp
 *    (defaults to nowUs), used for think time.
 *  - onResponse(rec, off, nowUs): one 64/192-byte interceptor record.
 *  - onTimer(nowUs): call at (or after) nextDeadline().
 * nowUs should be a wall-clock time (µs since the epoch): ISNs and TS values derive from it, so
 * they keep rising across runs and a new incarnation beats the target's TIME_WAIT.
 */
export class SessionEngine {
  readonly stats = new EngineStats();
  private readonly byOnline = new TupleMap<OnlineConn>(1024);
  private readonly byTarget = new TupleMap<Session>(1024);
  private readonly heap = new TimerHeap<Session>();
  private readonly ports: PortAllocator;
  private readonly tx: Sender;
  private readonly slab = new NumSlab(1024);
  private readonly view = new SegmentView();
  private readonly opts = newTcpOptions();
  private readonly shiftR: number;
  private readonly ipIdKey: number;
  private lingerFifo: OnlineConn[] = [];
  private lingerHead = 0;
  private interceptorUp = true;
  private firstPacketUs = -1;
  private nextId = 1;
  private bufferedTotal = 0;
  /** IP offset of the captured packet being handled (the views don't expose it). */
  private curIpOff = 0;

  constructor(
    readonly cfg: EngineConfig,
    private readonly sink: EngineSink,
  ) {
    const rng = new Prng(cfg.seed);
    this.shiftR = rng.below(512);
    this.ipIdKey = rng.nextU32();
    this.tx = new Sender(cfg, sink, this.stats);
    this.ports = new PortAllocator((a, b, c, d) => this.byTarget.has(a, b, c, d));
  }

  /** Interceptor connectivity (from the channel). Without one, new sessions don't start unless -L. */
  setInterceptorAvailable(up: boolean): void {
    this.interceptorUp = up;
  }

  /** Earliest time onTimer should run, or Infinity when nothing is scheduled. */
  nextDeadline(): number {
    const top = this.heap.peek();
    return top === undefined ? Infinity : top.deadline;
  }

  get activeSessions(): number {
    return this.stats.activeSessions;
  }

  /** Look up a live or lingering session by its rewritten tuple (tests, reports). */
  sessionFor(clientIp: number, clientPort: number, targetIp: number, targetPort: number): SessionInfo | undefined {
    return this.byTarget.get(clientIp, clientPort, targetIp, targetPort);
  }

  // ───────────────────────────── captured client packets ─────────────────────────────

  onCaptured(pkt: Buffer, ipOff: number, capLen: number, nowUs: number, capTsUs = nowUs): void {
    const st = this.stats;
    st.captured++;
    if (classifyIpv4(pkt, ipOff, capLen) !== 'tcp') {
      st.capturedInvalid++;
      return;
    }
    const v = this.view.wrap(pkt, ipOff);
    this.curIpOff = ipOff;
    const src = v.ip.src;
    const dst = v.ip.dst;
    const tcp = v.tcp;
    const sport = tcp.srcPort;
    const dport = tcp.dstPort;
    const tIdx = this.findTransfer(dst, dport);
    if (tIdx < 0) {
      st.capturedNoTransfer++;
      return;
    }
    const tr = this.cfg.transfers[tIdx];
    if (tr === undefined) return;
    let clientIp = src;
    if (tr.targetIp === LOOPBACK) {
      if (src !== LOOPBACK) {
        st.capturedLocalhostSkipped++;
        return;
      }
    } else if (src === LOOPBACK && this.cfg.localAddress !== 0) {
      clientIp = this.cfg.localAddress;
    }
    if (this.firstPacketUs < 0) this.firstPacketUs = nowUs;
    const flags = tcp.flags;
    const payLen = v.payloadLength;

    let conn = this.byOnline.get(src, sport, dst, dport);
    if (conn !== undefined && conn.lingerUntil >= 0) {
      // Every session of this connection has ended (or it was never started): a new SYN starts
      // a new incarnation, anything else (a retransmitted SYN too) is a leftover of the old one.
      const synAgain = conn.capIsn === tcp.seq && conn.sessions.length === 0;
      if (conn.lingerUntil > nowUs && ((flags & TCP_SYN) === 0 || synAgain)) {
        st.capturedForUnknown++;
        // Still talking: keep ignoring it rather than starting a fake session later.
        conn.lingerUntil = Math.max(conn.lingerUntil, nowUs + this.cfg.lingerUs);
        return;
      }
      this.detach(conn);
      conn = undefined;
    }

    if ((flags & TCP_SYN) !== 0) {
      if ((flags & TCP_ACK) !== 0) {
        st.capturedForUnknown++; // a SYN-ACK in the client direction: not a client connection
        return;
      }
      const seq = tcp.seq;
      if (conn !== undefined) {
        if (conn.capIsn === seq) {
          st.capturedSynRetransmits++;
          return;
        }
        // A new connection on a live tuple: the old sessions finish on their own tuples.
        this.detach(conn);
      }
      st.capturedSyn++;
      conn = new OnlineConn(src, sport, dst, dport, clientIp, tIdx, true, seq);
      if (!this.sampled(src, sport, dst, dport, nowUs)) {
        // Remember the decision for the rest of this connection (SYN retransmissions, -g ramp).
        this.byOnline.set(src, sport, dst, dport, conn);
        this.markIgnored(conn, nowUs);
        this.neverStarted(src, sport, dst, dport, tr.targetIp, tr.targetPort, nowUs, 'sampled-out');
        return;
      }
      conn.synWindow = tcp.window;
      const o = parseTcpOptions(pkt, tcp.optionsOffset, tcp.optionsOffset + tcp.optionsLength, this.opts);
      conn.synMss = o.mss;
      conn.synWscale = o.wscale > 14 ? 14 : o.wscale;
      conn.synSackOk = o.sackOk;
      conn.synTs = o.hasTs;
      this.startConn(conn, nowUs);
      return;
    }

    if (conn === undefined) {
      if (payLen === 0 || (flags & TCP_RST) !== 0) {
        st.capturedForUnknown++;
        return;
      }
      if (this.cfg.onlyFromSyn) {
        st.skippedNoSynPackets++;
        return;
      }
      if (!this.sampled(src, sport, dst, dport, nowUs)) {
        st.sampledOutPackets++;
        return;
      }
      conn = new OnlineConn(src, sport, dst, dport, clientIp, tIdx, false, (tcp.seq - 1) >>> 0);
      // A mid-stream window is in the client's unknown scale: announce the largest unscaled one
      // (later packets say 65535 << FAKE_WSCALE anyway).
      conn.synWindow = 65535;
      const o = parseTcpOptions(pkt, tcp.optionsOffset, tcp.optionsOffset + tcp.optionsLength, this.opts);
      conn.synTs = o.hasTs;
      conn.synWscale = FAKE_WSCALE;
      if (!this.startConn(conn, nowUs)) return;
    }
    this.capture(conn, pkt, flags, payLen, nowUs, capTsUs);
  }

  private findTransfer(dst: number, dport: number): number {
    const t = this.cfg.transfers;
    for (let i = 0; i < t.length; i++) {
      const x = t[i];
      if (x !== undefined && x.onlinePort === dport && (x.onlineIp === null || x.onlineIp === dst)) return i;
    }
    return -1;
  }

  /** -r / -g, per connection, stable for a seed (a hash of the online tuple). */
  private sampled(src: number, sport: number, dst: number, dport: number, nowUs: number): boolean {
    let p = this.cfg.samplePercent;
    if (this.cfg.gradual) p = Math.min(100, Math.floor((nowUs - this.firstPacketUs) / 1e6) + 1);
    if (p >= 100) return true;
    return hash4(src, sport, dst, dport, this.cfg.seed) % 100 < p;
  }

  private detach(conn: OnlineConn): void {
    if (!conn.detached) {
      conn.detached = true;
      if (this.byOnline.get(conn.clientIp, conn.clientPort, conn.serverIp, conn.serverPort) === conn) {
        this.byOnline.delete(conn.clientIp, conn.clientPort, conn.serverIp, conn.serverPort);
      }
    }
  }

  private expireLingering(nowUs: number): void {
    const q = this.lingerFifo;
    while (this.lingerHead < q.length) {
      const c = q[this.lingerHead] as OnlineConn;
      if (c.lingerUntil > nowUs && !c.detached) break;
      this.lingerHead++;
      if (c.lingerUntil >= 0 && c.lingerUntil <= nowUs) this.detach(c);
    }
    if (this.lingerHead > 1024 && this.lingerHead * 2 > q.length) {
      this.lingerFifo = q.slice(this.lingerHead);
      this.lingerHead = 0;
    }
  }

  private neverStarted(
    src: number,
    sport: number,
    dst: number,
    dport: number,
    tip: number,
    tport: number,
    nowUs: number,
    outcome: Outcome,
  ): void {
    const info: SessionInfo = {
      id: this.nextId++,
      onlineClientIp: src,
      onlineClientPort: sport,
      onlineServerIp: dst,
      onlineServerPort: dport,
      clientIp: 0,
      clientPort: 0,
      targetIp: tip,
      targetPort: tport,
      replica: 0,
      fromSyn: false,
      startUs: nowUs,
      endUs: nowUs,
      bytesDelivered: 0,
      responseBytes: 0,
      turns: 0,
      responseWaitsExpired: 0,
      retransmits: 0,
      iss: 0,
    };
    this.stats.countOutcome(outcome);
    this.sink.sessionClosed(info, outcome);
  }

  /** Create the replicas of a new captured connection and send their SYNs. */
  private startConn(conn: OnlineConn, nowUs: number): boolean {
    const cfg = this.cfg;
    const tr = cfg.transfers[conn.transferIdx];
    if (tr === undefined) return false;
    this.byOnline.set(conn.clientIp, conn.clientPort, conn.serverIp, conn.serverPort, conn);
    if (!this.interceptorUp && !cfg.lonely) {
      this.neverStarted(conn.clientIp, conn.clientPort, conn.serverIp, conn.serverPort, tr.targetIp, tr.targetPort, nowUs, 'no-interceptor');
      this.markIgnored(conn, nowUs);
      return false;
    }
    const basePort = this.shiftPort(conn.clientPort);
    for (let r = 0; r < cfg.replicas; r++) {
      const pool = cfg.clientPool;
      const cip =
        pool.length === 0 ? conn.localClientIp : (pool[hash4(conn.localClientIp, r, 0, 0, cfg.seed) % pool.length] as number);
      const preferred = r === 0 ? basePort : wrapPort(basePort + (2 * r - 1) * 32 + this.shiftR);
      const s = this.openSession(conn, r, cip, preferred, conn.capIsn, conn.capNxt, nowUs);
      if (s !== null) {
        if (conn.fromSyn) this.stats.sessionsFromSyn++;
        else this.stats.sessionsWithoutSyn++;
      }
    }
    if (conn.live === 0) {
      this.markIgnored(conn, nowUs);
      return false;
    }
    return true;
  }

  /**
   * Allocate a port, announce the route and send the SYN of one session whose captured stream
   * continues after capIsn. null (with the outcome reported) when it cannot start.
   */
  private openSession(conn: OnlineConn, r: number, cip: number, preferred: number, capIsn: number, capEnd: number, nowUs: number): Session | null {
    const cfg = this.cfg;
    const tr = cfg.transfers[conn.transferIdx];
    if (tr === undefined) return null;
    const port = this.ports.allocate(cip, preferred, tr.targetIp, tr.targetPort, nowUs);
    if (port < 0) {
      this.sink.log?.(`no free port for client ${cip >>> 0} towards target ${tr.targetIp}:${tr.targetPort}`);
      this.neverStarted(conn.clientIp, conn.clientPort, conn.serverIp, conn.serverPort, tr.targetIp, tr.targetPort, nowUs, 'port-exhausted');
      return null;
    }
    if (port !== preferred) this.stats.portReassigned++;
    if (!this.sink.routeAdd(cip, port, tr.targetIp, tr.targetPort) && !cfg.lonely) {
      this.neverStarted(conn.clientIp, conn.clientPort, conn.serverIp, conn.serverPort, tr.targetIp, tr.targetPort, nowUs, 'no-interceptor');
      return null;
    }
    const s = new Session(this.nextId++, conn, r, cip, port, tr.targetIp, tr.targetPort, nowUs, this.slab);
    if (conn.sessions.length === 0) conn.sessions = [s];
    else conn.sessions.push(s);
    conn.live++;
    this.byTarget.set(cip, port, tr.targetIp, tr.targetPort, s);
    this.stats.sessionsStarted++;
    this.stats.activeSessions++;
    s.iss = clockIsn(nowUs, cip, port, tr.targetIp, tr.targetPort);
    s.seqOffset = (s.iss - capIsn) >>> 0;
    s.sndUna = s.iss;
    s.sndNxt = s.iss;
    s.sndMax = s.iss;
    s.capEnd = capEnd;
    s.tsBase = hash4(cip, port, tr.targetIp, tr.targetPort, TS_KEY);
    s.ipId = hash4(cip, port, s.iss, 0, this.ipIdKey) & 0xffff;
    s.ourMss = Math.min(conn.synMss > 0 ? conn.synMss : cfg.mss, cfg.mss);
    s.lastServerAt = nowUs;
    s.rto = baseRto(s, this.cfg);
    this.tx.sendSyn(s, nowUs);
    this.reschedule(s, nowUs);
    return s;
  }

  /**
   * The target closed (FIN or RST) while captured requests remain: carry them on in a new
   * session (new port, fake handshake) from the first byte the target did not acknowledge —
   * only at a request boundary, so the target never sees a request cut in half. The stock
   * copier reconnects the same way. Returns false when that is not possible.
   */
  private tryReconnect(s: Session, nowUs: number): boolean {
    if (s.reconnects >= MAX_RECONNECTS || s.finSent || s.rst !== null || s.phase !== 'established') return false;
    const resume = (s.sndUna - s.seqOffset) >>> 0;
    if (resume === s.capEnd) return false;
    const items = s.items;
    let i = s.head;
    while (i < items.length && seqLeq((items[i] as Seg).end, resume)) i++;
    const it = items[i];
    if (it === undefined || it.seq !== resume) return false;
    if (!(seqGt(it.origAck, s.turnAck) || (s.turnInit && resume === s.turnStartCap))) return false;
    const n = this.openSession(s.conn, s.replica, s.clientIp, s.clientPort, (resume - 1) >>> 0, s.capEnd, nowUs);
    if (n === null) return false;
    n.items = items.slice(i);
    for (const x of n.items) n.buffered += x.len;
    this.bufferedTotal += n.buffered;
    n.fin = s.fin;
    n.rst = s.rst;
    // The response this request waited for came on the old connection: it may go at once.
    n.turnInit = true;
    n.turnAck = it.origAck;
    n.reconnects = s.reconnects + 1;
    this.stats.reconnects++;
    return true;
  }

  /** A connection that could not start: its later packets are ignored while it keeps talking. */
  private markIgnored(conn: OnlineConn, nowUs: number): void {
    conn.lingerUntil = nowUs + this.cfg.lingerUs;
    this.lingerFifo.push(conn);
  }

  private shiftPort(port: number): number {
    if (this.cfg.portShift === 0) return port;
    return wrapPort(port + this.cfg.portShift * 2048 + this.shiftR);
  }

  /** Feed one captured packet of a known connection: order it, then hand it to the replicas. */
  private capture(conn: OnlineConn, pkt: Buffer, flags: number, payLen: number, nowUs: number, capTsUs: number): void {
    const tcp = this.view.tcp;
    const seq = tcp.seq;
    const ack = tcp.ack;
    const hasAck = (flags & TCP_ACK) !== 0;
    if (hasAck && !conn.hasBase) {
      conn.base = ack;
      conn.hasBase = true;
    }
    // Think time: only a gap after which the client had no more response than before is
    // "thinking"; if response bytes arrived in between, the gap was (partly) a response wait.
    let think = 0;
    if (conn.hasLast && hasAck && seqGeq(conn.lastCapAck, ack)) think = Math.max(0, capTsUs - conn.lastCapTs);

    if (payLen > 0) this.captureData(conn, pkt, seq, payLen, ack, think, nowUs);
    else if ((flags & (TCP_FIN | TCP_RST)) === 0) this.stats.capturedPureAcks++;

    if ((flags & TCP_FIN) !== 0 && conn.fin === null) {
      conn.fin = { seq: (seq + payLen) >>> 0, origAck: ack, thinkUs: think };
      this.deliverFinIfReady(conn, nowUs);
    }
    if ((flags & TCP_RST) !== 0) {
      const rst: PendingControl = { seq, origAck: ack, thinkUs: think };
      const count = conn.sessions.length;
      for (let k = 0; k < count; k++) {
        const s = conn.sessions[k] as Session;
        if (s.phase === 'closed' || s.rst !== null) continue;
        s.rst = rst;
        this.pump(s, nowUs);
        this.reschedule(s, nowUs);
      }
    }
    conn.lastCapTs = capTsUs;
    if (hasAck) conn.lastCapAck = ack;
    conn.hasLast = true;
    if (conn.gapSinceUs >= 0 && nowUs - conn.gapSinceUs > this.cfg.captureGapUs) {
      for (const s of conn.sessions) if (s.phase !== 'closed') this.finish(s, 'capture-gap', nowUs, true);
    }
  }

  private captureData(conn: OnlineConn, pkt: Buffer, seq: number, payLen: number, ack: number, think: number, nowUs: number): void {
    const st = this.stats;
    const end = (seq + payLen) >>> 0;
    if (seqLeq(end, conn.capNxt)) {
      st.clientRetransmitsSkipped++;
      return;
    }
    const v = this.view;
    const off = v.payloadOffset;
    const tos = v.ip.tos;
    if (seqGt(seq, conn.capNxt)) {
      // Capture gap: keep it aside until the missing bytes show up (a captured retransmission).
      st.captureGaps++;
      const copy = Buffer.from(pkt.subarray(off, off + payLen));
      const sg = new Seg(seq, payLen, copy, onesSum(copy, 0, payLen), ack, think, tos);
      if (conn.ooo.length === 0) conn.ooo = [];
      insertSorted(conn.ooo, sg);
      if (conn.gapSinceUs < 0) {
        conn.gapSinceUs = nowUs;
        for (const s of conn.sessions) {
          if (s.phase === 'closed') continue;
          s.gapAt = nowUs + this.cfg.captureGapUs;
          this.reschedule(s, nowUs);
        }
      }
      return;
    }
    const trim = seqDiff(conn.capNxt, seq);
    let sg: Seg;
    if (trim === 0) {
      const copy = Buffer.allocUnsafe(payLen);
      pkt.copy(copy, 0, off, off + payLen);
      let psum: number;
      if (this.cfg.checksum === 'incremental' && conn.capturedCsumValid !== 0) {
        // Valid captured checksum ⇒ pseudo + header + payload ≡ 0, so the payload's sum is the
        // complement of the other two: O(header) instead of O(payload).
        const ipOff = this.curIpOff;
        const tcpOff = ipOff + v.ip.headerLength;
        const tcpLen = v.ip.totalLength - v.ip.headerLength;
        const ph = onesSum(pkt, tcpOff, v.tcp.headerLength, pseudoHeaderSum(pkt, ipOff, tcpLen));
        psum = ~ph & 0xffff;
        if (conn.capturedCsumValid < 0) {
          // First data of the connection: check once that the capture's checksums are real
          // (captures of locally sent packets carry offload placeholders); if not, re-sum.
          const full = onesSum(copy, 0, payLen);
          conn.capturedCsumValid = full % 0xffff === psum % 0xffff ? 1 : 0;
          if (conn.capturedCsumValid === 0) {
            this.stats.capturedBadChecksumConns++;
            psum = full;
          }
        }
      } else {
        psum = onesSum(copy, 0, payLen);
      }
      sg = new Seg(seq, payLen, copy, psum, ack, think, tos);
    } else {
      const copy = Buffer.from(pkt.subarray(off + trim, off + payLen));
      sg = new Seg(conn.capNxt, payLen - trim, copy, onesSum(copy, 0, copy.length), ack, think, tos);
    }
    this.deliver(conn, sg, nowUs);
    // Drain captured segments that now continue the stream.
    while (conn.ooo.length > 0) {
      const o = conn.ooo[0] as Seg;
      if (seqGt(o.seq, conn.capNxt)) break;
      conn.ooo.shift();
      if (seqLeq(o.end, conn.capNxt)) continue;
      const t = seqDiff(conn.capNxt, o.seq);
      if (t === 0) this.deliver(conn, o, nowUs);
      else {
        const c = o.payload.subarray(t);
        this.deliver(conn, new Seg(conn.capNxt, c.length, c, onesSum(c, 0, c.length), o.origAck, o.thinkUs, o.tos), nowUs);
      }
    }
    if (conn.ooo.length === 0 && conn.gapSinceUs >= 0) {
      conn.gapSinceUs = -1;
      for (const s of conn.sessions) s.gapAt = Infinity;
    }
    this.deliverFinIfReady(conn, nowUs);
  }

  private deliver(conn: OnlineConn, sg: Seg, nowUs: number): void {
    conn.capNxt = sg.end;
    const cfg = this.cfg;
    // Only the sessions that exist now: a reconnect below appends one that already has sg.
    const count = conn.sessions.length;
    for (let k = 0; k < count; k++) {
      const s = conn.sessions[k] as Session;
      if (s.phase === 'closed' || s.fin !== null || s.rst !== null) continue;
      // A one-element literal, not [] + push (whose first push reserves 17 slots): most
      // sessions buffer one request at a time.
      if (s.items.length === 0) s.items = [sg];
      else s.items.push(sg);
      s.capEnd = sg.end;
      s.buffered += sg.len;
      this.bufferedTotal += sg.len;
      this.stats.bufferedBytes = this.bufferedTotal;
      if (s.buffered > cfg.sessionBufferCap || this.bufferedTotal > cfg.totalBufferCap) {
        this.stats.bufferDrops++;
        this.sink.log?.(
          `session ${s.id}: ${s.buffered} bytes buffered (session cap ${cfg.sessionBufferCap}, total ${this.bufferedTotal} of ${cfg.totalBufferCap}); dropped`,
        );
        this.finish(s, 'buffer-overflow', nowUs, true);
        continue;
      }
      this.pump(s, nowUs);
      this.reschedule(s, nowUs);
    }
  }

  private deliverFinIfReady(conn: OnlineConn, nowUs: number): void {
    const fin = conn.fin;
    if (fin === null || fin.seq !== conn.capNxt) return;
    const count = conn.sessions.length;
    for (let k = 0; k < count; k++) {
      const s = conn.sessions[k] as Session;
      if (s.phase === 'closed' || s.fin !== null) continue;
      s.fin = fin;
      this.pump(s, nowUs);
      this.reschedule(s, nowUs);
    }
  }

  // ───────────────────────────── interceptor records ─────────────────────────────

  /**
   * One response record at rec[off]: IPv4 header at +0, TCP header at +20 even when the IHL
   * says more (a stock interceptor leaves IHL > 5 but copies only 20 bytes), options clamped
   * to the record (recLen 64, or 192 for the payload variant).
   */
  onResponse(rec: Buffer, off: number, nowUs: number, recLen = 64): void {
    const st = this.stats;
    st.responses++;
    const lim = Math.min(rec.length, off + recLen);
    if (lim - off < 40) {
      st.responsesMalformed++;
      return;
    }
    const ihl = ((rec[off] as number) & 0x0f) << 2;
    const totalLength = rec.readUInt16BE(off + 2);
    const src = rec.readUInt32BE(off + 12);
    const dst = rec.readUInt32BE(off + 16);
    const t = off + 20;
    const sport = rec.readUInt16BE(t);
    const dport = rec.readUInt16BE(t + 2);
    const seq = rec.readUInt32BE(t + 4);
    const ack = rec.readUInt32BE(t + 8);
    const doff = ((rec[t + 12] as number) >>> 4) << 2;
    const flags = rec[t + 13] as number;
    const window = rec.readUInt16BE(t + 14);
    let payLen = totalLength - (ihl < 20 ? 20 : ihl) - doff;
    if (doff < 20 || payLen < 0) {
      st.responsesMalformed++;
      payLen = 0;
      if (doff < 20) return;
    }
    const s = this.byTarget.get(dst, dport, src, sport);
    if (s === undefined) {
      st.responsesUnmatched++;
      return;
    }
    const optEnd = Math.min(t + doff, lim, t + 20 + (recLen > 64 ? 152 : 24));
    const o = parseTcpOptions(rec, t + 20, optEnd, this.opts);
    if (payLen > 0) {
      st.responsesWithData++;
      st.responseBytes += payLen;
    }
    if ((flags & TCP_FIN) !== 0) st.responseFins++;
    if ((flags & TCP_RST) !== 0) st.responseRsts++;
    s.lastServerAt = nowUs;
    if (s.phase === 'closed') {
      if ((flags & TCP_RST) !== 0) return;
      // Lingering after a reset of ours: the target missed it, so reset again (RFC 9293).
      if (s.resetSent) this.tx.sendRst(s, ack, false, nowUs);
      // After a clean close: ACK a retransmitted FIN or data so the target can finish.
      else if ((payLen > 0 || (flags & TCP_FIN) !== 0) && s.establishedAt >= 0) this.tx.sendAck(s, nowUs);
      return;
    }
    if (s.phase === 'synSent') this.onSynSentRecord(s, flags, seq, ack, window, nowUs);
    else this.onEstablishedRecord(s, flags, seq, ack, window, payLen, o.hasTs, o.tsVal, nowUs);
    if (!closed(s)) this.reschedule(s, nowUs);
  }

  private onSynSentRecord(s: Session, flags: number, seq: number, ack: number, window: number, nowUs: number): void {
    const o = this.opts;
    const synAck = TCP_SYN | TCP_ACK;
    if ((flags & synAck) === synAck) {
      if (ack !== ((s.iss + 1) >>> 0)) {
        this.tx.sendRst(s, ack, false, 0);
        return;
      }
      const conn = s.conn;
      s.irs = seq;
      s.rcvNxt = (seq + 1) >>> 0;
      s.rcvAcked = s.rcvNxt;
      s.sndUna = (s.iss + 1) >>> 0;
      s.sndNxt = s.sndUna;
      s.sndMax = s.sndUna;
      if (o.mss > 0) s.serverMss = o.mss;
      s.wscaleOk = o.wscale >= 0 && conn.synWscale >= 0;
      s.sndWscale = s.wscaleOk ? Math.min(o.wscale, 14) : 0;
      s.sndWnd = window; // never scaled in a SYN-ACK
      s.tsOk = o.hasTs && conn.synTs;
      if (o.hasTs) s.tsRecent = o.tsVal;
      if (s.retries === 0 && this.cfg.fixedRttUs === 0) rttSample(s, this.cfg, nowUs - s.synSentAt);
      s.retries = 0;
      s.backoff = 0;
      s.rto = baseRto(s, this.cfg);
      s.rtoAt = Infinity;
      s.phase = 'established';
      s.establishedAt = nowUs;
      s.lastRespAt = nowUs;
      this.stats.connectionsEstablished++;
      this.tx.sendAck(s, nowUs);
      this.pump(s, nowUs);
      return;
    }
    if ((flags & TCP_RST) !== 0) {
      if ((flags & TCP_ACK) !== 0 && ack === ((s.iss + 1) >>> 0)) this.finish(s, 'reset-by-target', nowUs, false);
      return;
    }
    if ((flags & TCP_ACK) !== 0) {
      // Not for our SYN: a stale connection on this tuple (or TIME_WAIT's challenge ACK). Reset
      // it as RFC 9293 says, then try the SYN again at once.
      this.stats.staleResponsesReset++;
      this.tx.sendRst(s, ack, false, 0);
      if (s.staleResets++ < 3) {
        this.tx.sendSyn(s, nowUs);
        this.stats.synRetransmits++;
      }
    }
  }

  private onEstablishedRecord(
    s: Session,
    flags: number,
    seq: number,
    ack: number,
    window: number,
    payLen: number,
    hasTs: boolean,
    tsVal: number,
    nowUs: number,
  ): void {
    const st = this.stats;
    if ((flags & TCP_SYN) !== 0) {
      // A repeated SYN-ACK: our handshake ACK was lost.
      if ((flags & TCP_ACK) !== 0 && seq === s.irs) this.tx.sendAck(s, nowUs);
      return;
    }
    if ((flags & TCP_RST) !== 0) {
      if (!seqInWindow(seq, s.rcvNxt)) return;
      const delivered = s.sndUna === s.sndMax && s.sendIdx >= s.items.length && (s.fin === null ? false : s.finSent);
      if (!delivered && this.tryReconnect(s, nowUs)) this.finish(s, 'reconnected', nowUs, false);
      else this.finish(s, delivered ? 'completed' : 'reset-by-target', nowUs, false);
      return;
    }
    if (hasTs && seqGeq(tsVal, s.tsRecent)) s.tsRecent = tsVal;

    // Acknowledgement of our data.
    if ((flags & TCP_ACK) !== 0) {
      const prevWnd = s.sndWnd;
      s.sndWnd = window << s.sndWscale;
      if (seqGt(ack, s.sndUna) && seqLeq(ack, s.sndMax)) {
        this.onAckAdvance(s, ack, nowUs);
      } else if (
        ack === s.sndUna &&
        payLen === 0 &&
        (flags & TCP_FIN) === 0 &&
        s.sndUna !== s.sndMax &&
        s.sndWnd === prevWnd
      ) {
        if (++s.dupAcks === 3 && !s.inRecovery) {
          st.fastRetransmits++;
          s.inRecovery = true;
          s.recover = s.sndMax;
          this.tx.retransmitOne(s, nowUs);
          s.rtoAt = nowUs + currentRto(s, this.cfg);
        }
      }
    }

    // Response data and FIN (payload itself is not carried; only how much there was).
    let ackNow = false;
    const segEnd = (seq + payLen) >>> 0;
    // Only records with data or FIN may move rcvNxt. A jump past rcvNxt means a record was lost
    // and the target did send those bytes. A pure ACK whose seq is ahead does not tell whether
    // the gap was data or the target's FIN, so it moves nothing: the target retransmits what
    // our ACKs do not cover, and a lost FIN is seen again instead of being acked unseen.
    if ((payLen > 0 || (flags & TCP_FIN) !== 0) && seqGt(segEnd, s.rcvNxt) && !s.serverFin) {
      s.respBytes += seqDiff(segEnd, s.rcvNxt);
      s.rcvNxt = segEnd;
      if (payLen > 0) {
        s.lastRespAt = nowUs;
        s.respPush = (flags & TCP_PSH) !== 0;
        if ((flags & TCP_PSH) !== 0 || seqDiff(s.rcvNxt, s.rcvAcked) >= 2 * s.ourMss) ackNow = true;
        else if (s.delAckAt === Infinity) s.delAckAt = nowUs + this.cfg.delayedAckUs;
      }
    } else if (payLen > 0) {
      ackNow = true; // duplicate data: the target did not see our ACK
    }
    if ((flags & TCP_FIN) !== 0) {
      // segEnd may be behind rcvNxt when a lost FIN record made a later ACK's seq jump past it.
      if (!s.serverFin && seqLeq(segEnd, s.rcvNxt)) {
        if (segEnd === s.rcvNxt) s.rcvNxt = (s.rcvNxt + 1) >>> 0;
        s.serverFin = true;
        s.targetClosedFirst = !s.finSent;
        s.lastRespAt = nowUs;
        s.respPush = true;
      }
      ackNow = true;
    }
    if (ackNow) this.tx.sendAck(s, nowUs);
    if (s.finAcked && s.serverFin) {
      this.finish(s, 'completed', nowUs, false);
      return;
    }
    // The target closed first with captured requests still to come: continue them on a new
    // connection and reset this one (which also spares the target a TIME_WAIT).
    if (s.serverFin && (flags & TCP_FIN) !== 0 && this.tryReconnect(s, nowUs)) {
      this.finish(s, 'reconnected', nowUs, true);
      return;
    }
    this.pump(s, nowUs);
  }

  private onAckAdvance(s: Session, ack: number, nowUs: number): void {
    s.sndUna = ack;
    const off = s.seqOffset;
    // Release acknowledged captured bytes.
    const items = s.items;
    while (s.head < items.length) {
      const it = items[s.head] as Seg;
      if (seqGt((it.end + off) >>> 0, ack)) break;
      s.bytesDelivered += it.len;
      s.buffered -= it.len;
      this.bufferedTotal -= it.len;
      items[s.head] = undefined as unknown as Seg;
      if (s.gatedItem === it) s.gatedItem = null; // acked: it can never be at the send point again
      s.head++;
    }
    if (s.sendIdx < s.head) s.sendIdx = s.head;
    if (s.head === items.length) {
      // Everything sent was acknowledged: drop the array (idle sessions hold no buffer).
      s.dropItems();
    } else if (s.head > 32 && s.head * 2 > items.length) {
      s.items = items.slice(s.head);
      s.sendIdx -= s.head;
      s.head = 0;
    }
    this.stats.bufferedBytes = this.bufferedTotal;
    if (s.finSent && ack === s.sndMax) s.finAcked = true;
    if (s.rttSentAt >= 0 && seqGeq(ack, s.rttSeq)) {
      if (this.cfg.fixedRttUs === 0) rttSample(s, this.cfg, nowUs - s.rttSentAt);
      s.rttSentAt = -1;
    }
    s.retries = 0;
    s.backoff = 0;
    s.dupAcks = 0;
    if (s.inRecovery) {
      if (seqLt(ack, s.recover)) this.tx.retransmitOne(s, nowUs);
      else s.inRecovery = false;
    }
    s.rtoAt = s.sndUna === s.sndMax ? Infinity : nowUs + currentRto(s, this.cfg);
  }

  // ───────────────────────────── sending ─────────────────────────────

  /**
   * Send whatever the capture, the response pacing and the target's window allow, in capture
   * order. Holds (think time, bounded response waits) set holdAt.
   */
  private pump(s: Session, nowUs: number): void {
    if (s.phase !== 'established') return;
    const off = s.seqOffset;
    for (let guard = 0; guard < 100000; guard++) {
      const capPos = (s.sndNxt - off) >>> 0;
      if (capPos !== s.capEnd) {
        if (s.sendIdx < s.head) s.sendIdx = s.head;
        let it = s.items[s.sendIdx];
        while (it !== undefined && seqLeq(it.end, capPos)) it = s.items[++s.sendIdx];
        if (it === undefined) return;
        if (capPos === it.seq && s.gatedItem !== it) {
          const wait = gate(s, this.cfg, this.stats, it.origAck, it.thinkUs, nowUs);
          if (wait !== 0) {
            s.holdAt = wait;
            return;
          }
          // The target already closed: a new request would only be reset. Open a new connection.
          if (s.serverFin && this.tryReconnect(s, nowUs)) {
            this.finish(s, 'reconnected', nowUs, true);
            return;
          }
          s.gatedItem = it;
          beginTurn(s, this.stats, it.origAck, it.seq);
        }
        const inFlight = seqDiff(s.sndNxt, s.sndUna);
        const room = s.sndWnd - inFlight;
        if (room <= 0) {
          // Zero window with nothing in flight: the RTO timer doubles as the persist timer.
          if (inFlight === 0 && s.rtoAt === Infinity) s.rtoAt = nowUs + currentRto(s, this.cfg);
          return;
        }
        const n = Math.min(seqDiff(it.end, capPos), this.tx.pieceMax(s), room);
        this.tx.sendData(s, it, seqDiff(capPos, it.seq), n, nowUs);
        continue;
      }
      if (s.fin !== null && !s.finSent && s.rst === null) {
        const wait = gate(s, this.cfg, this.stats, s.fin.origAck, s.fin.thinkUs, nowUs);
        if (wait !== 0) {
          s.holdAt = wait;
          return;
        }
        beginTurn(s, this.stats, s.fin.origAck, s.capEnd);
        s.finSent = true;
        this.tx.emit(s, TCP_FIN | TCP_ACK, s.sndNxt, null, 0, 0, 0, 0, nowUs);
        this.stats.finsSent++;
        s.sndNxt = (s.sndNxt + 1) >>> 0;
        s.sndMax = s.sndNxt;
        if (s.rtoAt === Infinity) s.rtoAt = nowUs + currentRto(s, this.cfg);
        return;
      }
      if (s.rst !== null) {
        const wait = gate(s, this.cfg, this.stats, s.rst.origAck, s.rst.thinkUs, nowUs);
        if (wait !== 0) {
          s.holdAt = wait;
          return;
        }
        if (s.sndUna !== s.sndNxt) return; // let the data land first
        this.tx.sendRst(s, s.sndNxt, true, nowUs);
        s.resetSent = true;
        this.finish(s, 'reset-as-captured', nowUs, false);
      }
      return;
    }
  }

  // ───────────────────────────── timers ─────────────────────────────

  onTimer(nowUs: number): void {
    this.ports.expire(nowUs);
    this.expireLingering(nowUs);
    for (let guard = 0; guard < 10_000_000; guard++) {
      const s = this.heap.peek();
      if (s === undefined || s.deadline > nowUs) break;
      this.fire(s, nowUs);
    }
    this.stats.timeWaitTuples = this.ports.timeWaitCount;
  }

  private fire(s: Session, nowUs: number): void {
    if (s.phase === 'closed') {
      this.heap.remove(s);
      this.retire(s);
      return;
    }
    if (s.delAckAt <= nowUs) this.tx.sendAck(s, nowUs);
    if (s.rtoAt <= nowUs) this.onRto(s, nowUs);
    if (closed(s)) return;
    if (s.holdAt <= nowUs) {
      s.holdAt = Infinity;
      this.pump(s, nowUs);
      if (closed(s)) return;
    }
    if (s.gapAt <= nowUs) {
      s.gapAt = Infinity;
      if (s.conn.gapSinceUs >= 0) {
        this.finish(s, 'capture-gap', nowUs, true);
        return;
      }
    }
    if (s.idleAt <= nowUs) {
      let outcome: Outcome = 'idle-timeout';
      if (s.phase === 'synSent') outcome = 'timeout-synack';
      else if (s.sndUna !== s.sndMax) outcome = 'timeout-ack';
      else if (s.waitingResponse) outcome = 'timeout-response';
      this.finish(s, outcome, nowUs, true);
      return;
    }
    this.reschedule(s, nowUs);
  }

  private onRto(s: Session, nowUs: number): void {
    const cfg = this.cfg;
    s.rtoAt = Infinity;
    if (s.phase === 'synSent') {
      if (s.retries >= cfg.synRetries) {
        this.finish(s, 'timeout-synack', nowUs, false);
        return;
      }
      s.retries++;
      s.backoff++;
      this.stats.synRetransmits++;
      this.tx.sendSyn(s, nowUs);
      return;
    }
    if (s.sndUna !== s.sndMax) {
      if (s.retries >= cfg.dataRetries) {
        this.finish(s, 'timeout-ack', nowUs, true);
        return;
      }
      s.retries++;
      s.backoff++;
      s.inRecovery = true;
      s.recover = s.sndMax;
      s.dupAcks = 0;
      this.tx.retransmitOne(s, nowUs);
      s.rtoAt = nowUs + currentRto(s, this.cfg);
      return;
    }
    // Nothing in flight: a persist probe if the window is shut and data waits.
    const capPos = (s.sndNxt - s.seqOffset) >>> 0;
    if (s.sndWnd <= 0 && capPos !== s.capEnd && s.gatedItem !== null) {
      if (s.sendIdx < s.head) s.sendIdx = s.head;
      const it = s.items[s.sendIdx];
      if (it !== undefined && seqGt(it.end, capPos) && (capPos !== it.seq || s.gatedItem === it)) {
        this.stats.persistProbes++;
        this.tx.sendData(s, it, seqDiff(capPos, it.seq), 1, nowUs);
        s.backoff = Math.min(s.backoff + 1, 16);
        s.rtoAt = nowUs + currentRto(s, this.cfg);
      }
    }
  }

  private reschedule(s: Session, nowUs: number): void {
    if (s.phase === 'closed') return;
    const pending =
      s.phase === 'synSent' ||
      s.sndUna !== s.sndMax ||
      ((s.sndNxt - s.seqOffset) >>> 0) !== s.capEnd ||
      (s.fin !== null && !s.finAcked) ||
      s.rst !== null;
    s.idleAt = s.lastServerAt + (pending ? this.cfg.sessionTimeoutUs : this.cfg.keepaliveTimeoutUs);
    let d = s.rtoAt;
    if (s.delAckAt < d) d = s.delAckAt;
    if (s.holdAt < d) d = s.holdAt;
    if (s.gapAt < d) d = s.gapAt;
    if (s.idleAt < d) d = s.idleAt;
    if (d < nowUs) d = nowUs;
    if (d !== s.deadline || (s.heapIndex < 0 && d !== Infinity)) this.heap.update(s, d);
  }

  // ───────────────────────────── ending ─────────────────────────────

  /** Report the outcome, release buffers, and linger (tuple kept, stray packets ACKed). */
  private finish(s: Session, outcome: Outcome, nowUs: number, sendRst: boolean): void {
    if (s.phase === 'closed') return;
    if (sendRst) {
      this.tx.sendRst(s, s.sndMax, s.phase === 'established', nowUs);
      s.resetSent = true;
    }
    s.phase = 'closed';
    s.endUs = nowUs;
    this.bufferedTotal -= s.buffered;
    this.stats.bufferedBytes = this.bufferedTotal;
    s.dropItems();
    s.rtoAt = s.delAckAt = s.holdAt = s.gapAt = s.idleAt = Infinity;
    // Only a target that closed first (and got our FIN) holds the tuple in TIME_WAIT.
    if (!(outcome === 'completed' && s.targetClosedFirst)) s.targetClosedFirst = false;
    s.lingerUntil = nowUs + this.cfg.lingerUs;
    this.heap.update(s, s.lingerUntil);
    this.stats.activeSessions--;
    this.stats.lingeringSessions++;
    this.stats.countOutcome(outcome);
    const conn = s.conn;
    if (--conn.live === 0) {
      conn.lingerUntil = nowUs + this.cfg.lingerUs;
      this.lingerFifo.push(conn);
    }
    this.sink.sessionClosed(s, outcome);
  }

  /** End of linger: free the tuple (into TIME_WAIT if the target holds it). */
  private retire(s: Session): void {
    this.stats.lingeringSessions--;
    if (this.byTarget.get(s.clientIp, s.clientPort, s.targetIp, s.targetPort) === s) {
      this.byTarget.delete(s.clientIp, s.clientPort, s.targetIp, s.targetPort);
    }
    if (s.targetClosedFirst) {
      this.ports.addTimeWait(s.clientIp, s.clientPort, s.targetIp, s.targetPort, s.endUs + this.cfg.timeWaitUs);
    }
    this.stats.timeWaitTuples = this.ports.timeWaitCount;
    this.sink.routeDel(s.clientIp, s.clientPort, s.targetIp, s.targetPort);
    s.release();
  }

  /** End every live session now (e.g. at the end of an offline replay), with `outcome`. */
  closeAll(nowUs: number, outcome: Outcome = 'idle-timeout'): void {
    const live: Session[] = [];
    this.byTarget.forEach((s) => {
      if (s.phase !== 'closed') live.push(s);
    });
    for (const s of live) this.finish(s, outcome, nowUs, true);
  }
}

/**
 * Clock-driven ISN (RFC 6528 shape: 4 µs ticks plus a per-tuple hash with a fixed key), so the
 * ISN of a tuple keeps rising across sessions and runs and a new incarnation is accepted by a
 * target still holding the old one in TIME_WAIT.
 */
export function clockIsn(nowUs: number, cip: number, cport: number, tip: number, tport: number): number {
  return (Math.floor(nowUs / 4) + hash4(cip, cport, tip, tport, ISN_KEY)) >>> 0;
}

/** Phase check that TypeScript does not narrow (methods called in between change it). */
function closed(s: Session): boolean {
  return s.phase === 'closed';
}

function wrapPort(p: number): number {
  return p >= 65536 ? 1024 + ((p - 65536) % 64512) : p;
}

/** A target RST is acceptable if its seq is at our rcvNxt or within a window past it. */
function seqInWindow(seq: number, rcvNxt: number): boolean {
  const d = seqDiff(seq, rcvNxt);
  return d >= -1 && d < 1 << 30;
}

function insertSorted(list: Seg[], sg: Seg): void {
  let i = list.length;
  while (i > 0 && seqGt((list[i - 1] as Seg).seq, sg.seq)) i--;
  list.splice(i, 0, sg);
}
