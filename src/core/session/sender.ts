import type { Buffer } from 'node:buffer';
import type { OptionSpec } from '../packet/options.js';
import { seqDiff, seqGt, seqLeq } from '../packet/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST } from '../packet/tcp.js';
import { currentRto } from './rtt.js';
import type { Seg } from './segment.js';
import type { Session } from './session.js';
import type { EngineStats } from './stats.js';
import type { EngineConfig, EngineSink } from './types.js';
import { PacketWriter } from './writer.js';

/** Window we advertise: we discard response data, so never limit the target. */
const OUR_WINDOW = 65535;

/**
 * Everything a session sends, built in one scratch buffer and handed to the sink: SYNs with the
 * captured (or inferred) options, data pieces cut to the MTU / target MSS, ACKs, RSTs. Every
 * non-SYN packet carries ack = rcvNxt, our window and, when negotiated, TS (our clock, the
 * target's last TSval echoed).
 */
export class Sender {
  private readonly writer = new PacketWriter();
  private readonly synTs = { val: 0, ecr: 0 };
  private readonly synSpec: OptionSpec = { mss: -1, wscale: -1, sackOk: false, ts: undefined };

  constructor(
    private readonly cfg: EngineConfig,
    private readonly sink: EngineSink,
    private readonly stats: EngineStats,
  ) {}

  pieceMax(s: Session): number {
    const opt = s.tsOk ? 12 : 0;
    return Math.max(8, Math.min(this.cfg.mtu - 40, s.serverMss) - opt);
  }

  /** Send n bytes of item `it` starting at byte `at` of it, as new data. */
  sendData(s: Session, it: Seg, at: number, n: number, nowUs: number): void {
    const whole = at === 0 && n === it.len;
    const end = at + n === it.len;
    this.emit(s, TCP_ACK | (end ? TCP_PSH : 0), s.sndNxt, it.payload, it.off + at, n, whole ? it.psum : -1, it.tos, nowUs);
    const st = this.stats;
    st.dataPacketsSent++;
    st.payloadBytesSent += n;
    s.sndNxt = (s.sndNxt + n) >>> 0;
    if (seqGt(s.sndNxt, s.sndMax)) s.sndMax = s.sndNxt;
    s.lastDataSentAt = nowUs;
    if (s.rttSentAt < 0) {
      s.rttSentAt = nowUs;
      s.rttSeq = s.sndNxt;
    }
    if (s.rtoAt === Infinity) s.rtoAt = nowUs + currentRto(s, this.cfg);
  }

  /** Resend one segment from sndUna (RTO, fast retransmit, partial ACK in recovery). */
  retransmitOne(s: Session, nowUs: number): void {
    s.retransmits++;
    this.stats.retransmits++;
    s.rttSentAt = -1; // Karn: no RTT sample across a retransmission
    const capPos = (s.sndUna - s.seqOffset) >>> 0;
    if (s.finSent && ((s.sndMax - 1) >>> 0) === s.sndUna) {
      this.emit(s, TCP_FIN | TCP_ACK, s.sndUna, null, 0, 0, 0, 0, nowUs);
      return;
    }
    for (let i = s.head; i < s.items.length; i++) {
      const it = s.items[i] as Seg;
      if (seqLeq(it.end, capPos)) continue;
      const at = seqDiff(capPos, it.seq);
      if (at < 0) return;
      const n = Math.min(it.len - at, this.pieceMax(s), Math.max(1, seqDiff(s.sndMax, s.sndUna)));
      const whole = at === 0 && n === it.len;
      this.emit(s, TCP_ACK | TCP_PSH, s.sndUna, it.payload, it.off + at, n, whole ? it.psum : -1, it.tos, nowUs);
      return;
    }
  }

  sendSyn(s: Session, nowUs: number): void {
    const c = s.conn;
    // One reused option spec: SYNs are one per session, but sessions/s matters too.
    const spec = this.synSpec;
    spec.mss = s.ourMss;
    spec.wscale = c.synWscale;
    spec.sackOk = c.synSackOk;
    if (c.synTs) {
      this.synTs.val = this.tsNow(s, nowUs);
      spec.ts = this.synTs;
    } else spec.ts = undefined;
    const len = this.writer.writeSyn(s.clientIp, s.targetIp, s.clientPort, s.targetPort, s.iss, c.synWindow, this.nextIpId(s), spec);
    s.sndNxt = (s.iss + 1) >>> 0;
    s.sndMax = s.sndNxt;
    s.synSentAt = nowUs;
    s.rtoAt = nowUs + currentRto(s, this.cfg);
    this.stats.synsSent++;
    this.stats.packetsSent++;
    this.sink.send(this.writer.buf, len, s.targetIp);
  }

  sendAck(s: Session, nowUs: number): void {
    this.emit(s, TCP_ACK, s.sndNxt, null, 0, 0, 0, 0, nowUs);
    this.stats.acksSent++;
  }

  /** RST with the given seq; with ACK when `withAck` (our ack = rcvNxt). */
  sendRst(s: Session, seq: number, withAck: boolean, nowUs: number): void {
    if (withAck) this.emit(s, TCP_RST | TCP_ACK, seq, null, 0, 0, 0, 0, nowUs);
    else {
      const len = this.writer.write(s.clientIp, s.targetIp, s.clientPort, s.targetPort, seq, 0, TCP_RST, 0, this.nextIpId(s), 0, false, 0, 0, null, 0, 0, 0);
      this.stats.packetsSent++;
      this.sink.send(this.writer.buf, len, s.targetIp);
    }
    this.stats.rstsSent++;
  }

  /** Every non-SYN packet: ack = rcvNxt, our window, TS when negotiated. */
  emit(
    s: Session,
    flags: number,
    seq: number,
    payload: Buffer | null,
    at: number,
    n: number,
    psum: number,
    tos: number,
    nowUs: number,
  ): void {
    const len = this.writer.write(
      s.clientIp,
      s.targetIp,
      s.clientPort,
      s.targetPort,
      seq,
      s.rcvNxt,
      flags,
      OUR_WINDOW,
      this.nextIpId(s),
      tos,
      s.tsOk,
      s.tsOk ? this.tsNow(s, nowUs) : 0,
      s.tsRecent,
      payload,
      at,
      n,
      psum,
    );
    s.rcvAcked = s.rcvNxt;
    s.delAckAt = Infinity;
    this.stats.packetsSent++;
    this.sink.send(this.writer.buf, len, s.targetIp);
  }

  nextIpId(s: Session): number {
    s.ipId = (s.ipId + 1) & 0xffff;
    return s.ipId;
  }

  /** Our TSval: a per-tuple offset plus a 1 ms clock, never going backwards. */
  tsNow(s: Session, nowUs: number): number {
    const v = (s.tsBase + Math.floor(nowUs / 1000)) >>> 0;
    if (seqGt(v, s.tsLast) || s.tsLast === 0) s.tsLast = v;
    return s.tsLast;
  }
}
