import { performance } from 'node:perf_hooks';
import type { Buffer } from 'node:buffer';
import { copyRangeFor, engineOptionsFrom, type InterceptConfig } from '../core/config/intercept.js';
import { formatStats, InterceptEngine, type InterceptSink } from '../core/intercept/index.js';
import { ChannelServer } from '../io/channel-server.js';
import { FlushScheduler } from './intercept-flush.js';
import { PidFile } from './pid-file.js';
import { NfqueueRules, nfqueueRuleCommand, queueHasRule } from '../io/iptables.js';
import { Logger } from '../io/logger.js';
import { NfqueueTap, readKernelQueueStats } from '../io/nfqueue-tap.js';
// Types only: the metrics module (node:http + prom-client: start-up CPU and several MB of
// memory) is loaded when --metrics-port asks for it.
import type { MetricsServer } from '../io/metrics.js';

/** Netlink receive buffer asked for, as stock (16 MiB). */
const RCVBUF_BYTES = 16 * 1024 * 1024;
/** Housekeeping period: delay-table expiry, idle routes, stuck copiers. */
const HOUSEKEEPING_MS = 1000;
/** Time copiers get to read what is left at shutdown. */
const SHUTDOWN_GRACE_MS = 2000;

export interface InterceptRunOptions {
  config: InterceptConfig;
  /** Notes from parsing the command line, logged at start. */
  warnings: readonly string[];
  /**
   * Test hook: raise an uncaught error this long after start (checks crash clean-up). Only
   * test/helpers/intercept-fault.ts sets it; the installed CLI never does.
   */
  faultAfterMs?: number | null;
  /** --metrics-port/--metrics-bind: Prometheus endpoint; null/absent = none. */
  metrics?: { port: number; host: string } | null;
  /** Called once the daemon serves (after "intercept ready" is logged). */
  onReady?: () => void;
  /** Called with the reason when start-up fails (before shutting down). */
  onStartFailed?: (reason: string) => void;
}

/**
 * Composition root of the interceptor: logger, pid file, optional iptables rule, channel
 * server, NFQUEUE tap and engine. Resolves with the process exit code once the daemon has shut
 * down (signal or fatal error); the CLI exits with it (the NFQUEUE binding has no close, so the
 * process must exit explicitly).
 */
export async function runIntercept(opts: InterceptRunOptions): Promise<number> {
  const cfg = opts.config;
  const log = new Logger({ name: 'intercept', level: cfg.logLevel, file: cfg.logFile });
  const nowUs = (): number => performance.now() * 1000;
  const rules = cfg.installRulePorts.length > 0 ? new NfqueueRules(cfg.installRulePorts, cfg.queueNum) : null;
  let pidFile: PidFile | null = null;
  let finished = false;
  let resolveExit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((r) => (resolveExit = r));
  const timers: NodeJS.Timeout[] = [];

  // Last chance (process.exit from elsewhere, or a crash path that could not await): synchronous.
  const onExit = (): void => {
    if (rules !== null && rules.active.length > 0) rules.removeSync();
    pidFile?.remove();
  };
  process.on('exit', onExit);

  // ---- engine and its effects ----
  let server: ChannelServer | null = null;
  let tap: NfqueueTap | null = null;
  let metrics: MetricsServer | null = null;
  const sink: InterceptSink = {
    write: (id, frame, done) => {
      if (server !== null) return server.write(id, frame, done);
      done();
      return 0;
    },
    close: (id, reason) => server?.close(id, reason),
    log: (level, message) => log.log(level, message),
  };
  const engine = new InterceptEngine(engineOptionsFrom(cfg), sink);

  const flusher = new FlushScheduler(engine, nowUs);

  const stats = (): string => {
    const k = readKernelQueueStats(cfg.queueNum);
    if (k !== null) {
      engine.stats.kernelQueueDropped = k.queueDropped;
      engine.stats.kernelUserDropped = k.userDropped;
      engine.stats.enobufs = tap?.counters()?.enobufs ?? k.userDropped;
    }
    return formatStats(engine.stats.snapshot());
  };

  async function shutdown(code: number, why: string): Promise<void> {
    if (finished) return;
    finished = true;
    log.info(`shutting down: ${why}`);
    for (const t of timers) clearInterval(t);
    if (metrics !== null) await metrics.close();
    try {
      engine.flushAll(nowUs());
      if (server !== null) await server.shutdown(SHUTDOWN_GRACE_MS);
    } catch (err) {
      log.error(`error while closing copier connections: ${(err as Error).message}`);
    }
    if (rules !== null) {
      const errors = await rules.remove();
      if (errors.length > 0) {
        log.error(`could not remove the NFQUEUE rule(s): ${errors.join('; ')}`);
        code = code === 0 ? 1 : code;
      } else log.info(`removed the NFQUEUE rule(s) for port(s) ${cfg.installRulePorts.join(',')}`);
    }
    log.info(`final stats: ${stats()}`);
    tap?.close();
    pidFile?.remove();
    log.close();
    resolveExit(code);
  }

  // A crash: an error nothing caught. Clean up synchronously first (the process state is
  // suspect), then report and exit non-zero. SIGKILL cannot be cleaned up after; a later run
  // adopts and removes the rule it left (see NfqueueRules).
  const onFatal = (err: unknown): void => {
    log.error(`fatal: uncaught ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (finished) return;
    finished = true;
    if (rules !== null) {
      const errors = rules.removeSync();
      if (errors.length > 0) log.error(`could not remove the NFQUEUE rule(s): ${errors.join('; ')}`);
      else log.info('removed the NFQUEUE rule(s) after the fatal error');
    }
    pidFile?.remove();
    resolveExit(70);
  };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
  process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
  process.on('SIGHUP', () => {
    log.reopen();
    log.info('log file reopened (SIGHUP)');
  });

  for (const w of opts.warnings) log.warn(w);

  try {
    if (cfg.pidFile !== null) pidFile = PidFile.write(cfg.pidFile);
    if (rules !== null) {
      const adopted = await rules.install();
      log.info(
        `NFQUEUE rule(s) in place for port(s) ${cfg.installRulePorts.join(',')} → queue ${cfg.queueNum}` +
          (adopted.length > 0 ? ` (left by an earlier run and adopted: ${adopted.join(',')})` : ''),
      );
    } else {
      const has = await queueHasRule(cfg.queueNum);
      if (has === false) {
        log.warn(
          `no iptables rule feeds NFQUEUE ${cfg.queueNum}; responses will not be intercepted. Add one for the service port, e.g.: ` +
            `${nfqueueRuleCommand('<service port>', cfg.queueNum)} (or start with --install-rule <port>)`,
        );
      } else if (has !== true) {
        log.warn(`could not list iptables rules to check queue ${cfg.queueNum}: ${has.error ?? has.stderr.trim()}`);
      }
    }

    server = new ChannelServer(
      {
        onConnect: (id, peerIp, peer) => engine.onConnect(id, peerIp, peer, nowUs()),
        onData: (id, chunk: Buffer) => {
          engine.onData(id, chunk, nowUs());
          flusher.afterInput();
        },
        onDrain: (id) => engine.onDrain(id),
        onClosed: (id, reason) => engine.onClosed(id, reason),
      },
      { port: cfg.port, host: cfg.bind },
    );
    const addr = await server.listen();

    tap = NfqueueTap.open(
      {
        queueNum: cfg.queueNum,
        rcvbufBytes: RCVBUF_BYTES,
        copyRange: copyRangeFor(cfg),
        maxLen: cfg.queueMaxLen, // null → 65536
        onWarning: (m) => log.warn(m),
      },
      (payload, len) => {
        const v = engine.onPacket(payload, len, nowUs());
        flusher.afterInput();
        return v;
      },
      (err) => log.error(`internal error handling a queued packet (verdict DROP): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
    );
    if (opts.metrics !== undefined && opts.metrics !== null) {
      const { INTERCEPT_METRICS, startMetricsServer } = await import('../io/metrics.js');
      metrics = await startMetricsServer({
        prefix: INTERCEPT_METRICS.prefix,
        port: opts.metrics.port,
        host: opts.metrics.host,
        // Kernel queue counters are refreshed from /proc at scrape time too, not only each second.
        snapshot: () => {
          stats();
          return engine.stats.snapshot();
        },
        gauges: INTERCEPT_METRICS.gauges,
      }).catch((err: unknown) => {
        throw new Error(`cannot serve metrics on ${opts.metrics?.host}:${opts.metrics?.port}: ${err instanceof Error ? err.message : String(err)}`);
      });
      log.info(`metrics on http://${metrics.address.address}:${metrics.address.port}/metrics`);
    }
    const k = readKernelQueueStats(cfg.queueNum);
    if (tap.backend === 'nfqueue' && cfg.queueMaxLen !== null) log.warn(`-q ${cfg.queueMaxLen} not applied: the fallback backend cannot set the queue's maximum length`);
    log.info(
      `intercept ready: copiers on ${addr.address}:${addr.port}, NFQUEUE ${cfg.queueNum} (${tap.backend} backend` +
        (tap.maxLen !== null ? `, max length ${tap.maxLen}` : '') +
        (k !== null ? `, copy range ${k.copyRange}, rcvbuf asked ${RCVBUF_BYTES}` : '') +
        (tap.gso ? ', GSO packets whole' : '') + ')' +
        `, ${cfg.withPayload ? '192-byte payload' : '64-byte'} records, ≤${cfg.maxFrameRecords} per frame` +
        (cfg.forwardPayload > 0 ? `, up to ${cfg.forwardPayload} payload bytes per response forwarded on request` : '') +
        (cfg.passList.length > 0 ? `, ${cfg.passList.length} pass-listed address(es)` : ''),
    );
    opts.onReady?.();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    log.error(`cannot start: ${why}`);
    opts.onStartFailed?.(why);
    void shutdown(1, 'start-up failed');
    return exited;
  }

  // Kernel-side losses (queue full, netlink socket overrun: what ENOBUFS would have reported;
  // the binding sets NETLINK_NO_ENOBUFS) are only visible in /proc: check them every second.
  let lastDrops = { queue: 0, user: 0 };
  const first = readKernelQueueStats(cfg.queueNum);
  if (first !== null) lastDrops = { queue: first.queueDropped, user: first.userDropped };
  timers.push(
    setInterval(() => {
      engine.onTimer(nowUs());
      const k = readKernelQueueStats(cfg.queueNum);
      if (k === null) return;
      const dq = k.queueDropped - lastDrops.queue;
      const du = k.userDropped - lastDrops.user;
      if (dq > 0 || du > 0) {
        log.warn(
          `the kernel dropped ${dq + du} queued response(s) in the last second (queue full: ${dq}, socket buffer overrun: ${du}); ` +
            'those sessions lose responses',
        );
      }
      lastDrops = { queue: k.queueDropped, user: k.userDropped };
      engine.stats.kernelQueueDropped = k.queueDropped;
      engine.stats.kernelUserDropped = k.userDropped;
      engine.stats.enobufs = tap?.counters()?.enobufs ?? k.userDropped;
    }, HOUSEKEEPING_MS),
  );
  if (cfg.statsIntervalMs > 0) timers.push(setInterval(() => log.info(`stats: ${stats()}`), cfg.statsIntervalMs));
  if (opts.faultAfterMs !== undefined && opts.faultAfterMs !== null) {
    const t = setTimeout(() => {
      throw new Error('injected fault (faultAfterMs test hook)');
    }, opts.faultAfterMs);
    timers.push(t);
  }
  return exited;
}
