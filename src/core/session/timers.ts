import { seqDiff, seqGt } from '../packet/seq.js';
import { closed, type EngineContext } from './context.js';
import { expireLingering, finish, retire } from './lifecycle.js';
import { pump } from './pump.js';
import { currentRto } from './rtt.js';
import type { Session } from './session.js';
import type { Outcome } from './types.js';

/**
 * Deadlines: every session has one heap entry at the earliest of its timers (delayed ACK, RTO,
 * hold, capture gap, idle), or at the end of its linger once closed.
 */
export function onTimer(e: EngineContext, nowUs: number): void {
  e.ports.expire(nowUs);
  expireLingering(e, nowUs);
  for (let guard = 0; guard < 10_000_000; guard++) {
    const s = e.heap.peek();
    if (s === undefined || s.deadline > nowUs) break;
    fire(e, s, nowUs);
  }
  e.stats.timeWaitTuples = e.ports.timeWaitCount;
}

function fire(e: EngineContext, s: Session, nowUs: number): void {
  if (s.phase === 'closed') {
    e.heap.remove(s);
    retire(e, s);
    return;
  }
  if (s.rtoAt <= nowUs) onRto(e, s, nowUs);
  if (closed(s)) return;
  if (s.holdAt <= nowUs) {
    s.holdAt = Infinity;
    pump(e, s, nowUs);
    if (closed(s)) return;
  }
  // After the sends above: any of them carried the ACK already (and cancelled this timer).
  if (s.delAckAt <= nowUs) e.tx.sendAck(s, nowUs);
  if (s.gapAt <= nowUs) {
    s.gapAt = Infinity;
    if (s.conn.gapSinceUs >= 0) {
      finish(e, s, 'capture-gap', nowUs, true);
      return;
    }
  }
  if (s.idleAt <= nowUs) {
    let outcome: Outcome = 'idle-timeout';
    if (s.phase === 'synSent') outcome = 'timeout-synack';
    else if (s.sndUna !== s.sndMax) outcome = 'timeout-ack';
    else if (s.waitingResponse) outcome = 'timeout-response';
    finish(e, s, outcome, nowUs, true);
    return;
  }
  e.reschedule(s, nowUs);
}

/** Retransmission timeout: SYN again, resend from sndUna, or a zero-window probe. */
function onRto(e: EngineContext, s: Session, nowUs: number): void {
  const cfg = e.cfg;
  s.rtoAt = Infinity;
  if (s.phase === 'synSent') {
    if (s.retries >= cfg.synRetries) {
      finish(e, s, 'timeout-synack', nowUs, false);
      return;
    }
    s.retries++;
    s.backoff++;
    e.stats.synRetransmits++;
    e.tx.sendSyn(s, nowUs);
    return;
  }
  if (s.sndUna !== s.sndMax) {
    if (s.retries >= cfg.dataRetries) {
      finish(e, s, 'timeout-ack', nowUs, true);
      return;
    }
    s.retries++;
    s.backoff++;
    s.inRecovery = true;
    s.recover = s.sndMax;
    s.dupAcks = 0;
    e.tx.retransmitOne(s, nowUs);
    s.rtoAt = nowUs + currentRto(s, cfg);
    return;
  }
  // Nothing in flight: a persist probe if the window is shut and data waits.
  const capPos = (s.sndNxt - s.seqOffset) >>> 0;
  if (s.sndWnd <= 0 && capPos !== s.capEnd && s.gatedItem !== null) {
    if (s.sendIdx < s.head) s.sendIdx = s.head;
    const it = s.items[s.sendIdx];
    if (it !== undefined && seqGt(it.end, capPos) && (capPos !== it.seq || s.gatedItem === it)) {
      e.stats.persistProbes++;
      e.tx.sendData(s, it, seqDiff(capPos, it.seq), 1, nowUs);
      s.backoff = Math.min(s.backoff + 1, 16);
      s.rtoAt = nowUs + currentRto(s, cfg);
    }
  }
}
