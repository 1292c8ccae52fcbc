import type { Buffer } from 'node:buffer';
import { parseTcpOptions } from '../packet/options.js';
import { seqDiff, seqGeq, seqGt, seqLeq, seqLt } from '../packet/seq.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../packet/tcp.js';
import { readRecord } from '../wire/record.js';
import { closed, type EngineContext } from './context.js';
import { answered, finish, tryReconnect } from './lifecycle.js';
import { pump } from './pump.js';
import { baseRto, currentRto, rttSample } from './rtt.js';
import type { Seg } from './segment.js';
import type { Session } from './session.js';

/**
 * Interceptor records: what the target said to one of our sessions (headers only, plus how many
 * payload bytes). The SYN-ACK completes the handshake; later records acknowledge our data (with
 * fast retransmit on duplicate ACKs), carry response data to ACK, the target's FIN, or its RST.
 */
export function onResponse(e: EngineContext, rec: Buffer, off: number, nowUs: number, recLen: number): void {
  const st = e.stats;
  st.responses++;
  const r = e.rec;
  const result = readRecord(rec, off, recLen, r);
  if (result !== 'ok') {
    st.responsesMalformed++;
    if (result !== 'bad-length') return;
  }
  const flags = r.flags;
  const payLen = r.payloadLength;
  const s = e.byTarget.get(r.clientIp, r.clientPort, r.serverIp, r.serverPort);
  if (s === undefined) {
    st.responsesUnmatched++;
    return;
  }
  const o = parseTcpOptions(rec, r.optStart, r.optEnd, e.opts);
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
    if (s.resetSent) e.tx.sendRst(s, r.ack, false, nowUs);
    // After a clean close: ACK a retransmitted FIN or data so the target can finish.
    else if ((payLen > 0 || (flags & TCP_FIN) !== 0) && s.establishedAt >= 0) e.tx.sendAck(s, nowUs);
    return;
  }
  if (s.phase === 'synSent') onSynSentRecord(e, s, flags, r.seq, r.ack, r.window, nowUs);
  else onEstablishedRecord(e, s, flags, r.seq, r.ack, r.window, payLen, o.hasTs, o.tsVal, nowUs);
  if (!closed(s)) e.reschedule(s, nowUs);
}

function onSynSentRecord(e: EngineContext, s: Session, flags: number, seq: number, ack: number, window: number, nowUs: number): void {
  const o = e.opts;
  const cfg = e.cfg;
  const synAck = TCP_SYN | TCP_ACK;
  if ((flags & synAck) === synAck) {
    if (ack !== ((s.iss + 1) >>> 0)) {
      e.tx.sendRst(s, ack, false, 0);
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
    if (s.retries === 0 && cfg.fixedRttUs === 0) {
      rttSample(s, cfg, nowUs - s.synSentAt);
      e.targetRtt.sample(s.targetIp, s.targetPort, nowUs - s.synSentAt);
    }
    s.retries = 0;
    s.backoff = 0;
    // A retransmitted SYN gives no sample (Karn): the target's other handshakes stand in for it.
    s.rto = s.srtt > 0 || cfg.fixedRttUs > 0 ? baseRto(s, cfg) : e.targetRtt.synRto(s.targetIp, s.targetPort, cfg);
    s.rtoAt = Infinity;
    s.phase = 'established';
    s.establishedAt = nowUs;
    s.lastRespAt = nowUs;
    e.stats.connectionsEstablished++;
    if (++e.stats.establishedSessions > e.stats.establishedPeak) e.stats.establishedPeak = e.stats.establishedSessions;
    if (cfg.mergeHandshakeAck) {
      // Data (or FIN) sent now carries ack = rcvNxt and completes the handshake by itself. With
      // nothing to send yet, the ACK waits a delayed-ACK time for the request to catch up (any
      // packet sent meanwhile cancels it); no longer, as a server-first protocol's greeting
      // waits for accept(), i.e. for this ACK.
      const sent = e.stats.packetsSent;
      pump(e, s, nowUs);
      if (e.stats.packetsSent === sent && s.phase === 'established') s.delAckAt = nowUs + cfg.delayedAckUs;
    } else {
      e.tx.sendAck(s, nowUs);
      pump(e, s, nowUs);
    }
    // Nothing to send yet (the request is further on in the capture): the handshake was the
    // opening. A request already sent keeps it opening until its answer.
    if (s.sndMax === s.sndUna) answered(e, s);
    return;
  }
  if ((flags & TCP_RST) !== 0) {
    if ((flags & TCP_ACK) !== 0 && ack === ((s.iss + 1) >>> 0)) finish(e, s, 'reset-by-target', nowUs, false);
    return;
  }
  if ((flags & TCP_ACK) !== 0) {
    // Not for our SYN: a stale connection on this tuple (or TIME_WAIT's challenge ACK). Reset
    // it as RFC 9293 says, then try the SYN again at once.
    e.stats.staleResponsesReset++;
    e.tx.sendRst(s, ack, false, 0);
    if (s.staleResets++ < 3) {
      e.tx.sendSyn(s, nowUs);
      e.stats.synRetransmits++;
    }
  }
}

function onEstablishedRecord(
  e: EngineContext,
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
  const st = e.stats;
  if ((flags & TCP_SYN) !== 0) {
    // A repeated SYN-ACK: our handshake ACK was lost.
    if ((flags & TCP_ACK) !== 0 && seq === s.irs) {
      st.synAckRepeats++;
      e.tx.sendAck(s, nowUs);
    }
    return;
  }
  if ((flags & TCP_RST) !== 0) {
    if (!seqInWindow(seq, s.rcvNxt)) return;
    const delivered = s.sndUna === s.sndMax && s.sendIdx >= s.items.length && (s.fin === null ? false : s.finSent);
    if (!delivered && tryReconnect(e, s, nowUs)) finish(e, s, 'reconnected', nowUs, false);
    else finish(e, s, delivered ? 'completed' : 'reset-by-target', nowUs, false);
    return;
  }
  if (hasTs && seqGeq(tsVal, s.tsRecent)) s.tsRecent = tsVal;

  // Acknowledgement of our data.
  if ((flags & TCP_ACK) !== 0) {
    const prevWnd = s.sndWnd;
    s.sndWnd = window << s.sndWscale;
    if (seqGt(ack, s.sndUna) && seqLeq(ack, s.sndMax)) {
      onAckAdvance(e, s, ack, nowUs);
    } else if (ack === s.sndUna && payLen === 0 && (flags & TCP_FIN) === 0 && s.sndUna !== s.sndMax && s.sndWnd === prevWnd) {
      if (++s.dupAcks === 3 && !s.inRecovery) {
        st.fastRetransmits++;
        s.inRecovery = true;
        s.recover = s.sndMax;
        e.tx.retransmitOne(s, nowUs);
        s.rtoAt = nowUs + currentRto(s, e.cfg);
      }
    }
  }

  // Response data and FIN (payload itself is not carried; only how much there was).
  let ackNow = false;
  let dupData = false;
  const segEnd = (seq + payLen) >>> 0;
  // Only records with data or FIN may move rcvNxt. A jump past rcvNxt means a record was lost
  // and the target did send those bytes. A pure ACK whose seq is ahead does not tell whether
  // the gap was data or the target's FIN, so it moves nothing: the target retransmits what
  // our ACKs do not cover, and a lost FIN is seen again instead of being acked unseen.
  if ((payLen > 0 || (flags & TCP_FIN) !== 0) && seqGt(segEnd, s.rcvNxt) && !s.serverFin) {
    s.respBytes += seqDiff(segEnd, s.rcvNxt);
    s.rcvNxt = segEnd;
    answered(e, s);
    if (payLen > 0) {
      s.lastRespAt = nowUs;
      s.respPush = (flags & TCP_PSH) !== 0;
      if ((flags & TCP_PSH) !== 0 || seqDiff(s.rcvNxt, s.rcvAcked) >= 2 * s.ourMss) ackNow = true;
      else if (s.delAckAt === Infinity) {
        // Not worth an ACK of its own yet: one ACK at the end of this turn covers every record
        // the turn brings (flushAcks); the timer only backs that up for callers that never flush.
        s.delAckAt = nowUs + e.cfg.delayedAckUs;
        e.ackQueue.push(s);
      }
    }
  } else if (payLen > 0) {
    dupData = true; // duplicate data: the target did not see our ACK
  }
  if ((flags & TCP_FIN) !== 0) {
    // segEnd may be behind rcvNxt when a lost FIN record made a later ACK's seq jump past it.
    if (!s.serverFin && seqLeq(segEnd, s.rcvNxt)) {
      if (segEnd === s.rcvNxt) s.rcvNxt = (s.rcvNxt + 1) >>> 0;
      s.serverFin = true;
      answered(e, s);
      s.targetClosedFirst = !s.finSent;
      s.lastRespAt = nowUs;
      s.respPush = true;
    }
    ackNow = true;
  }
  // A duplicate is answered at once. Otherwise the ACK waits for the caller's flushAcks (the
  // copier runs it when the channel read that brought this record returns): a request or FIN that
  // pump() sends below carries it, and data and FIN records read together share one ACK.
  if (dupData) e.tx.sendAck(s, nowUs);
  else if (ackNow) {
    if (s.finAcked && s.serverFin) e.tx.sendAck(s, nowUs); // the session ends below
    else deferAck(e, s, nowUs);
  }
  if (s.serverFin && e.cfg.closeWithTarget && s.fin === null && s.rst === null && ((s.sndNxt - s.seqOffset) >>> 0) === s.capEnd) {
    // Comet: the capture's own close was left out; the target ended the connection, so do we.
    s.fin = { seq: s.capEnd, origAck: s.turnInit ? s.turnAck : s.conn.base, thinkUs: 0 };
  }
  if (s.finAcked && s.serverFin) {
    finish(e, s, 'completed', nowUs, false);
    return;
  }
  // The target closed first with captured requests still to come: continue them on a new
  // connection and reset this one (which also spares the target a TIME_WAIT).
  if (s.serverFin && (flags & TCP_FIN) !== 0 && tryReconnect(e, s, nowUs)) {
    finish(e, s, 'reconnected', nowUs, true);
    return;
  }
  pump(e, s, nowUs);
}

/** An ACK due now, sent by flushAcks unless a packet sent before then carries it. */
function deferAck(e: EngineContext, s: Session, nowUs: number): void {
  // Already due now: queued in this turn. A second entry for a session queued with a later
  // deadline is harmless: flushAcks skips it once the first has sent the ACK.
  if (s.delAckAt > nowUs) {
    e.ackQueue.push(s);
    s.delAckAt = nowUs;
  }
}

/** New data acknowledged: release what the target has, sample the RTT, leave recovery. */
function onAckAdvance(e: EngineContext, s: Session, ack: number, nowUs: number): void {
  s.sndUna = ack;
  const off = s.seqOffset;
  // Release acknowledged captured bytes.
  const items = s.items;
  while (s.head < items.length) {
    const it = items[s.head] as Seg;
    if (seqGt((it.end + off) >>> 0, ack)) break;
    s.bytesDelivered += it.len;
    s.buffered -= it.len;
    e.bufferedTotal -= it.len;
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
  e.stats.bufferedBytes = e.bufferedTotal;
  if (s.finSent && ack === s.sndMax) s.finAcked = true;
  if (s.rttSentAt >= 0 && seqGeq(ack, s.rttSeq)) {
    if (e.cfg.fixedRttUs === 0) rttSample(s, e.cfg, nowUs - s.rttSentAt);
    s.rttSentAt = -1;
  }
  s.retries = 0;
  s.backoff = 0;
  s.dupAcks = 0;
  if (s.inRecovery) {
    if (seqLt(ack, s.recover)) e.tx.retransmitOne(s, nowUs);
    else s.inRecovery = false;
  }
  s.rtoAt = s.sndUna === s.sndMax ? Infinity : nowUs + currentRto(s, e.cfg);
}

/** A target RST is acceptable if its seq is at our rcvNxt or within a window past it. */
function seqInWindow(seq: number, rcvNxt: number): boolean {
  const d = seqDiff(seq, rcvNxt);
  return d >= -1 && d < 1 << 30;
}

/**
 * End of an I/O turn: ACK every session that got response data in it and has not ACKed it yet
 * (the caller runs this after handing over the turn's records), so a response is acknowledged
 * within the turn that brought it rather than a timer later.
 */
export function flushAcks(e: EngineContext, nowUs: number): void {
  const q = e.ackQueue;
  for (let i = 0; i < q.length; i++) {
    const s = q[i] as Session;
    if (s.phase === 'closed' || s.delAckAt === Infinity) continue;
    e.tx.sendAck(s, nowUs);
    e.reschedule(s, nowUs);
  }
  q.length = 0;
}
