import { OUTCOMES, type Outcome, type SessionInfo } from '../core/session/types.js';
import { nowUs, type Copier } from './copier.js';
import type { CopierObserver } from './copier-observer.js';
import type { LoadSource } from './source/load-source.js';

/** Rates are measured over this window (the housekeeping tick is 250 ms). */
const RATE_WINDOW_US = 1_000_000;
/** Outcomes that are not failures of a user's session. */
const NOT_FAILURES: ReadonlySet<Outcome> = new Set<Outcome>(['completed', 'reset-as-captured', 'reconnected']);

export interface LoadRates {
  establishedPerSecond: number;
  requestsPerSecond: number;
  responsesPerSecond: number;
}

/**
 * Load mode's observer: passes session outcomes to the source (a user's next session starts when
 * its current one is over), keeps the live rates (established/s, requests released/s — each is sent
 * once its connection is up and the previous response came —, response segments/s), logs
 * a load line every --stats-interval, feeds the progress bar and the metrics, and prints the
 * end summary: the peak concurrency reached against the users requested.
 */
export class LoadObserver implements CopierObserver {
  readonly name = 'load mode';
  private copier: Copier | null = null;
  private last = { atUs: 0, established: 0, requests: 0, responses: 0 };
  private rates: LoadRates = { establishedPerSecond: 0, requestsPerSecond: 0, responsesPerSecond: 0 };
  private peakEstablishRate = 0;
  private lastLogUs = 0;
  private startUs = 0;
  /** When established sessions first reached the peak users, and for how long they stayed ≥ 99% of -u. */
  private heldSinceUs = -1;
  private heldLongestUs = 0;

  constructor(
    private readonly source: LoadSource,
    private readonly statsIntervalMs: number,
    private readonly out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; comet: boolean },
  ) {}

  start(copier: Copier): void {
    this.copier = copier;
    this.startUs = nowUs();
    this.last.atUs = this.startUs;
    this.lastLogUs = this.startUs;
    copier.logger.info(this.source.describeStore());
  }

  sessionClosed(info: SessionInfo, outcome: Outcome): void {
    // Closed by the copier because the run ends (--end-grace over, a signal): not a failure.
    const c = this.copier;
    const atEnd = c !== null && (c.stopping || (this.source.ended && outcome === 'idle-timeout'));
    this.source.sessionClosed(info, outcome, nowUs(), atEnd);
  }

  tick(now: number): void {
    const c = this.copier;
    if (c === null) return;
    const st = c.engine.stats;
    const lc = this.source.counters;
    const held = st.establishedSessions >= 0.99 * this.source.counters.usersRequested;
    if (held && this.heldSinceUs < 0) this.heldSinceUs = now;
    if (!held) this.heldSinceUs = -1;
    if (this.heldSinceUs >= 0) this.heldLongestUs = Math.max(this.heldLongestUs, now - this.heldSinceUs);
    const dt = now - this.last.atUs;
    if (dt >= RATE_WINDOW_US) {
      const per = 1e6 / dt;
      this.rates = {
        establishedPerSecond: Math.round((st.connectionsEstablished - this.last.established) * per),
        requestsPerSecond: Math.round((lc.requestsReleased - this.last.requests) * per),
        responsesPerSecond: Math.round((st.responsesWithData - this.last.responses) * per),
      };
      this.peakEstablishRate = Math.max(this.peakEstablishRate, this.rates.establishedPerSecond);
      this.last = { atUs: now, established: st.connectionsEstablished, requests: lc.requestsReleased, responses: st.responsesWithData };
    }
    if (this.statsIntervalMs > 0 && now - this.lastLogUs >= this.statsIntervalMs * 1000) {
      this.lastLogUs = now;
      c.logger.info(this.line());
    }
  }

  /** For the progress bar. */
  progressCounters(): [string, number][] {
    const lc = this.source.counters;
    const st = this.copier?.engine.stats;
    return [
      ['users', lc.usersActive],
      ['est', st?.establishedSessions ?? 0],
      ['est/s', this.rates.establishedPerSecond],
      ['req/s', this.rates.requestsPerSecond],
      ['resp seg/s', this.rates.responsesPerSecond],
      ['failed', this.failures().reduce((n, [, v]) => n + v, 0)],
    ];
  }

  /** For the metrics endpoint (gauges named in io/metrics.ts). */
  metrics(): Record<string, number> {
    const lc = this.source.counters;
    return {
      loadUsersRequested: lc.usersRequested,
      loadUsersActive: lc.usersActive,
      loadUsersPeak: lc.usersPeak,
      loadSessionsStarted: lc.sessionsStarted,
      loadSessionsEnded: lc.sessionsEnded,
      loadEstablishedPerSecond: this.rates.establishedPerSecond,
      loadRequestsPerSecond: this.rates.requestsPerSecond,
      loadResponsesPerSecond: this.rates.responsesPerSecond,
    };
  }

  end(c: Copier): void {
    const lc = this.source.counters;
    const st = c.engine.stats;
    const pct = (n: number): string => `${((100 * n) / lc.usersRequested).toFixed(1)}%`;
    const runS = (nowUs() - this.startUs) / 1e6;
    const lines = [
      `load: ${lc.usersRequested} users requested; peak ${lc.usersPeak} users running at once (${pct(lc.usersPeak)}, reached after ${(lc.usersPeakAtUs / 1e6).toFixed(1)} s), ` +
        `peak ${st.establishedPeak} established connections at once (${pct(st.establishedPeak)}); ≥ 99% of the users established for ${(this.heldLongestUs / 1e6).toFixed(1)} s`,
      `load: ${lc.sessionsStarted} user sessions started, ${lc.sessionsEnded} ended; ${st.connectionsEstablished} connections established ` +
        `(${runS > 0 ? Math.round(st.connectionsEstablished / runS) : 0}/s on average, peak ${this.peakEstablishRate}/s), ${lc.requestsReleased} requests released to the engine, ${st.responsesWithData} response segments`,
      `load: failures by cause: ${this.failureText()}; ${this.source.closedAtEnd} session(s) still open at the end of the run (reset then)`,
    ];
    for (const l of lines) c.logger.print(this.out.stdout, l);
    // Comet users hold their connections: all of them should have been established at once.
    if (this.out.comet && st.establishedPeak < lc.usersRequested) {
      c.logger.print(this.out.stderr, `load: the requested ${lc.usersRequested} users were not all established at once (peak ${st.establishedPeak}): see the failures above and the target's limits (backlog, somaxconn, open files)`, 'warn');
    }
  }

  private failures(): [string, number][] {
    return OUTCOMES.filter((o) => !NOT_FAILURES.has(o)).map((o): [string, number] => [o, this.source.outcomes.get(o) ?? 0]).filter(([, n]) => n > 0);
  }

  private failureText(): string {
    const f = this.failures();
    return f.length === 0 ? 'none' : f.map(([k, v]) => `${k} ${v}`).join(', ');
  }

  private line(): string {
    const lc = this.source.counters;
    const st = this.copier?.engine.stats;
    return (
      `load: users ${lc.usersActive} of ${lc.usersRequested} (peak ${lc.usersPeak}), established ${st?.establishedSessions ?? 0}, ` +
      `${this.rates.establishedPerSecond} established/s, ${this.rates.requestsPerSecond} requests released/s, ${this.rates.responsesPerSecond} response segments/s, ` +
      `sessions ${lc.sessionsStarted} started, failures: ${this.failureText()}`
    );
  }
}
