import type { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import type { TcpcopyConfig } from '../core/config/tcpcopy-cli.js';
import { SessionEngine } from '../core/session/engine.js';
import type { EngineSink, Outcome, SessionInfo } from '../core/session/types.js';
import { MAX_FRAME_RECORDS, MAX_FRAME_RECORDS_PAYLOAD, PAYLOAD_RECORD_SIZE, RECORD_SIZE } from '../core/wire/constants.js';
import { EXT_ALL_PAYLOAD } from '../core/wire/extension.js';
import type { ExchangeCollector } from '../core/collect/collector.js';
import { ChannelClient, ChannelConnectError, type ChannelClientOptions } from '../io/channel-client.js';
import type { PacketSink } from '../io/packet-sink.js';
import { followChannel } from './copier-channel.js';
import { handleSignals, logExtensionGrants, logRunEnd, logRunStart, openLoggedSink } from './copier-logs.js';
import type { CopierObserver, RunEnd } from './copier-observer.js';
import type { Disposers } from './disposers.js';
import { EXIT_FAILED, EXIT_OK } from './exit-codes.js';
import type { RunLog } from './run-log.js';
import type { PacketConsumer, PacketSource } from './source/packet-source.js';
import { WakeTimer } from './wake-timer.js';
import { OpeningWindow } from '../core/replay/opening-window.js';

const HOUSEKEEPING_MS = 250;
/** How long the copier waits for interceptors to answer the payload extension (stock ones never do). */
const NEGOTIATION_MS = 1000;

// performance.timeOrigin is a getter that costs more than performance.now() itself: read it once.
const TIME_ORIGIN_MS = performance.timeOrigin;
const RESOLVED = Promise.resolve();

/** Wall-clock µs (the engine derives ISNs and TS values from it), monotonic within the process. */
export function nowUs(): number {
  return (TIME_ORIGIN_MS + performance.now()) * 1000;
}

export interface CopierOptions {
  config: TcpcopyConfig;
  log: RunLog;
  /** Where packets come from (its close() is on the disposer stack already). */
  source: PacketSource;
  /** The run's clean-up stack (already holding what the caller acquired: log, pid file, ...). */
  disposers: Disposers;
  /** SIGHUP, after the log reopened (the recorder starts a new file). */
  onHangup?: () => void;
}

/**
 * The copier: source → session engine → raw IP sink, with the interceptor channel feeding the
 * engine's records back, and observers (progress, stats, metrics, summary, ...) registered in
 * one place. One timer, armed for the earlier of the engine's next deadline and the source's
 * next release time; one setImmediate coalesces everything that happened in an I/O turn
 * (records, drains, reads). Every exit path ends in finish(), which unwinds one disposer stack.
 *
 * The copier is the engine's sink (packets out, routes to the channel, outcomes to observers)
 * and the source's consumer, so the per-packet path has no closures.
 */
export class Copier implements EngineSink, PacketConsumer {
  readonly engine: SessionEngine;
  readonly startUs = nowUs();
  /** Interceptor records received. */
  records = 0;
  private sink: PacketSink | null = null;
  private channel: ChannelClient | null = null;
  private readonly observers: CopierObserver[] = [];
  private readonly closedHooks: CopierObserver[] = [];
  private readonly recordSize: number;
  /** The replay report's collector (--report), fed from the packet paths; null = no work at all. */
  private collector: ExchangeCollector | null = null;
  /**
   * Per interceptor, the response payload bytes per packet it granted with the channel extension
   * (docs/wire-extension.md); −1: no answer (a stock interceptor). Empty without a report.
   */
  extensionGranted: number[] = [];
  private finished = false;
  private readonly timer = new WakeTimer(() => this.service());
  private immediate = false;
  private feedNow = 0;
  private lastActivity = 0;
  private lastActivityUs = 0;
  // Wake-up accounting (logged at the end): the copier's CPU at low rates is mostly per wake-up.
  private serviceRuns = 0;
  /** The signal that stopped a live capture while its sessions finish, and their deadline. */
  private drainBy: string | null = null;
  private drainDeadlineUs = Infinity;
  private resolveExit: (code: number) => void = () => undefined;
  private readonly exited = new Promise<number>((r) => (this.resolveExit = r));
  private readonly kickFn = (): void => this.kick();
  private ackFlushQueued = false;
  private readonly opening: OpeningWindow;
  private readonly flushAcksFn = (): void => {
    this.ackFlushQueued = false;
    if (!this.finished) this.engine.flushAcks(this.feedNow);
  };
  private readonly onImmediateFn = (): void => {
    this.immediate = false;
    this.service();
  };

  constructor(private readonly o: CopierOptions) {
    this.engine = new SessionEngine(o.config.engine, this);
    this.recordSize = o.config.withPayload ? PAYLOAD_RECORD_SIZE : RECORD_SIZE;
    this.opening = new OpeningWindow(o.config.maxOpening);
  }

  get source(): PacketSource {
    return this.o.source;
  }

  get rawSink(): PacketSink | null {
    return this.sink;
  }

  get channelClient(): ChannelClient | null {
    return this.channel;
  }

  /** The run is ending: sessions closed from now on are closed by the end of the run. */
  get stopping(): boolean {
    return this.finished;
  }

  get logger(): RunLog {
    return this.o.log;
  }

  /** The replay report's collector (before run(): the channel then asks for response payloads). */
  collect(c: ExchangeCollector): void {
    this.collector = c;
  }

  /** Register an observer (before run()). */
  observe(ob: CopierObserver): void {
    this.observers.push(ob);
    if (ob.sessionClosed !== undefined) this.closedHooks.push(ob);
  }

  // ───────────── engine effects (EngineSink) ─────────────

  send(buf: Buffer, len: number, dstIp: number): void {
    this.sink?.send(buf, 0, len, dstIp);
    if (this.collector !== null) this.collector.testSent(buf, len, this.feedNow);
  }

  sessionStarted(info: SessionInfo): void {
    this.collector?.testStarted(info);
  }

  routeAdd(cip: number, cport: number, tip: number, tport: number): boolean {
    return this.channel === null ? false : this.channel.sendClientAdd(cip, cport, tip, tport);
  }

  routeDel(cip: number, cport: number, tip: number, tport: number): void {
    this.channel?.sendClientDel(cip, cport, tip, tport);
  }

  sessionClosed(info: SessionInfo, outcome: Outcome): void {
    const hooks = this.closedHooks;
    for (let i = 0; i < hooks.length; i++) (hooks[i] as CopierObserver).sessionClosed?.(info, outcome);
  }

  /** Rare engine events worth a line (drops, exhaustion). */
  log(message: string): void {
    this.o.log.info(message);
  }

  // ───────────── packets in (PacketConsumer) ─────────────

  get accepting(): boolean {
    if (this.sink !== null && !this.sink.writable) return false;
    // --max-opening: a file waits while the target has too many handshakes and first requests to answer.
    return this.opening.off || this.opening.admits(this.feedNow, this.engine.openingSessions);
  }

  packet(buf: Buffer, ipOff: number, capLen: number, tsUs: number, transferIdx: number): void {
    if (this.collector !== null) this.collector.captured(buf, ipOff, capLen, tsUs);
    this.engine.onCaptured(buf, ipOff, capLen, this.feedNow, tsUs, transferIdx);
  }

  reversePacket(buf: Buffer, ipOff: number, capLen: number, tsUs: number): void {
    this.collector?.capturedReverse(buf, ipOff, capLen, tsUs);
  }

  // ───────────── run ─────────────

  /** Opens the sink and the channel, starts the observers and the source; resolves with the exit code. */
  async run(): Promise<number> {
    const cfg = this.o.config;
    const log = this.o.log;
    const d = this.o.disposers;
    let sink: PacketSink;
    try {
      sink = this.sink = openLoggedSink(cfg.rawBackend, log);
    } catch (err) {
      return this.failStart((err as Error).message);
    }
    d.defer('raw socket', () => sink.close());

    const channel = new ChannelClient({
      interceptors: cfg.interceptors,
      connections: cfg.connections,
      lonely: cfg.lonely,
      recordSize: this.recordSize,
      maxFrameRecords: cfg.withPayload ? MAX_FRAME_RECORDS_PAYLOAD : MAX_FRAME_RECORDS,
      onRecord: (buf, off) => this.onRecord(buf, off),
      ...(this.collector === null ? {} : { extension: this.extensionOptions(cfg.report?.bytesCap ?? EXT_ALL_PAYLOAD) }),
    });
    this.channel = channel;
    d.defer('interceptor channel', () => channel.close());
    followChannel(channel, this.engine, log, () => this.stop(EXIT_FAILED, 'interceptor lost'));
    try {
      await channel.start();
    } catch (err) {
      return this.failStart(err instanceof ChannelConnectError ? err.message : `cannot connect to the interceptor: ${(err as Error).message}`);
    }
    if (this.collector !== null) {
      this.extensionGranted = await channel.negotiated(NEGOTIATION_MS);
      logExtensionGrants(log, this.extensionGranted, cfg.interceptors.length, NEGOTIATION_MS);
    }
    this.engine.setInterceptorAvailable(channel.activeInterceptors > 0);
    if (channel.activeInterceptors === 0) log.warn('no interceptor reachable; -L: replaying anyway, reconnecting in the background');

    for (const ob of this.observers) {
      if (ob.start !== undefined) {
        try {
          await ob.start(this);
        } catch (err) {
          return this.failStart((err as Error).message);
        }
      }
      if (ob.close !== undefined) d.defer(ob.name, () => ob.close?.());
    }

    sink.on('drain', this.kickFn);
    sink.on('failed', (err) => {
      log.errOut(`the raw socket failed: ${err.message}`);
      this.stop(EXIT_FAILED, 'raw socket failed');
    });

    logRunStart(log, this.o.source, cfg, channel.activeInterceptors);

    const housekeeping = setInterval(() => this.housekeeping(), HOUSEKEEPING_MS);
    d.defer('housekeeping', () => clearInterval(housekeeping));
    handleSignals(d, log, (name) => this.stopSignal(name), () => this.o.onHangup?.());

    this.o.source.start(nowUs());
    this.kick();
    return this.exited;
  }

  /** End the run (signal, failure, memory limit, end of input): the exit code and why. */
  stop(code: number, stoppedBy: string | null): void {
    void this.finish(code, stoppedBy);
  }

  /**
   * SIGINT/SIGTERM. A file run stops at once. A live run stops capturing and gives the sessions
   * in flight up to --end-grace to finish (the same signal again stops at once); the summary
   * follows either way.
   */
  private stopSignal(name: string): void {
    const source = this.o.source;
    if (source.pausable || source.stopInput === undefined || this.drainBy !== null || this.finished) {
      this.stop(EXIT_OK, this.drainBy ?? name);
      return;
    }
    this.drainBy = name;
    this.drainDeadlineUs = nowUs() + this.o.config.endGraceUs;
    this.o.log.info(
      `${name}: capture stopped; ${this.engine.activeSessions} session(s) in flight get up to ` +
        `${(this.o.config.endGraceUs / 1e6).toFixed(1)} s to finish (--end-grace; ${name} again stops now)`,
    );
    source.stopInput();
    this.kick();
  }

  /** The source woke us (a read finished, a run began) or the source ended. */
  wake(): void {
    this.kick();
  }

  private async failStart(message: string): Promise<number> {
    this.finished = true;
    this.o.log.errOut(message);
    await this.o.disposers.dispose((name, err) => this.o.log.warn(`clean-up of ${name} failed: ${(err as Error).message}`));
    return EXIT_FAILED;
  }

  /** A record, with its payload at buf[payOff..] when the channel extension carries it (only with a report). */
  private onRecord(buf: Buffer, off: number, payload: Buffer | null = null, payOff = 0, payLen = 0): void {
    this.records++;
    this.queueAckFlush();
    const now = nowUs();
    this.feedNow = now;
    // The report sees the answer before the engine, which may send the next request at once.
    if (this.collector !== null) this.collector.testRecord(buf, off, this.recordSize, payload, payOff, payLen, now);
    this.engine.onResponse(buf, off, now, this.recordSize);
    this.kick();
  }

  /**
   * The channel extension's request: each response packet's payload up to what the report keeps
   * per answer (--report-bytes; a small one asks for just that prefix of each packet).
   */
  private extensionOptions(payloadBytes: number): NonNullable<ChannelClientOptions['extension']> {
    return { payloadBytes, onRecordPayload: (buf, off, payOff, payLen) => this.onRecord(buf, off, buf, payOff, payLen) };
  }

  /**
   * First record of a channel read: the ACKs its records leave due go out when the read's callback
   * returns, in the same sendmmsg as the rest (queued before any send of this read, so this
   * microtask runs ahead of the raw sink's turn-end flush), not after the turn's other I/O.
   */
  private queueAckFlush(): void {
    if (this.ackFlushQueued) return;
    this.ackFlushQueued = true;
    void RESOLVED.then(this.flushAcksFn);
  }

  private kick(): void {
    if (this.immediate || this.finished) return;
    this.immediate = true;
    setImmediate(this.onImmediateFn);
  }

  private service(): void {
    if (this.finished) return;
    this.serviceRuns++;
    const now = nowUs();
    this.feedNow = now; // packets sent from here on are stamped with it (the report's test timings)
    const engine = this.engine;
    engine.flushAcks(now);
    if (engine.nextDeadline() <= now) engine.onTimer(now);
    this.feedNow = now;
    if (!this.opening.off) {
      const st = engine.stats;
      this.opening.update(now, st.openingSessions, st.synRetransmits + st.synAckRepeats, st.openingAnswered);
    }
    const source = this.o.source;
    if (source.feed(now, this) === 'more') this.kick();
    if (source.ended && source.graceAtEnd === true && this.drainDeadlineUs === Infinity) {
      this.drainDeadlineUs = now + this.o.config.endGraceUs;
      if (engine.activeSessions > 0) this.o.log.info(`${engine.activeSessions} session(s) in flight get up to ${(this.o.config.endGraceUs / 1e6).toFixed(1)} s to finish (--end-grace)`);
    }
    this.arm(now);
    if (source.ended && engine.activeSessions === 0) this.stop(EXIT_OK, this.drainBy);
  }

  private arm(now: number): void {
    const at = this.engine.nextDeadline();
    // A packet waiting for its time; held back, kernel push-back is woken by 'drain' and
    // --max-opening by an answer (a record) or its stall limit.
    this.timer.arm(Math.min(at, this.accepting ? this.o.source.nextReleaseUs : this.opening.wakeAt), now);
  }

  private housekeeping(): void {
    if (this.finished) return;
    const now = nowUs();
    for (const ob of this.observers) {
      ob.tick?.(now);
      if (this.finished) return;
    }
    if (now >= this.drainDeadlineUs) {
      if (this.engine.activeSessions > 0) this.o.log.info(`${this.engine.activeSessions} session(s) still open after --end-grace: ending them`);
      this.stop(EXIT_OK, this.drainBy);
      return;
    }
    if (this.o.source.ended) {
      // Once the input is over, a session that neither sends nor hears anything has nothing
      // left to wait for but -k: when the whole replay has been silent for --end-grace, end
      // what is left (a capture cut before its connections closed) instead of idling.
      const activity = this.engine.stats.packetsSent + this.records;
      if (activity !== this.lastActivity) {
        this.lastActivity = activity;
        this.lastActivityUs = now;
      } else if (now - this.lastActivityUs >= this.o.config.endGraceUs && this.engine.activeSessions > 0) {
        this.o.log.info(
          `input over and ${this.engine.activeSessions} session(s) idle for ${((now - this.lastActivityUs) / 1e6).toFixed(1)} s: ending them`,
        );
        this.engine.closeAll(now, 'idle-timeout');
        this.service();
      }
    }
  }

  private async finish(code: number, stoppedBy: string | null): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.timer.clear();
    const engine = this.engine;
    // Sessions still open (signal, error): reset them so the target does not keep them.
    if (engine.activeSessions > 0) engine.closeAll(nowUs(), 'idle-timeout');
    const sink = this.sink;
    if (sink !== null) await Promise.race([sink.flush(), new Promise((r) => setTimeout(r, 1000))]);
    const loop = { timerFires: this.timer.fires, serviceRuns: this.serviceRuns, channelReads: this.channel?.stats.reads ?? 0, records: this.records, opening: this.opening.describe() };
    logRunEnd(this.o.log, loop, sink, engine);
    const end: RunEnd = { code, stoppedBy, durationUs: nowUs() - this.startUs };
    for (const ob of this.observers) ob.end?.(this, end);
    await this.o.disposers.dispose((name, err) => this.o.log.warn(`clean-up of ${name} failed: ${(err as Error).message}`));
    this.resolveExit(end.code);
  }
}
