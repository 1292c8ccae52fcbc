import { statSync, unlinkSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Buffer } from 'node:buffer';
import { CaptureError, type CaptureWarning } from '../core/capture/errors.js';
import type { CaptureRecord } from '../core/capture/record.js';
import type { TcpcopyConfig } from '../core/config/tcpcopy-cli.js';
import { ipToString } from '../core/packet/ipv4.js';
import { Pacer } from '../core/replay/pacer.js';
import { formatProgress } from '../core/replay/progress.js';
import { SessionEngine } from '../core/session/engine.js';
import type { EngineSink } from '../core/session/types.js';
import { ChannelClient, ChannelConnectError } from '../io/channel-client.js';
import { Logger, type LogLevel } from '../io/logger.js';
import { CaptureFileReader } from '../io/pcap-file.js';
import { RawSink, RawSinkError } from '../io/raw-sink.js';
import { ReplaySource } from './tcpcopy-source.js';
import { MAX_FRAME_RECORDS, MAX_FRAME_RECORDS_PAYLOAD, PAYLOAD_RECORD_SIZE, RECORD_SIZE } from '../core/wire/constants.js';
// Types only: the metrics module (node:http + prom-client, ~40 ms of start-up CPU) is loaded
// when --metrics-port asks for it.
import type { MetricsServer } from '../io/metrics.js';
import { summarize, transfersText, type ReplayCounters } from './tcpcopy-summary.js';

/**
 * Composition root of the offline copier:
 *
 *   capture file → -F filter → -x match → pacer (-a, -I, -T, --rate) → session engine
 *   engine effects → raw IPv4 sink (packets) / channel (CLIENT_ADD, CLIENT_DEL)
 *   channel records → engine.onResponse
 *
 * One timer, armed for the earlier of the engine's next deadline and the next packet's release
 * time; one setImmediate coalesces everything that happened in an I/O turn (records, drains).
 * Resolves with the exit code; the CLI exits with it.
 */
export const EXIT_OK = 0;
/** The replay ran but established nothing, or stopped on a runtime error. */
export const EXIT_FAILED = 1;
/** Bad command line or unusable input file. */
export const EXIT_USAGE = 2;
/** -m exceeded. */
export const EXIT_MEMORY = 3;

export interface TcpcopyRunOptions {
  config: TcpcopyConfig;
  warnings: readonly string[];
  /** Summary and progress go here (stdout / stderr of the CLI). */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** --metrics-port/--metrics-bind: Prometheus endpoint while replaying; null/absent = none. */
  metrics?: { port: number; host: string } | null;
}

const HOUSEKEEPING_MS = 250;
const MEMORY_CHECK_MS = 2000;
/** Warn once when SYNs went out this long ago and no record ever came back. */
const NO_RECORDS_WARN_US = 3_000_000;

/** Wall-clock µs (the engine derives ISNs and TS values from it), monotonic within the process. */
function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export async function runTcpcopy(opts: TcpcopyRunOptions): Promise<number> {
  const cfg = opts.config;
  // The progress bar shares stderr with log lines: each line first clears the bar (it is
  // redrawn on the next tick).
  let beforeStderrLine = (): void => undefined;
  class ReplayLogger extends Logger {
    override log(level: LogLevel, message: string): void {
      if (cfg.logFile === null && this.enabled(level)) beforeStderrLine();
      super.log(level, message);
    }
  }
  let log: ReplayLogger;
  try {
    log = new ReplayLogger({ name: 'tcpcopy', level: cfg.logLevel, file: cfg.logFile });
  } catch (err) {
    opts.stderr.write(`tcpcopy: -l ${JSON.stringify(cfg.logFile)}: cannot open the log file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const errOut = (line: string): void => {
    beforeStderrLine();
    opts.stderr.write(`tcpcopy: ${line}\n`);
    if (cfg.logFile !== null) log.error(line);
  };
  for (const w of opts.warnings) log.warn(w);

  // ---- input file: opened and its header checked before anything touches the network ----
  let fileSize = 0;
  let reader: CaptureFileReader;
  let first: CaptureRecord | null = null;
  const onWarning = (w: CaptureWarning): void => log.warn(`${w.source}: byte offset ${w.offset}: ${w.message}`);
  try {
    const st = statSync(cfg.pcapFile);
    if (!st.isFile()) throw new Error('not a regular file');
    fileSize = st.size;
    reader = CaptureFileReader.open(cfg.pcapFile, { onWarning });
    first = await reader.next();
  } catch (err) {
    const why = err instanceof CaptureError ? err.message : `${cfg.pcapFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    errOut(`-i ${JSON.stringify(cfg.pcapFile)}: cannot replay: ${why} (expected a readable pcap or pcapng file)`);
    log.close();
    return EXIT_USAGE;
  }

  // ---- pid file ----
  let pidWritten = false;
  const removePid = (): void => {
    if (!pidWritten || cfg.pidFile === null) return;
    pidWritten = false;
    try {
      unlinkSync(cfg.pidFile);
    } catch {
      // already gone
    }
  };
  if (cfg.pidFile !== null) {
    try {
      writeFileSync(cfg.pidFile, `${process.pid}\n`);
      pidWritten = true;
    } catch (err) {
      errOut(`-P ${JSON.stringify(cfg.pidFile)}: cannot write the pid file: ${(err as Error).message}`);
      reader.close();
      log.close();
      return EXIT_USAGE;
    }
  }
  process.on('exit', removePid);

  // ---- counters kept by the app ----
  const counters: ReplayCounters = {
    packetsRead: 0,
    packetsUsed: 0,
    nonIpv4: 0,
    filteredOut: 0,
    notMatched: 0,
    truncatedRecords: 0,
    runsDone: 0,
    runs: cfg.loops,
    unmatchedDestinations: [],
    durationUs: 0,
    records: 0,
    channelConnects: 0,
    rawSent: 0,
    rawRefused: 0,
    rawRefusedBy: {},
    rawQueued: 0,
    cpuUserUs: 0,
    cpuSystemUs: 0,
    maxRssBytes: 0,
  };

  // ---- engine and its effects ----
  let sink: RawSink | null = null;
  let channel: ChannelClient | null = null;
  const engineSink: EngineSink = {
    send: (buf: Buffer, len: number) => {
      // Destination = the packet's own IP destination (the -x target).
      sink?.send(buf, 0, len, buf.readUInt32BE(16));
    },
    routeAdd: (cip, cport, tip, tport) => (channel === null ? false : channel.sendClientAdd(cip, cport, tip, tport)),
    routeDel: (cip, cport, tip, tport) => {
      channel?.sendClientDel(cip, cport, tip, tport);
    },
    sessionClosed: (info, outcome) => {
      if (log.enabled('debug')) {
        log.debug(
          `session ${info.id} ${ipToString(info.onlineClientIp)}:${info.onlineClientPort} as ${ipToString(info.clientIp)}:${info.clientPort} ` +
            `→ ${ipToString(info.targetIp)}:${info.targetPort}: ${outcome} in ${((info.endUs - info.startUs) / 1000).toFixed(1)} ms ` +
            `(${info.turns} turns, ${info.bytesDelivered} B delivered, ${info.retransmits} retransmits)`,
        );
      }
    },
    log: (message) => log.info(message),
  };
  const engine = new SessionEngine(cfg.engine, engineSink);

  // ---- raw socket ----
  try {
    sink = RawSink.open();
  } catch (err) {
    errOut(err instanceof RawSinkError ? err.message : `cannot open the raw socket: ${(err as Error).message}`);
    reader.close();
    removePid();
    log.close();
    return EXIT_FAILED;
  }

  // ---- run state ----
  const startUs = nowUs();
  const pacer = new Pacer({ acceleration: cfg.fastest ? 1 : cfg.acceleration, idleCapMs: cfg.idleCapMs, fastest: cfg.fastest, loops: cfg.loops });
  let finished = false;
  let timer: NodeJS.Timeout | null = null;
  let timerAt = Infinity;
  let immediate = false;
  let lastActivity = 0;
  let lastActivityUs = 0;
  let resolveExit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((r) => (resolveExit = r));
  const intervals: NodeJS.Timeout[] = [];
  const recordSize = cfg.withPayload ? PAYLOAD_RECORD_SIZE : RECORD_SIZE;
  const source = new ReplaySource(
    {
      file: cfg.pcapFile,
      fileSize,
      transfers: cfg.transfers,
      filter: cfg.filter,
      pacer,
      onWarning,
      events: {
        wake: () => kick(),
        runDone: (loop) => log.info(`run ${loop + 1} of ${cfg.loops} done; replaying ${cfg.pcapFile} again`),
        inputDone: () => {
          const sc = source.counters;
          log.info(`capture done: ${sc.packetsRead} packets read, ${sc.packetsUsed} replayed; ${engine.activeSessions} session(s) still open`);
        },
        error: (message) => {
          errOut(`cannot read on: ${message}`);
          void finish(EXIT_FAILED, 'capture file error');
        },
      },
    },
    reader,
    first,
  );
  const writable = (): boolean => sink === null || sink.writable;
  const deliver = (buf: Buffer, ipOff: number, capLen: number, tsUs: number): void => engine.onCaptured(buf, ipOff, capLen, feedNow, tsUs);
  let feedNow = 0;

  const arm = (now: number): void => {
    let at = engine.nextDeadline();
    // A packet waiting for its time (not for kernel push-back: 'drain' wakes that one).
    if (writable() && source.nextReleaseUs < at) at = source.nextReleaseUs;
    if (at === Infinity) {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      timerAt = Infinity;
      return;
    }
    if (timer !== null && timerAt <= at && timerAt > now) return; // an earlier wake-up is set
    if (timer !== null) clearTimeout(timer);
    const ms = Math.max(0, Math.ceil((at - now) / 1000));
    timerAt = now + ms * 1000;
    timer = setTimeout(onTimer, ms);
  };

  // Wake-up accounting (logged at the end): the copier's CPU at low rates is mostly per wake-up.
  let timerFires = 0;
  let serviceRuns = 0;
  const onTimer = (): void => {
    timerFires++;
    timer = null;
    timerAt = Infinity;
    service();
  };

  function kick(): void {
    if (immediate || finished) return;
    immediate = true;
    setImmediate(() => {
      immediate = false;
      service();
    });
  }

  function service(): void {
    if (finished) return;
    serviceRuns++;
    const now = nowUs();
    if (engine.nextDeadline() <= now) engine.onTimer(now);
    feedNow = now;
    if (source.feed(now, writable, deliver) === 'more') kick();
    arm(now);
    if (source.inputDone && engine.activeSessions === 0) void finish(EXIT_OK, null);
  }

  // ---- channel ----
  channel = new ChannelClient({
    interceptors: cfg.interceptors,
    connections: cfg.connections,
    lonely: cfg.lonely,
    recordSize: cfg.withPayload ? PAYLOAD_RECORD_SIZE : RECORD_SIZE,
    maxFrameRecords: cfg.withPayload ? MAX_FRAME_RECORDS_PAYLOAD : MAX_FRAME_RECORDS,
    onRecord: (buf, off) => {
      counters.records++;
      engine.onResponse(buf, off, nowUs(), recordSize);
      kick();
    },
  });
  channel.on('interceptorUp', (_i, address) => {
    engine.setInterceptorAvailable(true);
    log.info(`interceptor ${address} connected`);
  });
  channel.on('interceptorDown', (_i, address) => {
    log.warn(`lost every connection to interceptor ${address}`);
    if (channel !== null && channel.activeInterceptors === 0) engine.setInterceptorAvailable(false);
  });
  channel.on('connectFailed', (info, reason, retry) => {
    if (channel !== null && channel.activeInterceptors > 0) log.debug(`connect to ${info.address} failed (${reason}); retry in ${retry} ms`);
  });
  channel.on('allDown', () => {
    errOut('lost every interceptor connection; stopping (use -L to keep replaying without one)');
    void finish(EXIT_FAILED, 'interceptor lost');
  });
  try {
    await channel.start();
  } catch (err) {
    errOut(err instanceof ChannelConnectError ? err.message : `cannot connect to the interceptor: ${(err as Error).message}`);
    channel.close();
    sink.close();
    source.close();
    removePid();
    log.close();
    return EXIT_FAILED;
  }
  engine.setInterceptorAvailable(channel.activeInterceptors > 0);
  if (channel.activeInterceptors === 0) log.warn('no interceptor reachable; -L: replaying anyway, reconnecting in the background');

  let metrics: MetricsServer | null = null;
  if (opts.metrics !== undefined && opts.metrics !== null) {
    const m = opts.metrics;
    try {
      const { COPIER_METRICS, startMetricsServer } = await import('../io/metrics.js');
      metrics = await startMetricsServer({
        prefix: COPIER_METRICS.prefix,
        port: m.port,
        host: m.host,
        snapshot: () => ({
          ...engine.stats.snapshot(),
          packetsRead: source.counters.packetsRead,
          packetsUsed: source.counters.packetsUsed,
          interceptorRecords: counters.records,
          rawRefused: sink?.stats.refused ?? 0,
          rawQueued: sink?.stats.queued ?? 0,
        }),
        gauges: COPIER_METRICS.gauges,
      });
      log.info(`metrics on http://${metrics.address.address}:${metrics.address.port}/metrics`);
    } catch (err) {
      errOut(`--metrics-port ${m.port}: cannot serve metrics on ${m.host}:${m.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      channel.close();
      sink.close();
      source.close();
      removePid();
      log.close();
      return EXIT_FAILED;
    }
  }

  sink.on('drain', kick);
  sink.on('failed', (err) => {
    errOut(`the raw socket failed: ${err.message}`);
    void finish(EXIT_FAILED, 'raw socket failed');
  });

  log.info(
    `replaying ${cfg.pcapFile} (-x ${transfersText(cfg.transfers)}${cfg.filterText === null ? '' : `, -F "${cfg.filterText}"`}` +
      `${cfg.fastest ? ', --rate' : `, -a ${cfg.acceleration}`}${cfg.loops > 1 ? `, -T ${cfg.loops}` : ''}) ` +
      `through ${channel.activeInterceptors}/${cfg.interceptors.length} interceptor(s)`,
  );

  // ---- progress, stats, memory, quiet end ----
  const showProgress = opts.stderr.isTTY === true && !cfg.quiet;
  let progressShown = false;
  const counterList = (): [string, number][] => [
    ['active', engine.stats.activeSessions],
    ['done', engine.stats.outcomeCompleted],
    ['req', engine.stats.turns],
    ['resp', engine.stats.responsesWithData],
  ];
  const drawProgress = (): void => {
    const cols = opts.stderr.columns ?? 0;
    const width = cols > 0 ? Math.max(40, cols - 1) : 100;
    const line = formatProgress(
      { bytesRead: Math.min(source.fileOffset, fileSize), totalBytes: fileSize, elapsedUs: nowUs() - startUs, loop: source.loop, loops: cfg.loops, counters: counterList() },
      width,
    );
    opts.stderr.write(`\r${line}\x1b[K`);
    progressShown = true;
  };
  const clearProgress = (): void => {
    if (progressShown) opts.stderr.write('\r\x1b[K');
    progressShown = false;
  };
  if (showProgress) beforeStderrLine = clearProgress;
  const statsLine = (): string => {
    const s = engine.stats;
    const rs = sink?.stats;
    return (
      `stats: active ${s.activeSessions}, started ${s.sessionsStarted}, established ${s.connectionsEstablished}, completed ${s.outcomeCompleted}, ` +
      `packets read ${source.counters.packetsRead}, used ${source.counters.packetsUsed}, sent ${s.packetsSent}, retransmits ${s.retransmits}, ` +
      `requests ${s.turns}, response segments ${s.responsesWithData}, records ${counters.records}, ` +
      `raw queued ${rs?.queued ?? 0}, refused ${rs?.refused ?? 0}, rss ${Math.round(process.memoryUsage.rss() / 1048576)} MB`
    );
  };
  // Early hint while a long replay runs on: SYNs go out but nothing ever comes back.
  let firstSynUs = -1;
  let silenceWarned = false;
  let lastMemCheck = 0;
  let lastStats = nowUs();
  intervals.push(
    setInterval(() => {
      if (finished) return;
      const now = nowUs();
      if (showProgress) drawProgress();
      if (cfg.statsIntervalMs > 0 && now - lastStats >= cfg.statsIntervalMs * 1000) {
        lastStats = now;
        // With the progress bar on stderr, stats lines only go to a log file.
        if (!showProgress || cfg.logFile !== null) log.info(statsLine());
      }
      if (now - lastMemCheck >= MEMORY_CHECK_MS * 1000) {
        lastMemCheck = now;
        const rss = process.memoryUsage.rss();
        if (rss > cfg.memoryMb * 1048576) {
          errOut(`memory use ${Math.round(rss / 1048576)} MB is above the -m limit of ${cfg.memoryMb} MB; stopping`);
          void finish(EXIT_MEMORY, 'memory limit');
          return;
        }
      }
      if (!silenceWarned && counters.records === 0 && engine.stats.synsSent > 0) {
        if (firstSynUs < 0) firstSynUs = now;
        else if (now - firstSynUs >= NO_RECORDS_WARN_US) {
          silenceWarned = true;
          log.warn(
            `${engine.stats.synsSent} SYNs sent but no interceptor record arrived in ${((now - firstSynUs) / 1e6).toFixed(0)} s: ` +
              'check the NFQUEUE rule for the service port and the route back to the client addresses on the test server',
          );
        }
      }
      if (source.inputDone) {
        // Once the capture is over, a session that neither sends nor hears anything has nothing
        // left to wait for but -k: when the whole replay has been silent for --end-grace, end
        // what is left (a capture cut before its connections closed) instead of idling.
        const activity = engine.stats.packetsSent + counters.records;
        if (activity !== lastActivity) {
          lastActivity = activity;
          lastActivityUs = now;
        } else if (now - lastActivityUs >= cfg.endGraceUs && engine.activeSessions > 0) {
          log.info(`capture over and ${engine.activeSessions} session(s) idle for ${((now - lastActivityUs) / 1e6).toFixed(1)} s: ending them`);
          engine.closeAll(now, 'idle-timeout');
          service();
        }
      }
    }, HOUSEKEEPING_MS),
  );

  // ---- signals ----
  const onSigint = (): void => void finish(EXIT_OK, 'SIGINT');
  const onSigterm = (): void => void finish(EXIT_OK, 'SIGTERM');
  const onSighup = (): void => {
    log.reopen();
    log.info('log file reopened (SIGHUP)');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGHUP', onSighup);

  async function finish(code: number, stoppedBy: string | null): Promise<void> {
    if (finished) return;
    finished = true;
    for (const t of intervals) clearInterval(t);
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const now = nowUs();
    // Sessions still open (signal, error): reset them so the target does not keep them.
    if (engine.activeSessions > 0) engine.closeAll(now, 'idle-timeout');
    const rawSink = sink;
    if (rawSink !== null) {
      await Promise.race([rawSink.flush(), new Promise((r) => setTimeout(r, 1000))]);
      counters.rawSent = rawSink.stats.sent;
      counters.rawRefused = rawSink.stats.refused;
      counters.rawRefusedBy = { ...rawSink.stats.refusedBy };
      counters.rawQueued = rawSink.stats.queued;
      rawSink.close();
    }
    channel?.close();
    source.close();
    if (metrics !== null) await metrics.close();
    clearProgress();
    counters.durationUs = nowUs() - startUs;
    Object.assign(counters, source.counters);
    counters.unmatchedDestinations = source.unmatchedTop(5);
    if (channel !== null) counters.channelConnects = channel.stats.connectsOk;
    log.info(
      `event loop: ${timerFires} timer wake-ups, ${serviceRuns} service runs, ${channel?.stats.reads ?? 0} channel reads ` +
        `(${counters.records} records), ${sink?.stats.sent ?? 0} packets sent`,
    );
    const ru = process.resourceUsage();
    counters.cpuUserUs = ru.userCPUTime;
    counters.cpuSystemUs = ru.systemCPUTime;
    counters.maxRssBytes = ru.maxRSS * 1024;
    const summary = summarize({ file: cfg.pcapFile, transfers: cfg.transfers, filterText: cfg.filterText, engine: engine.stats, counters, stoppedBy });
    for (const l of summary.lines) {
      opts.stdout.write(`tcpcopy: ${l}\n`);
      if (cfg.logFile !== null) log.info(l);
    }
    for (const w of summary.warnings) {
      opts.stderr.write(`tcpcopy: warning: ${w}\n`);
      if (cfg.logFile !== null) log.warn(w);
    }
    if (code === EXIT_OK && summary.failure !== null && stoppedBy === null) {
      errOut(engine.stats.connectionsEstablished === 0 ? `no session could be established: ${summary.failure}` : `replay failed: ${summary.failure}`);
      code = EXIT_FAILED;
    }
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('SIGHUP', onSighup);
    removePid();
    process.off('exit', removePid);
    log.close();
    resolveExit(code);
  }

  pacer.begin(nowUs());
  kick();
  return exited;
}
