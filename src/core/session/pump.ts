import { seqDiff, seqLeq } from '../packet/seq.js';
import { TCP_ACK, TCP_FIN } from '../packet/tcp.js';
import type { EngineContext } from './context.js';
import { finish, tryReconnect } from './lifecycle.js';
import { beginTurn, gate } from './pacing.js';
import { currentRto } from './rtt.js';
import type { Session } from './session.js';

/**
 * Send whatever the capture, the response pacing and the target's window allow, in capture
 * order: data, then the captured FIN or RST. Holds (think time, bounded response waits) set
 * holdAt.
 */
export function pump(e: EngineContext, s: Session, nowUs: number): void {
  if (s.phase !== 'established') return;
  const cfg = e.cfg;
  const st = e.stats;
  const off = s.seqOffset;
  for (let guard = 0; guard < 100000; guard++) {
    const capPos = (s.sndNxt - off) >>> 0;
    if (capPos !== s.capEnd) {
      if (s.sendIdx < s.head) s.sendIdx = s.head;
      let it = s.items[s.sendIdx];
      while (it !== undefined && seqLeq(it.end, capPos)) it = s.items[++s.sendIdx];
      if (it === undefined) return;
      if (capPos === it.seq && s.gatedItem !== it) {
        const wait = gate(s, cfg, st, it.origAck, it.thinkUs, nowUs);
        if (wait !== 0) {
          s.holdAt = wait;
          return;
        }
        // The target already closed: a new request would only be reset. Open a new connection.
        if (s.serverFin && tryReconnect(e, s, nowUs)) {
          finish(e, s, 'reconnected', nowUs, true);
          return;
        }
        s.gatedItem = it;
        beginTurn(s, st, it.origAck, it.seq);
      }
      const inFlight = seqDiff(s.sndNxt, s.sndUna);
      const room = s.sndWnd - inFlight;
      if (room <= 0) {
        // Zero window with nothing in flight: the RTO timer doubles as the persist timer.
        if (inFlight === 0 && s.rtoAt === Infinity) s.rtoAt = nowUs + currentRto(s, cfg);
        return;
      }
      const n = Math.min(seqDiff(it.end, capPos), e.tx.pieceMax(s), room);
      e.tx.sendData(s, it, seqDiff(capPos, it.seq), n, nowUs);
      continue;
    }
    if (s.fin !== null && !s.finSent && s.rst === null) {
      const wait = gate(s, cfg, st, s.fin.origAck, s.fin.thinkUs, nowUs);
      if (wait !== 0) {
        s.holdAt = wait;
        return;
      }
      beginTurn(s, st, s.fin.origAck, s.capEnd);
      s.finSent = true;
      e.tx.emit(s, TCP_FIN | TCP_ACK, s.sndNxt, null, 0, 0, 0, 0, nowUs);
      st.finsSent++;
      s.sndNxt = (s.sndNxt + 1) >>> 0;
      s.sndMax = s.sndNxt;
      if (s.rtoAt === Infinity) s.rtoAt = nowUs + currentRto(s, cfg);
      return;
    }
    if (s.rst !== null) {
      const wait = gate(s, cfg, st, s.rst.origAck, s.rst.thinkUs, nowUs);
      if (wait !== 0) {
        s.holdAt = wait;
        return;
      }
      if (s.sndUna !== s.sndNxt) return; // let the data land first
      e.tx.sendRst(s, s.sndNxt, true, nowUs);
      s.resetSent = true;
      finish(e, s, 'reset-as-captured', nowUs, false);
    }
    return;
  }
}
