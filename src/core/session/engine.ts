import type { Buffer } from 'node:buffer';
import { onCaptured } from './capture.js';
import { EngineContext } from './context.js';
import { closeAll } from './lifecycle.js';
import { flushAcks, onResponse } from './responses.js';
import type { EngineStats } from './stats.js';
import { onTimer } from './timers.js';
import type { EngineConfig, EngineSink, Outcome, SessionInfo } from './types.js';

export { clockIsn } from './lifecycle.js';

/**
 * The session engine (pure): captured client packets and interceptor records in, packets and
 * session outcomes out through the sink; time only as arguments. See docs/session-engine.md for
 * the stock behaviour this follows and the weaknesses it fixes. Its concerns live in their own
 * files over one shared EngineContext (see context.ts).
 *
 * Inputs:
 *  - onCaptured(pkt, ipOff, capLen, nowUs, capTsUs, transferIdx): a client→server packet, in
 *    capture order, at the moment the caller's file/live pacing releases it. capTsUs is its
 *    capture timestamp (defaults to nowUs), used for think time; transferIdx is the -x entry the
 *    source already matched (default −1: the engine matches it).
 *  - onResponse(rec, off, nowUs, recLen): one 64/192-byte interceptor record.
 *  - flushAcks(nowUs): after the records of an I/O turn (else a timer ACKs them a little later).
 *  - onTimer(nowUs): call at (or after) nextDeadline().
 * nowUs should be a wall-clock time (µs since the epoch): ISNs and TS values derive from it, so
 * they keep rising across runs and a new incarnation beats the target's TIME_WAIT.
 */
export class SessionEngine {
  readonly stats: EngineStats;
  private readonly e: EngineContext;

  constructor(
    readonly cfg: EngineConfig,
    sink: EngineSink,
  ) {
    this.e = new EngineContext(cfg, sink);
    this.stats = this.e.stats;
  }

  /** Interceptor connectivity (from the channel). Without one, new sessions don't start unless -L. */
  setInterceptorAvailable(up: boolean): void {
    this.e.interceptorUp = up;
  }

  /** Earliest time onTimer should run, or Infinity when nothing is scheduled. */
  nextDeadline(): number {
    const top = this.e.heap.peek();
    return top === undefined ? Infinity : top.deadline;
  }

  get activeSessions(): number {
    return this.e.stats.activeSessions;
  }

  /** Sessions whose handshake or first request the target has not answered yet. */
  get openingSessions(): number {
    return this.e.stats.openingSessions;
  }

  /** Look up a live or lingering session by its rewritten tuple (tests, reports). */
  sessionFor(clientIp: number, clientPort: number, targetIp: number, targetPort: number): SessionInfo | undefined {
    return this.e.byTarget.get(clientIp, clientPort, targetIp, targetPort);
  }

  onCaptured(pkt: Buffer, ipOff: number, capLen: number, nowUs: number, capTsUs = nowUs, transferIdx = -1): void {
    onCaptured(this.e, pkt, ipOff, capLen, nowUs, capTsUs, transferIdx);
  }

  /**
   * One response record at rec[off]: IPv4 header at +0, TCP header at +20 even when the IHL
   * says more (a stock interceptor leaves IHL > 5 but copies only 20 bytes), options clamped
   * to the record (recLen 64, or 192 for the payload variant).
   */
  onResponse(rec: Buffer, off: number, nowUs: number, recLen = 64): void {
    onResponse(this.e, rec, off, nowUs, recLen);
  }

  /** After the records of one I/O turn: ACK the response data they brought (one ACK per session). */
  flushAcks(nowUs: number): void {
    if (this.e.ackQueue.length > 0) flushAcks(this.e, nowUs);
  }

  onTimer(nowUs: number): void {
    onTimer(this.e, nowUs);
  }

  /**
   * Announce the route of every live session again (CLIENT_ADD): an interceptor that restarted,
   * or reconnected after a drop, has forgotten them. Returns how many were announced.
   */
  announceRoutes(): number {
    let n = 0;
    const sink = this.e.sink;
    this.e.byTarget.forEach((s) => {
      if (s.phase === 'closed') return;
      sink.routeAdd(s.clientIp, s.clientPort, s.targetIp, s.targetPort);
      n++;
    });
    return n;
  }

  /** End every live session now (e.g. at the end of an offline replay), with `outcome`. */
  closeAll(nowUs: number, outcome: Outcome = 'idle-timeout'): void {
    closeAll(this.e, nowUs, outcome);
  }
}
