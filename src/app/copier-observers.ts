import { ipToString } from '../core/packet/ipv4.js';
import { formatProgress } from '../core/replay/progress.js';
import type { Outcome, SessionInfo } from '../core/session/types.js';
import type { Copier } from './copier.js';
import type { CopierObserver, RunEnd } from './copier-observer.js';
import { EXIT_FAILED, EXIT_MEMORY, EXIT_OK } from './exit-codes.js';
import { summarize, type ReplayCounters } from './tcpcopy-summary.js';

/** The standard observers of a copier run (metrics live in copier-metrics.ts). */

type Terminal = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** The progress line on a terminal's stderr, redrawn every tick; log lines clear it first. */
export class ProgressBar implements CopierObserver {
  readonly name = 'progress bar';
  private copier: Copier | null = null;
  private shown = false;

  constructor(
    private readonly stderr: Terminal,
    /** Counters shown instead of the replay's (load mode's users and rates). */
    private readonly counters: (() => [string, number][]) | null = null,
  ) {}

  start(copier: Copier): void {
    this.copier = copier;
    copier.logger.beforeStderrLine = () => this.clear();
  }

  tick(nowUs: number): void {
    const c = this.copier;
    if (c === null) return;
    const p = c.source.progress();
    const st = c.engine.stats;
    const cols = this.stderr.columns ?? 0;
    const width = cols > 0 ? Math.max(40, cols - 1) : 100;
    const line = formatProgress(
      {
        bytesRead: p.bytes,
        totalBytes: p.totalBytes,
        elapsedUs: nowUs - c.startUs,
        loop: p.loop,
        loops: p.loops,
        counters: this.counters?.() ?? [
          // A live capture has no end to show progress to: what it lost matters instead.
          ...(c.source.pausable ? [] : ([['dropped', p.drops]] as const)),
          ['active', st.activeSessions],
          ['done', st.outcomeCompleted],
          ['req', st.turns],
          ['resp', st.responsesWithData],
        ],
      },
      width,
    );
    this.stderr.write(`\r${line}\x1b[K`);
    this.shown = true;
  }

  end(): void {
    this.clear();
  }

  private clear(): void {
    if (this.shown) this.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}

/** A stats line in the log every --stats-interval. */
export class StatsLog implements CopierObserver {
  readonly name = 'stats log';
  private copier: Copier | null = null;
  private last = 0;

  constructor(private readonly intervalMs: number) {}

  start(copier: Copier): void {
    this.copier = copier;
    this.last = copier.startUs;
  }

  tick(nowUs: number): void {
    const c = this.copier;
    if (c === null || this.intervalMs <= 0 || nowUs - this.last < this.intervalMs * 1000) return;
    this.last = nowUs;
    const s = c.engine.stats;
    const p = c.source.progress();
    const rs = c.rawSink?.stats;
    c.logger.info(
      `stats: active ${s.activeSessions}, started ${s.sessionsStarted}, established ${s.connectionsEstablished}, completed ${s.outcomeCompleted}, ` +
        `packets read ${p.packets}, used ${p.packetsUsed}${c.source.pausable ? '' : `, dropped ${p.drops}`}, sent ${s.packetsSent}, retransmits ${s.retransmits}, ` +
        `requests ${s.turns}, response segments ${s.responsesWithData}, records ${c.records}, ` +
        `raw queued ${rs?.queued ?? 0}, refused ${rs?.refused ?? 0}, rss ${Math.round(process.memoryUsage.rss() / 1048576)} MB`,
    );
  }
}

const MEMORY_CHECK_US = 2_000_000;

/** -m: stop cleanly (exit 3) when the process uses more memory than allowed. */
export class MemoryGuard implements CopierObserver {
  readonly name = 'memory guard';
  private copier: Copier | null = null;
  private last = 0;

  constructor(private readonly limitMb: number) {}

  start(copier: Copier): void {
    this.copier = copier;
  }

  tick(nowUs: number): void {
    const c = this.copier;
    if (c === null || nowUs - this.last < MEMORY_CHECK_US) return;
    this.last = nowUs;
    const rss = process.memoryUsage.rss();
    if (rss > this.limitMb * 1048576) {
      c.logger.errOut(`memory use ${Math.round(rss / 1048576)} MB is above the -m limit of ${this.limitMb} MB; stopping`);
      c.stop(EXIT_MEMORY, 'memory limit');
    }
  }
}

/** Warn once when SYNs went out this long ago and no record ever came back. */
const NO_RECORDS_WARN_US = 3_000_000;

/** An early hint while a long replay runs on: SYNs go out but nothing ever comes back. */
export class SilenceWarning implements CopierObserver {
  readonly name = 'silence warning';
  private copier: Copier | null = null;
  private firstSynUs = -1;
  private warned = false;

  start(copier: Copier): void {
    this.copier = copier;
  }

  tick(nowUs: number): void {
    const c = this.copier;
    if (c === null || this.warned || c.records !== 0 || c.engine.stats.synsSent === 0) return;
    if (this.firstSynUs < 0) this.firstSynUs = nowUs;
    else if (nowUs - this.firstSynUs >= NO_RECORDS_WARN_US) {
      this.warned = true;
      c.logger.warn(
        `${c.engine.stats.synsSent} SYNs sent but no interceptor record arrived in ${((nowUs - this.firstSynUs) / 1e6).toFixed(0)} s: ` +
          'check the NFQUEUE rule for the service port and the route back to the client addresses on the test server',
      );
    }
  }
}

/** --log-level debug: one line per session outcome. */
export class SessionDebugLog implements CopierObserver {
  readonly name = 'session log';
  private copier: Copier | null = null;

  start(copier: Copier): void {
    this.copier = copier;
  }

  sessionClosed(info: SessionInfo, outcome: Outcome): void {
    const log = this.copier?.logger;
    if (log === undefined || !log.enabled('debug')) return;
    log.debug(
      `session ${info.id} ${ipToString(info.onlineClientIp)}:${info.onlineClientPort} as ${ipToString(info.clientIp)}:${info.clientPort} ` +
        `→ ${ipToString(info.targetIp)}:${info.targetPort}: ${outcome} in ${((info.endUs - info.startUs) / 1000).toFixed(1)} ms ` +
        `(${info.turns} turns, ${info.bytesDelivered} B delivered, ${info.retransmits} retransmits)`,
    );
  }
}

/** The end summary on stdout (and in the log file); a run that established nothing fails. */
export class EndSummary implements CopierObserver {
  readonly name = 'summary';

  constructor(
    private readonly stdout: NodeJS.WritableStream,
    private readonly stderr: NodeJS.WritableStream,
    /** What the summary names: the input file and the -F text. */
    private readonly input: { file: string; filterText: string | null; seed: number },
  ) {}

  end(c: Copier, end: RunEnd): void {
    const rs = c.rawSink?.stats;
    const ru = process.resourceUsage();
    const counters: ReplayCounters = {
      ...c.source.totals(),
      durationUs: end.durationUs,
      records: c.records,
      channelConnects: c.channelClient?.stats.connectsOk ?? 0,
      rawSent: rs?.sent ?? 0,
      rawRefused: rs?.refused ?? 0,
      rawRefusedBy: { ...(rs?.refusedBy ?? {}) },
      rawQueued: rs?.queued ?? 0,
      cpuUserUs: ru.userCPUTime,
      cpuSystemUs: ru.systemCPUTime,
      maxRssBytes: ru.maxRSS * 1024,
    };
    const summary = summarize({
      file: this.input.file,
      transfers: c.engine.cfg.transfers,
      filterText: this.input.filterText,
      engine: c.engine.stats,
      counters,
      stoppedBy: end.stoppedBy,
      seed: this.input.seed,
    });
    const log = c.logger;
    for (const l of summary.lines) log.print(this.stdout, l);
    for (const w of summary.warnings) log.print(this.stderr, w, 'warn');
    const failure = summary.failure === null ? null : c.engine.stats.connectionsEstablished === 0 ? `no session could be established: ${summary.failure}` : `replay failed: ${summary.failure}`;
    if (end.code === EXIT_OK && failure !== null && end.stoppedBy === null) {
      log.errOut(failure);
      end.code = EXIT_FAILED;
    } else if (failure !== null && counters.live !== undefined) {
      // A live copy ends by a signal (exit 0), yet a copy that never worked must still be said.
      log.print(this.stderr, failure, 'warn');
    }
  }
}
