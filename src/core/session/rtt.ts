import type { Session } from './session.js';
import type { EngineConfig } from './types.js';

/**
 * Retransmission timing (RFC 6298 shape): srtt/rttvar from samples taken on data that was not
 * retransmitted (Karn), exponential backoff, bounded by min/max. `-R` replaces measurement
 * with a fixed RTT (RTO = 3 × R).
 */

export function baseRto(s: Session, cfg: EngineConfig): number {
  if (cfg.fixedRttUs > 0) return Math.min(cfg.maxRtoUs, Math.max(cfg.minRtoUs, 3 * cfg.fixedRttUs));
  if (s.srtt > 0) return Math.min(cfg.maxRtoUs, Math.max(cfg.minRtoUs, s.srtt + Math.max(4 * s.rttvar, 1000)));
  return cfg.initialRtoUs;
}

/** The RTO with the session's current backoff applied. */
export function currentRto(s: Session, cfg: EngineConfig): number {
  return Math.min(cfg.maxRtoUs, s.rto * 2 ** s.backoff);
}

export function rttSample(s: Session, cfg: EngineConfig, r: number): void {
  if (r < 0) return;
  if (s.srtt === 0) {
    s.srtt = r;
    s.rttvar = r / 2;
  } else {
    s.rttvar = 0.75 * s.rttvar + 0.25 * Math.abs(s.srtt - r);
    s.srtt = 0.875 * s.srtt + 0.125 * r;
  }
  s.rto = baseRto(s, cfg);
}
