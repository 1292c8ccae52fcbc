import { Buffer } from 'node:buffer';
import {
  SegmentView,
  classifyIpv4,
  newTcpOptions,
  parseTcpOptions,
  seqDiff,
  seqGt,
  seqGeq,
  seqLeq,
  seqLt,
  verifyIpv4Checksum,
  verifyTcpChecksum,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  type OptionSpec,
} from '../../src/core/packet/index.js';
import { buildSegment } from '../helpers/packet/build.js';
import type { World } from './world.js';

/**
 * A small model of a server's TCP (the test server's kernel) for the simulation: it accepts a
 * SYN, answers SYN-ACK with a chosen ISN and options, checks every packet like a kernel would
 * (checksums, window, PAWS, TIME_WAIT acceptance), delivers in-order bytes to a scripted
 * application, ACKs cumulatively, sends responses limited by the peer's window, retransmits on
 * its own RTO, and closes or resets when the application says so.
 */

export type TcpState = 'synRcvd' | 'established' | 'closeWait' | 'lastAck' | 'finWait1' | 'finWait2' | 'closing' | 'timeWait' | 'closed';

export interface AppHandler {
  onAccept?(c: TargetConn): void;
  onData?(c: TargetConn, data: Buffer): void;
  onPeerFin?(c: TargetConn): void;
}

export interface TargetOptions {
  ip: number;
  port: number;
  /** ISN for each new connection (default: a counter with a big stride). */
  isn?: () => number;
  mss?: number;
  /** -1 = don't offer window scaling. */
  wscale?: number;
  /** Receive window in bytes (the app reads at once, so it is constant). */
  rcvWindow?: number;
  ts?: boolean;
  sack?: boolean;
  rtoUs?: number;
  timeWaitUs?: number;
  /** Largest packet accepted from the copier (MTU check). */
  mtu?: number;
  /** A fixed congestion window: at most this many response bytes in flight. */
  cwnd?: number;
  /** A slow application: it reads received bytes only this long after they arrive, so the
   *  receive window fills up and closes (zero window) until it reads. */
  readDelayUs?: number;
  app: (c: TargetConn) => AppHandler;
}

export interface TargetStats {
  packets: number;
  badChecksum: number;
  notDf: number;
  overMtu: number;
  beyondWindow: number;
  pawsDrops: number;
  missingTs: number;
  dupData: number;
  outOfOrder: number;
  synRejectedTimeWait: number;
  synAcceptedTimeWait: number;
  challengeAcks: number;
  rstsSent: number;
  rstsReceived: number;
  retransmits: number;
  noConnection: number;
  abortOnData: number;
}

export class TargetConn {
  state: TcpState = 'synRcvd';
  readonly received: Buffer[] = [];
  receivedBytes = 0;
  iss: number;
  sndUna: number;
  sndNxt: number;
  sndMax: number;
  irs = 0;
  rcvNxt = 0;
  peerWscale = 0;
  ourWscale = 0;
  wscaleOk = false;
  tsOk = false;
  sackOk = false;
  tsRecent = 0;
  peerMss = 536;
  peerWnd = 0;
  /** Response bytes the app wrote. */
  written = 0;
  /** True once the app closed: FIN after `written`. */
  closing = false;
  finSentSeq = -1;
  peerFin = false;
  resetByPeer = false;
  closedFirst = false;
  /** Request boundaries as the app saw them and whether the previous response was complete. */
  readonly log: string[] = [];
  ooo = new Map<number, Buffer>();
  /** Bytes received but not yet read by a slow application (they occupy the window). */
  unread = 0;
  rtoGen = 0;
  rtoBackoff = 0;
  twUntil = 0;
  handler: AppHandler = {};
  data: Record<string, unknown> = {};

  constructor(
    readonly target: FakeTarget,
    readonly clientIp: number,
    readonly clientPort: number,
    iss: number,
  ) {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
  }

  get stream(): Buffer {
    return Buffer.concat(this.received);
  }

  /** Response bytes sent at least once. */
  get responseSent(): number {
    return seqDiff(this.sndMax, this.iss) - 1 - (this.finSentSeq >= 0 ? 1 : 0);
  }

  /** Response bytes the copier acknowledged. */
  get responseAcked(): number {
    return Math.min(this.written, Math.max(0, seqDiff(this.sndUna, this.iss) - 1));
  }

  write(n: number): void {
    if (this.closing || this.state === 'closed') return;
    this.written += n;
    this.target.flush(this);
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (!this.peerFin) this.closedFirst = true;
    this.target.flush(this);
  }

  reset(): void {
    this.target.sendRst(this, this.sndNxt);
    this.state = 'closed';
  }
}

const key = (ip: number, port: number): string => `${ip}:${port}`;

export class FakeTarget {
  readonly stats: TargetStats = {
    packets: 0,
    badChecksum: 0,
    notDf: 0,
    overMtu: 0,
    beyondWindow: 0,
    pawsDrops: 0,
    missingTs: 0,
    dupData: 0,
    outOfOrder: 0,
    synRejectedTimeWait: 0,
    synAcceptedTimeWait: 0,
    challengeAcks: 0,
    rstsSent: 0,
    rstsReceived: 0,
    retransmits: 0,
    noConnection: 0,
    abortOnData: 0,
  };
  /** Current connection per client tuple (live or TIME_WAIT). */
  readonly conns = new Map<string, TargetConn>();
  /** Every connection ever accepted, in order. */
  readonly history: TargetConn[] = [];
  private readonly view = new SegmentView();
  private readonly opts = newTcpOptions();
  private isnCounter = 0x10000000;
  private ipId = 1;
  readonly mss: number;
  readonly wscale: number;
  readonly rcvWindow: number;
  readonly ts: boolean;
  readonly rtoUs: number;
  readonly timeWaitUs: number;

  constructor(
    readonly world: World,
    readonly o: TargetOptions,
    /** Where the target's packets go (the interceptor). */
    public out: (pkt: Buffer) => void,
  ) {
    this.mss = o.mss ?? 1460;
    this.wscale = o.wscale ?? 7;
    this.rcvWindow = o.rcvWindow ?? 256 * 1024;
    this.ts = o.ts ?? true;
    this.rtoUs = o.rtoUs ?? 200_000;
    this.timeWaitUs = o.timeWaitUs ?? 60_000_000;
  }

  /** Live connections (not closed or in TIME_WAIT). */
  liveCount(): number {
    let n = 0;
    for (const c of this.conns.values()) if (c.state !== 'closed' && c.state !== 'timeWait') n++;
    return n;
  }

  receive(pkt: Buffer): void {
    const st = this.stats;
    st.packets++;
    if (classifyIpv4(pkt, 0, pkt.length) !== 'tcp' || !verifyIpv4Checksum(pkt, 0) || !verifyTcpChecksum(pkt, 0)) {
      st.badChecksum++;
      return;
    }
    const v = this.view.wrap(pkt, 0);
    if (!v.ip.df) st.notDf++;
    if (pkt.length > (this.o.mtu ?? 1500)) st.overMtu++;
    if (v.ip.dst !== this.o.ip || v.tcp.dstPort !== this.o.port) return;
    const cip = v.ip.src;
    const cport = v.tcp.srcPort;
    const t = v.tcp;
    const flags = t.flags;
    const seq = t.seq;
    const ack = t.ack;
    const payLen = v.payloadLength;
    const o = parseTcpOptions(pkt, t.optionsOffset, t.optionsOffset + t.optionsLength, this.opts);
    const k = key(cip, cport);
    let c = this.conns.get(k);
    const now = this.world.now;

    if (c !== undefined && c.state === 'timeWait' && c.twUntil <= now) {
      this.conns.delete(k);
      c = undefined;
    }
    if (c !== undefined && c.state === 'closed') {
      this.conns.delete(k);
      c = undefined;
    }

    if ((flags & TCP_RST) !== 0) {
      st.rstsReceived++;
      if (c === undefined) return;
      if (c.state === 'synRcvd' || c.state === 'timeWait' || seqDiff(seq, c.rcvNxt) >= 0 && seqDiff(seq, c.rcvNxt) < this.rcvWindow) {
        if (c.state !== 'timeWait') c.resetByPeer = true;
        c.state = 'closed';
        c.rtoGen++;
        this.conns.delete(k);
      }
      return;
    }

    if ((flags & TCP_SYN) !== 0 && (flags & TCP_ACK) === 0) {
      if (c !== undefined) {
        if (c.state === 'synRcvd' && seq === c.irs) {
          this.sendSynAck(c); // retransmitted SYN
          return;
        }
        if (c.state === 'timeWait') {
          // Linux tcp_timewait_state_process: a new SYN is accepted only if its seq is past
          // the old rcv_nxt or its timestamp is newer than the last one seen.
          const newer = seqGt(seq, c.rcvNxt) || (o.hasTs && c.tsOk && seqGt(o.tsVal, c.tsRecent));
          if (!newer) {
            st.synRejectedTimeWait++;
            this.sendAck(c);
            return;
          }
          st.synAcceptedTimeWait++;
          this.conns.delete(k);
        } else {
          st.challengeAcks++;
          this.sendAck(c);
          return;
        }
      }
      const isn = this.o.isn !== undefined ? this.o.isn() : (this.isnCounter = (this.isnCounter + 0x01234567) >>> 0);
      const n = new TargetConn(this, cip, cport, isn);
      n.irs = seq;
      n.rcvNxt = (seq + 1) >>> 0;
      n.peerMss = o.mss > 0 ? o.mss : 536;
      n.wscaleOk = o.wscale >= 0 && this.wscale >= 0;
      n.peerWscale = n.wscaleOk ? Math.min(o.wscale, 14) : 0;
      n.ourWscale = n.wscaleOk ? this.wscale : 0;
      n.tsOk = o.hasTs && this.ts;
      n.tsRecent = o.tsVal;
      n.sackOk = o.sackOk && (this.o.sack ?? true);
      n.peerWnd = t.window; // SYN window is never scaled
      n.handler = this.o.app(n);
      this.conns.set(k, n);
      this.history.push(n);
      this.sendSynAck(n);
      this.armRto(n);
      return;
    }

    if (c === undefined) {
      st.noConnection++;
      if ((flags & TCP_ACK) !== 0) this.sendRawRst(cip, cport, ack);
      return;
    }
    if ((flags & TCP_SYN) !== 0) return;

    // PAWS (RFC 7323): drop segments whose TSval is older than the last one seen.
    if (c.tsOk) {
      if (!o.hasTs) st.missingTs++;
      else if (seqLt(o.tsVal, c.tsRecent)) {
        st.pawsDrops++;
        this.sendAck(c);
        return;
      }
    }

    if (c.state === 'timeWait') {
      // The final ACK or a retransmitted FIN: ACK again.
      if ((flags & TCP_FIN) !== 0) this.sendAck(c);
      return;
    }

    if ((flags & TCP_ACK) === 0) return;
    if (c.state === 'synRcvd') {
      if (ack !== ((c.iss + 1) >>> 0)) {
        this.sendRawRst(cip, cport, ack);
        return;
      }
      c.state = 'established';
      c.sndUna = ack;
      c.sndNxt = ack;
      c.sndMax = ack;
      c.rtoGen++;
      c.handler.onAccept?.(c);
    }
    if (o.hasTs && seqLeq(seq, c.rcvNxt)) c.tsRecent = o.tsVal;

    // ACK of our data / FIN.
    c.peerWnd = t.window << c.peerWscale;
    if (seqGt(ack, c.sndUna) && seqLeq(ack, c.sndMax)) {
      c.sndUna = ack;
      c.rtoBackoff = 0;
      if (c.finSentSeq >= 0 && ack === ((c.finSentSeq + 1) >>> 0)) {
        if (c.state === 'finWait1') c.state = 'finWait2';
        else if (c.state === 'closing') this.enterTimeWait(c);
        else if (c.state === 'lastAck') {
          c.state = 'closed';
          this.conns.delete(k);
        }
      }
      if (c.sndUna === c.sndMax) c.rtoGen++;
      else this.armRto(c);
    }

    let needAck = false;
    if (payLen > 0) {
      const d = seqDiff(seq, c.rcvNxt);
      const end = seqDiff((seq + payLen) >>> 0, c.rcvNxt);
      if (end > 0 && c.closing) {
        // New data for a socket the application closed: Linux resets (TCPAbortOnData).
        st.abortOnData++;
        this.sendRst(c, c.sndNxt);
        c.state = 'closed';
        c.rtoGen++;
        this.conns.delete(k);
        return;
      }
      if (end <= 0) {
        st.dupData++;
        needAck = true;
      } else if (d >= this.window(c) || end > this.window(c)) {
        st.beyondWindow++;
        needAck = true;
      } else if (c.peerFin) {
        needAck = true;
      } else if (d > 0) {
        st.outOfOrder++;
        c.ooo.set(seq, Buffer.from(pkt.subarray(v.payloadOffset, v.payloadOffset + payLen)));
        needAck = true;
      } else {
        const data = Buffer.from(pkt.subarray(v.payloadOffset - d, v.payloadOffset + payLen));
        this.deliver(c, data);
        // Drain queued out-of-order data that now continues the stream.
        for (let again = true; again; ) {
          again = false;
          for (const [s, b] of c.ooo) {
            const dd = seqDiff(s, c.rcvNxt);
            if (dd <= 0) {
              c.ooo.delete(s);
              if (dd + b.length > 0) this.deliver(c, b.subarray(-dd));
              again = true;
            }
          }
        }
        needAck = true;
      }
    }
    if ((flags & TCP_FIN) !== 0) {
      const finSeq = (seq + payLen) >>> 0;
      if (finSeq === c.rcvNxt && !c.peerFin) {
        c.rcvNxt = (c.rcvNxt + 1) >>> 0;
        c.peerFin = true;
        if (c.state === 'established') c.state = 'closeWait';
        else if (c.state === 'finWait1') c.state = c.sndUna === c.sndMax ? 'timeWait' : 'closing';
        else if (c.state === 'finWait2') c.state = 'timeWait';
        if (c.state === 'timeWait') this.enterTimeWait(c);
        c.handler.onPeerFin?.(c);
      }
      needAck = true;
    }
    const before = c.sndMax;
    this.flush(c);
    if (needAck && c.sndMax === before && c.state !== 'closed') this.sendAck(c);
  }

  /** Free receive window: the buffer minus what a slow application has not read yet. */
  window(c: TargetConn): number {
    return Math.max(0, this.rcvWindow - c.unread);
  }

  private deliver(c: TargetConn, data: Buffer): void {
    c.received.push(data);
    c.receivedBytes += data.length;
    c.rcvNxt = (c.rcvNxt + data.length) >>> 0;
    const delay = this.o.readDelayUs ?? 0;
    if (delay > 0) {
      c.unread += data.length;
      this.world.after(delay, () => {
        const wasClosed = this.window(c) < 1000;
        c.unread -= data.length;
        // Window update once there is room again (as Linux does after the app reads).
        if (wasClosed && c.state !== 'closed' && c.state !== 'timeWait') this.sendAck(c);
      });
    }
    c.handler.onData?.(c, data);
  }

  private enterTimeWait(c: TargetConn): void {
    c.state = 'timeWait';
    c.twUntil = this.world.now + this.timeWaitUs;
    c.rtoGen++;
  }

  /** Send what the peer's window allows, then the FIN once everything is out. */
  flush(c: TargetConn): void {
    if (c.state === 'synRcvd' || c.state === 'closed') return;
    const total = c.written;
    const optLen = c.tsOk ? 12 : 0;
    const seg = Math.min(this.mss, c.peerMss) - optLen;
    let sent = false;
    for (;;) {
      const off = seqDiff(c.sndNxt, c.iss) - 1;
      const left = total - off;
      if (left <= 0) break;
      const room = Math.min(c.peerWnd, this.o.cwnd ?? Infinity) - seqDiff(c.sndNxt, c.sndUna);
      if (room <= 0) break;
      const n = Math.min(left, seg, room);
      this.sendSeg(c, TCP_ACK | (n === left ? TCP_PSH : 0), c.sndNxt, n);
      c.sndNxt = (c.sndNxt + n) >>> 0;
      if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
      sent = true;
    }
    if (c.closing && c.finSentSeq < 0 && seqDiff(c.sndNxt, c.iss) - 1 === total) {
      c.finSentSeq = c.sndNxt;
      this.sendSeg(c, TCP_ACK | TCP_FIN, c.sndNxt, 0);
      c.sndNxt = (c.sndNxt + 1) >>> 0;
      c.sndMax = c.sndNxt;
      if (c.state === 'established') c.state = 'finWait1';
      else if (c.state === 'closeWait') c.state = 'lastAck';
      sent = true;
    }
    if (sent) this.armRto(c);
  }

  private armRto(c: TargetConn): void {
    const gen = ++c.rtoGen;
    const delay = (c.state === 'synRcvd' ? 1_000_000 : this.rtoUs) * 2 ** Math.min(c.rtoBackoff, 6);
    this.world.after(delay, () => {
      if (c.rtoGen !== gen || c.state === 'closed' || c.state === 'timeWait') return;
      c.rtoBackoff++;
      if (c.rtoBackoff > 8) {
        c.state = 'closed';
        return;
      }
      this.stats.retransmits++;
      if (c.state === 'synRcvd') {
        this.sendSynAck(c);
        this.armRto(c);
        return;
      }
      if (c.sndUna === c.sndMax) return;
      // Go back to the first unacknowledged byte and resend one segment (or the FIN).
      const fin = c.finSentSeq >= 0 && c.sndUna === c.finSentSeq;
      if (fin) this.sendSeg(c, TCP_ACK | TCP_FIN, c.sndUna, 0);
      else {
        const left = c.written - (seqDiff(c.sndUna, c.iss) - 1);
        const n = Math.min(left, Math.min(this.mss, c.peerMss) - (c.tsOk ? 12 : 0));
        if (n > 0) this.sendSeg(c, TCP_ACK | TCP_PSH, c.sndUna, n);
      }
      this.armRto(c);
    });
  }

  private tsVal(): number {
    return (Math.floor(this.world.now / 1000) + 77777) >>> 0;
  }

  private sendSynAck(c: TargetConn): void {
    const options: OptionSpec = { mss: this.mss };
    if (c.wscaleOk) options.wscale = this.wscale;
    if (c.sackOk) options.sackOk = true;
    if (c.tsOk) options.ts = { val: this.tsVal(), ecr: c.tsRecent };
    this.emit(c, TCP_SYN | TCP_ACK, c.iss, 0, options);
    c.sndNxt = (c.iss + 1) >>> 0;
    c.sndMax = c.sndNxt;
  }

  sendAck(c: TargetConn): void {
    this.sendSeg(c, TCP_ACK, c.sndNxt, 0);
  }

  sendRst(c: TargetConn, seq: number): void {
    this.stats.rstsSent++;
    this.emit(c, TCP_RST | TCP_ACK, seq, 0, undefined);
  }

  private sendRawRst(cip: number, cport: number, seq: number): void {
    this.stats.rstsSent++;
    this.out(
      buildSegment({
        src: this.o.ip,
        dst: cip,
        srcPort: this.o.port,
        dstPort: cport,
        seq,
        ack: 0,
        flags: TCP_RST,
        window: 0,
        ipId: this.ipId++ & 0xffff,
      }),
    );
  }

  private sendSeg(c: TargetConn, flags: number, seq: number, n: number): void {
    this.emit(c, flags, seq, n, c.tsOk ? { ts: { val: this.tsVal(), ecr: c.tsRecent } } : undefined);
  }

  private emit(c: TargetConn, flags: number, seq: number, n: number, options: OptionSpec | undefined): void {
    const win = (flags & TCP_SYN) !== 0 ? Math.min(65535, this.rcvWindow) : Math.min(65535, this.window(c) >> c.ourWscale);
    this.out(
      buildSegment({
        src: this.o.ip,
        dst: c.clientIp,
        srcPort: this.o.port,
        dstPort: c.clientPort,
        seq,
        ack: (flags & TCP_SYN) !== 0 || (flags & TCP_ACK) !== 0 ? c.rcvNxt : 0,
        flags,
        window: win,
        ipId: this.ipId++ & 0xffff,
        options,
        payload: n > 0 ? Buffer.alloc(n, 0x5a) : undefined,
      }),
    );
  }
}

export { seqGeq };
