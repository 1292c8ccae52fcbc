import { getPriority, setPriority } from 'node:os';
import type { TcpcopyConfig } from '../core/config/tcpcopy-cli.js';
import { Copier, nowUs } from './copier.js';
import { CopierMetrics } from './copier-metrics.js';
import { LoadObserver } from './load-observer.js';
import { LoadSource } from './source/load-source.js';
import { EndSummary, MemoryGuard, ProgressBar, SessionDebugLog, SilenceWarning, StatsLog } from './copier-observers.js';
import { Disposers } from './disposers.js';
import { EXIT_FAILED, EXIT_USAGE } from './exit-codes.js';
import { PidFile } from './pid-file.js';
import { prepareRecording, runRecordOnly, type Recording } from './recording.js';
import { taskRoutes } from './store/task-routes.js';
import { ReplayReportObserver } from './report-observer.js';
import { RunLog } from './run-log.js';
import { openSource, SourceOpenError } from './source/open-source.js';
import type { PacketSource } from './source/packet-source.js';

export { EXIT_FAILED, EXIT_MEMORY, EXIT_OK, EXIT_USAGE } from './exit-codes.js';

export interface TcpcopyRunOptions {
  config: TcpcopyConfig;
  warnings: readonly string[];
  /** Summary and progress go here (stdout / stderr of the CLI). */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** --metrics-port/--metrics-bind: Prometheus endpoint while replaying; null/absent = none. */
  metrics?: { port: number; host: string } | null;
}

/**
 * Composition root of tcpcopy: the log, the packet source (a file or live capture, opened before
 * anything touches the network), the pid file, then the copier with its observers. Every resource goes on one
 * disposer stack that the copier unwinds on every exit path. Resolves with the exit code.
 */
export async function runTcpcopy(opts: TcpcopyRunOptions): Promise<number> {
  const cfg = opts.config;
  let log: RunLog;
  try {
    log = new RunLog('tcpcopy', cfg.logLevel, cfg.logFile, opts.stderr);
  } catch (err) {
    opts.stderr.write(`tcpcopy: -l ${JSON.stringify(cfg.logFile)}: cannot open the log file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const disposers = new Disposers();
  disposers.defer('log', () => log.close());
  for (const w of opts.warnings) log.warn(w);
  if (cfg.nice > 0) {
    // Before anything runs: on the online host the service must win the CPU, the copy may lag.
    try {
      setPriority(0, Math.min(19, getPriority(0) + cfg.nice));
      log.info(`--nice ${cfg.nice}: CPU priority now ${getPriority(0)}`);
    } catch (err) {
      log.warn(`--nice ${cfg.nice}: cannot lower the CPU priority: ${(err as Error).message}`);
    }
  }

  if (cfg.recordOnly) return runRecordOnly(cfg, log, disposers, opts.metrics ?? null);
  let recording: Recording | null = null;
  if (cfg.record !== null) {
    try {
      recording = await prepareRecording(cfg.record, cfg.filterText, log, disposers);
    } catch (err) {
      log.errOut((err as Error).message);
      await disposers.dispose();
      return EXIT_USAGE;
    }
  }

  let copier: Copier | null = null;
  let source: PacketSource;
  try {
    source = await openSource(cfg, {
      clock: nowUs,
      tap: recording?.tap ?? null,
      warn: (message) => log.warn(message),
      events: {
        wake: () => copier?.wake(),
        info: (message) => log.info(message),
        ended: () => {
          const t = source.totals();
          const what = t.live === undefined ? 'capture done' : 'capture stopped';
          log.info(`${what}: ${t.packetsRead} packets read, ${t.packetsUsed} replayed; ${copier?.engine.activeSessions ?? 0} session(s) still open`);
          copier?.wake();
        },
        error: (message) => {
          log.errOut(`cannot read on: ${message}`);
          copier?.stop(EXIT_FAILED, cfg.input.kind === 'file' ? 'capture file error' : cfg.input.kind === 'store' ? 'store read error' : 'capture device error');
        },
      },
    });
  } catch (err) {
    log.errOut(err instanceof SourceOpenError ? err.message : (err as Error).message);
    await disposers.dispose();
    return EXIT_USAGE;
  }

  disposers.defer('packet source', () => source.close());
  try {
    await recording?.start();
  } catch (err) {
    log.errOut((err as Error).message);
    await disposers.dispose();
    return EXIT_USAGE;
  }

  if (cfg.pidFile !== null) {
    try {
      const pid = PidFile.write(cfg.pidFile);
      disposers.defer('pid file', () => pid.remove());
    } catch (err) {
      log.errOut(`-P ${JSON.stringify(cfg.pidFile)}: cannot write the pid file: ${(err as Error).message}`);
      await disposers.dispose();
      return EXIT_USAGE;
    }
  }

  let report: ReplayReportObserver | null = null;
  if (cfg.report !== null) {
    try {
      report = ReplayReportObserver.create(cfg.report, { input: source.description, acceleration: cfg.acceleration }, opts.stdout, log);
    } catch (err) {
      log.errOut((err as Error).message);
      await disposers.dispose();
      return EXIT_USAGE;
    }
  }
  copier = new Copier({ config: cfg, log, source, disposers, onHangup: () => recording?.rotate() });
  if (report !== null) copier.collect(report.collector);
  const showProgress = opts.stderr.isTTY === true && !cfg.quiet;
  // Load mode (-u): the users' sessions end through this observer; it adds the load counters.
  const load = source instanceof LoadSource ? new LoadObserver(source, cfg.statsIntervalMs, { stdout: opts.stdout, stderr: opts.stderr, comet: cfg.load?.comet === true }) : null;
  if (load !== null) copier.observe(load);
  if (showProgress) copier.observe(new ProgressBar(opts.stderr, load === null ? null : () => load.progressCounters()));
  // With the progress bar on stderr, stats lines only go to a log file.
  if (!showProgress || cfg.logFile !== null) copier.observe(new StatsLog(cfg.statsIntervalMs));
  copier.observe(new MemoryGuard(cfg.memoryMb));
  copier.observe(new SilenceWarning());
  copier.observe(new SessionDebugLog());
  if (opts.metrics !== undefined && opts.metrics !== null) {
    const counters = recording?.counters;
    const extra = counters === undefined && load === null ? undefined : (): Record<string, number> => ({ ...counters?.(), ...load?.metrics() });
    copier.observe(new CopierMetrics(opts.metrics, recording?.control == null ? undefined : taskRoutes(recording.control), extra));
  }
  copier.observe(new EndSummary(opts.stdout, opts.stderr, { file: cfg.input.kind === 'file' ? cfg.input.path : source.description, filterText: cfg.filterText, seed: cfg.seed }));
  // After the summary: the report's headline comes last on stdout.
  if (report !== null) copier.observe(report);
  return copier.run();
}
