import { Buffer } from 'node:buffer';
import { onesSum, pseudoHeaderSum } from '../packet/checksum.js';
import { classifyIpv4 } from '../packet/classify.js';
import { parseTcpOptions } from '../packet/options.js';
import { seqDiff, seqGeq, seqGt, seqLeq } from '../packet/seq.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../packet/tcp.js';
import type { EngineContext } from './context.js';
import { detach, finish, markIgnored, neverStarted, startConn } from './lifecycle.js';
import { hash4 } from './prng.js';
import { pump } from './pump.js';
import { Seg } from './segment.js';
import { OnlineConn } from './online-conn.js';
import type { PendingControl, Session } from './session.js';
import { findTransfer } from '../transfer.js';

const LOOPBACK = 0x7f000001;
/** Our window-scale shift in fake SYNs (the real client's is unknown). */
const FAKE_WSCALE = 7;

/**
 * The capture side: one captured client→server packet is matched to its online connection
 * (starting one on a SYN, or mid-stream without), put in captured-sequence order (gaps kept
 * aside until a captured retransmission fills them), and handed to every replica session.
 *
 * `transferIdx` is the -x entry the source matched (−1: match here).
 */
export function onCaptured(
  e: EngineContext,
  pkt: Buffer,
  ipOff: number,
  capLen: number,
  nowUs: number,
  capTsUs: number,
  transferIdx: number,
): void {
  const st = e.stats;
  st.captured++;
  if (classifyIpv4(pkt, ipOff, capLen) !== 'tcp') {
    st.capturedInvalid++;
    return;
  }
  const v = e.view.wrap(pkt, ipOff);
  e.curIpOff = ipOff;
  const src = v.ip.src;
  const dst = v.ip.dst;
  const tcp = v.tcp;
  const sport = tcp.srcPort;
  const dport = tcp.dstPort;
  const tIdx = transferIdx >= 0 ? transferIdx : findTransfer(e.cfg.transfers, dst, dport);
  const tr = e.cfg.transfers[tIdx];
  if (tr === undefined) {
    st.capturedNoTransfer++;
    return;
  }
  let clientIp = src;
  if (tr.targetIp === LOOPBACK) {
    if (src !== LOOPBACK) {
      st.capturedLocalhostSkipped++;
      return;
    }
  } else if (src === LOOPBACK && e.cfg.localAddress !== 0) {
    clientIp = e.cfg.localAddress;
  }
  if (e.firstPacketUs < 0) e.firstPacketUs = nowUs;
  const flags = tcp.flags;
  const payLen = v.payloadLength;

  let conn = e.byOnline.get(src, sport, dst, dport);
  if (conn !== undefined && conn.lingerUntil >= 0) {
    // Every session of this connection has ended (or it was never started): a new SYN starts
    // a new incarnation, anything else (a retransmitted SYN too) is a leftover of the old one.
    const synAgain = conn.capIsn === tcp.seq && !conn.started;
    if (conn.lingerUntil > nowUs && ((flags & TCP_SYN) === 0 || synAgain)) {
      st.capturedForUnknown++;
      // Still talking: keep ignoring it rather than starting a fake session later.
      conn.lingerUntil = Math.max(conn.lingerUntil, nowUs + e.cfg.lingerUs);
      return;
    }
    detach(e, conn);
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
      detach(e, conn);
    }
    st.capturedSyn++;
    conn = new OnlineConn(src, sport, dst, dport, clientIp, tIdx, true, seq);
    if (!sampled(e, src, sport, dst, dport, nowUs)) {
      // Remember the decision for the rest of this connection (SYN retransmissions, -g ramp).
      e.byOnline.set(src, sport, dst, dport, conn);
      markIgnored(e, conn, nowUs);
      neverStarted(e, conn, tr.targetIp, tr.targetPort, nowUs, 'sampled-out');
      return;
    }
    conn.synWindow = tcp.window;
    const o = parseTcpOptions(pkt, tcp.optionsOffset, tcp.optionsOffset + tcp.optionsLength, e.opts);
    conn.synMss = o.mss;
    conn.synWscale = o.wscale > 14 ? 14 : o.wscale;
    conn.synSackOk = o.sackOk;
    conn.synTs = o.hasTs;
    startConn(e, conn, nowUs);
    return;
  }

  if (conn === undefined) {
    if (payLen === 0 || (flags & TCP_RST) !== 0) {
      st.capturedForUnknown++;
      return;
    }
    if (e.cfg.onlyFromSyn) {
      st.skippedNoSynPackets++;
      return;
    }
    if (!sampled(e, src, sport, dst, dport, nowUs)) {
      st.sampledOutPackets++;
      return;
    }
    conn = new OnlineConn(src, sport, dst, dport, clientIp, tIdx, false, (tcp.seq - 1) >>> 0);
    // A mid-stream window is in the client's unknown scale: announce the largest unscaled one
    // (later packets say 65535 << FAKE_WSCALE anyway).
    conn.synWindow = 65535;
    const o = parseTcpOptions(pkt, tcp.optionsOffset, tcp.optionsOffset + tcp.optionsLength, e.opts);
    conn.synTs = o.hasTs;
    conn.synWscale = FAKE_WSCALE;
    if (!startConn(e, conn, nowUs)) return;
  }
  capture(e, conn, pkt, flags, payLen, nowUs, capTsUs);
}

/** -r / -g, per connection, stable for a seed (a hash of the online tuple). */
function sampled(e: EngineContext, src: number, sport: number, dst: number, dport: number, nowUs: number): boolean {
  let p = e.cfg.samplePercent;
  if (e.cfg.gradual) p = Math.min(100, Math.floor((nowUs - e.firstPacketUs) / 1e6) + 1);
  if (p >= 100) return true;
  return hash4(src, sport, dst, dport, e.cfg.seed) % 100 < p;
}

/** Feed one captured packet of a known connection: order it, then hand it to the replicas. */
function capture(e: EngineContext, conn: OnlineConn, pkt: Buffer, flags: number, payLen: number, nowUs: number, capTsUs: number): void {
  const tcp = e.view.tcp;
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

  if (payLen > 0) captureData(e, conn, pkt, seq, payLen, ack, think, nowUs);
  else if ((flags & (TCP_FIN | TCP_RST)) === 0) e.stats.capturedPureAcks++;

  if ((flags & TCP_FIN) !== 0 && conn.fin === null) {
    conn.fin = { seq: (seq + payLen) >>> 0, origAck: ack, thinkUs: think };
    deliverFinIfReady(e, conn, nowUs);
  }
  if ((flags & TCP_RST) !== 0) {
    const rst: PendingControl = { seq, origAck: ack, thinkUs: think };
    const count = conn.sessions.length;
    for (let k = 0; k < count; k++) {
      const s = conn.sessions[k] as Session;
      if (s.phase === 'closed' || s.rst !== null) continue;
      s.rst = rst;
      pump(e, s, nowUs);
      e.reschedule(s, nowUs);
    }
  }
  conn.lastCapTs = capTsUs;
  if (hasAck) conn.lastCapAck = ack;
  conn.hasLast = true;
  if (conn.gapSinceUs >= 0 && nowUs - conn.gapSinceUs > e.cfg.captureGapUs) {
    for (const s of conn.sessions) if (s.phase !== 'closed') finish(e, s, 'capture-gap', nowUs, true);
  }
}

function captureData(e: EngineContext, conn: OnlineConn, pkt: Buffer, seq: number, payLen: number, ack: number, think: number, nowUs: number): void {
  const st = e.stats;
  const end = (seq + payLen) >>> 0;
  if (seqLeq(end, conn.capNxt)) {
    st.clientRetransmitsSkipped++;
    return;
  }
  const v = e.view;
  const off = v.payloadOffset;
  const tos = v.ip.tos;
  if (seqGt(seq, conn.capNxt)) {
    // Capture gap: keep it aside until the missing bytes show up (a captured retransmission).
    st.captureGaps++;
    const copy = Buffer.from(pkt.subarray(off, off + payLen));
    const sg = new Seg(seq, payLen, copy, 0, onesSum(copy, 0, payLen), ack, think, tos);
    if (conn.ooo.length === 0) conn.ooo = [];
    insertSorted(conn.ooo, sg);
    if (conn.gapSinceUs < 0) {
      conn.gapSinceUs = nowUs;
      for (const s of conn.sessions) {
        if (s.phase === 'closed') continue;
        s.gapAt = nowUs + e.cfg.captureGapUs;
        e.reschedule(s, nowUs);
      }
    }
    return;
  }
  const trim = seqDiff(conn.capNxt, seq);
  let sg: Seg;
  if (trim === 0) {
    const copy = e.arena.copy(pkt, off, payLen);
    const at = e.arena.lastOffset;
    let psum: number;
    if (e.cfg.checksum === 'incremental' && conn.capturedCsumValid !== 0) {
      // Valid captured checksum ⇒ pseudo + header + payload ≡ 0, so the payload's sum is the
      // complement of the other two: O(header) instead of O(payload).
      const ipOff = e.curIpOff;
      const tcpOff = ipOff + v.ip.headerLength;
      const tcpLen = v.ip.totalLength - v.ip.headerLength;
      const ph = onesSum(pkt, tcpOff, v.tcp.headerLength, pseudoHeaderSum(pkt, ipOff, tcpLen));
      psum = ~ph & 0xffff;
      if (conn.capturedCsumValid < 0) {
        // First data of the connection: check once that the capture's checksums are real
        // (captures of locally sent packets carry offload placeholders); if not, re-sum.
        const full = onesSum(copy, at, payLen);
        conn.capturedCsumValid = full % 0xffff === psum % 0xffff ? 1 : 0;
        if (conn.capturedCsumValid === 0) {
          st.capturedBadChecksumConns++;
          psum = full;
        }
      }
    } else {
      psum = onesSum(copy, at, payLen);
    }
    sg = new Seg(seq, payLen, copy, at, psum, ack, think, tos);
  } else {
    const n = payLen - trim;
    const copy = e.arena.copy(pkt, off + trim, n);
    const at = e.arena.lastOffset;
    sg = new Seg(conn.capNxt, n, copy, at, onesSum(copy, at, n), ack, think, tos);
  }
  deliver(e, conn, sg, nowUs);
  // Drain captured segments that now continue the stream.
  while (conn.ooo.length > 0) {
    const o = conn.ooo[0] as Seg;
    if (seqGt(o.seq, conn.capNxt)) break;
    conn.ooo.shift();
    if (seqLeq(o.end, conn.capNxt)) continue;
    const t = seqDiff(conn.capNxt, o.seq);
    if (t === 0) deliver(e, conn, o, nowUs);
    else {
      const n = o.len - t;
      deliver(e, conn, new Seg(conn.capNxt, n, o.payload, o.off + t, onesSum(o.payload, o.off + t, n), o.origAck, o.thinkUs, o.tos), nowUs);
    }
  }
  if (conn.ooo.length === 0 && conn.gapSinceUs >= 0) {
    conn.gapSinceUs = -1;
    for (const s of conn.sessions) s.gapAt = Infinity;
  }
  deliverFinIfReady(e, conn, nowUs);
}

/** Append an in-order segment to every live replica (each checks its buffer caps) and send. */
function deliver(e: EngineContext, conn: OnlineConn, sg: Seg, nowUs: number): void {
  conn.capNxt = sg.end;
  const cfg = e.cfg;
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
    e.bufferedTotal += sg.len;
    e.stats.bufferedBytes = e.bufferedTotal;
    if (s.buffered > cfg.sessionBufferCap || e.bufferedTotal > cfg.totalBufferCap) {
      e.stats.bufferDrops++;
      e.sink.log?.(
        `session ${s.id}: ${s.buffered} bytes buffered (session cap ${cfg.sessionBufferCap}, total ${e.bufferedTotal} of ${cfg.totalBufferCap}); dropped`,
      );
      finish(e, s, 'buffer-overflow', nowUs, true);
      continue;
    }
    pump(e, s, nowUs);
    e.reschedule(s, nowUs);
  }
}

function deliverFinIfReady(e: EngineContext, conn: OnlineConn, nowUs: number): void {
  const fin = conn.fin;
  if (fin === null || fin.seq !== conn.capNxt) return;
  const count = conn.sessions.length;
  for (let k = 0; k < count; k++) {
    const s = conn.sessions[k] as Session;
    if (s.phase === 'closed' || s.fin !== null) continue;
    s.fin = fin;
    pump(e, s, nowUs);
    e.reschedule(s, nowUs);
  }
}

function insertSorted(list: Seg[], sg: Seg): void {
  let i = list.length;
  while (i > 0 && seqGt((list[i - 1] as Seg).seq, sg.seq)) i--;
  list.splice(i, 0, sg);
}
