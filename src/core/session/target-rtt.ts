import type { EngineConfig } from './types.js';

/** Handshakes measured before a target's RTT stands in for a new session's own. */
const MIN_SAMPLES = 4;

interface TargetEntry {
  srtt: number;
  rttvar: number;
  samples: number;
}

/**
 * Handshake round-trip times per target (address and port), learnt across its sessions, as
 * Linux's tcp_metrics keeps them per destination. A new session's SYN then waits an RTO derived
 * from them (at least the minimum RTO) instead of RFC 6298's 1 s for an unknown path: when a busy
 * test server's accept queue drops a SYN, the retry comes 200 ms later, not a second later (the
 * stock copier resends after 100 ms). One entry per target, made on its first handshake.
 */
export class TargetRtt {
  private readonly byTarget = new Map<number, TargetEntry>();

  /** A SYN-ACK answered an unretransmitted SYN after `rttUs`. */
  sample(ip: number, port: number, rttUs: number): void {
    if (rttUs < 0) return;
    const key = (ip >>> 0) * 65536 + port;
    const t = this.byTarget.get(key);
    if (t === undefined) {
      this.byTarget.set(key, { srtt: rttUs, rttvar: rttUs / 2, samples: 1 });
      return;
    }
    t.rttvar = 0.75 * t.rttvar + 0.25 * Math.abs(t.srtt - rttUs);
    t.srtt = 0.875 * t.srtt + 0.125 * rttUs;
    t.samples++;
  }

  /** RTO for a new session's SYN to this target: from its measured handshakes, else the initial RTO. */
  synRto(ip: number, port: number, cfg: EngineConfig): number {
    const t = this.byTarget.get((ip >>> 0) * 65536 + port);
    if (t === undefined || t.samples < MIN_SAMPLES) return cfg.initialRtoUs;
    return Math.min(cfg.initialRtoUs, Math.max(cfg.minRtoUs, t.srtt + Math.max(4 * t.rttvar, 1000)));
  }
}
