import { seqDiff, seqGt } from '../packet/seq.js';
import type { Session } from './session.js';
import type { EngineStats } from './stats.js';
import type { EngineConfig } from './types.js';

/**
 * Response pacing. 0 = go now; otherwise the time to look again (Infinity = on the next
 * record). A packet whose captured ack is ahead of the current turn's is a new request: the
 * real client had received that many more response bytes before sending it, so wait until the
 * target sent as many; if the target's response is smaller, a quiet period ends it; a
 * response that never comes is waited for at most responseWaitMaxUs. Then keep the captured
 * think time, divided by -a.
 */
export function gate(s: Session, cfg: EngineConfig, stats: EngineStats, origAck: number, thinkUs: number, nowUs: number): number {
  if (cfg.noWait) return 0;
  if (!s.turnInit) {
    s.turnInit = true;
    s.turnAck = s.conn.hasBase ? s.conn.base : origAck;
  }
  if (!seqGt(origAck, s.turnAck)) return 0;
  if (s.turnReadyAt < 0) {
    const need = seqDiff(origAck, s.turnAck);
    // The target's FIN counts as one byte, as it does in the captured acks.
    const got = s.respBytes - s.turnResp + (s.serverFin ? 1 : 0);
    const since = Math.max(s.lastDataSentAt, s.establishedAt);
    const quiet = Math.max(cfg.responseQuietUs, 4 * (cfg.fixedRttUs > 0 ? cfg.fixedRttUs : s.srtt));
    // More than the capture showed is complete only at a push (the end of one of the
    // target's writes): a bigger test response may still be streaming.
    if (got >= need && (got === need || s.respPush)) {
      s.turnReadyAt = s.lastRespAt;
    } else if (got > 0 && s.respPush && s.lastDataSentAt < 0) {
      // A server-first greeting is one write: once it is pushed, a test build's greeting of
      // another length is complete too (no quiet-period stall per connection).
      s.turnReadyAt = s.lastRespAt;
    } else if (got > 0 && nowUs - s.lastRespAt >= quiet) {
      s.turnReadyAt = s.lastRespAt + quiet;
      stats.quietReleases++;
    } else if (nowUs - since >= cfg.responseWaitMaxUs) {
      s.turnReadyAt = nowUs;
      s.responseWaitsExpired++;
      stats.responseWaitsExpired++;
    } else {
      s.waitingResponse = true;
      let at = since + cfg.responseWaitMaxUs;
      if (got > 0) at = Math.min(at, s.lastRespAt + quiet);
      return at;
    }
  }
  s.waitingResponse = false;
  if (!cfg.preserveThinkTime || thinkUs <= 0) return 0;
  const readyAt = s.turnReadyAt + thinkUs / cfg.acceleration;
  if (nowUs >= readyAt) return 0;
  stats.thinkHolds++;
  return readyAt;
}

/** The packet passed its gate: if it starts a new turn, count response bytes from here. */
export function beginTurn(s: Session, stats: EngineStats, origAck: number, capPos: number): void {
  if (!s.turnInit) {
    s.turnInit = true;
    s.turnAck = origAck;
  }
  if (seqGt(origAck, s.turnAck)) {
    s.turnAck = origAck;
    s.turnResp = s.respBytes + (s.serverFin ? 1 : 0);
    s.turnReadyAt = -1;
    s.turnStartCap = capPos;
    s.turns++;
    stats.turns++;
  }
}
