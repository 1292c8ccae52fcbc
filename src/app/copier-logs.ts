import type { RawBackend } from '../core/config/tcpcopy-cli.js';
import type { SessionEngine } from '../core/session/engine.js';
import { NativeAddonError } from '../io/native.js';
import { openPacketSink } from '../io/open-packet-sink.js';
import { RawSinkError, type PacketSink } from '../io/packet-sink.js';
import type { TcpcopyConfig } from '../core/config/tcpcopy-cli.js';
import type { Disposers } from './disposers.js';
import type { RunLog } from './run-log.js';
import type { PacketSource } from './source/packet-source.js';
import { transfersText } from './tcpcopy-summary.js';

/* The copier's start and end lines and its signal handling, kept out of the packet pipeline (copier.ts). */

/** The sink --raw-backend asks for, with a log line saying which backend runs (and why a fallback); throws an Error whose message is ready to print. */
export function openLoggedSink(backend: RawBackend, log: RunLog): PacketSink {
  let opened: ReturnType<typeof openPacketSink>;
  try {
    opened = openPacketSink(backend);
  } catch (err) {
    const known = err instanceof RawSinkError || err instanceof NativeAddonError;
    const flag = backend === 'auto' ? '' : `--raw-backend ${backend}: `;
    throw new Error(known ? `${flag}${err.message}` : `cannot open the raw socket: ${(err as Error).message}`, { cause: err });
  }
  const { sink, fallbackReason } = opened;
  if (fallbackReason === null) log.info(`raw socket: ${sink.backend} backend`);
  else if (backend === 'auto') log.warn(`raw socket: ${sink.backend} backend (fallback, one syscall and one JS→native call per packet: ${fallbackReason})`);
  else log.info(`raw socket: ${sink.backend} backend (${fallbackReason})`);
  return sink;
}

/** --report: what each interceptor granted of the payload extension (bytes per packet; 0 none; −1 no answer). */
export function logExtensionGrants(log: RunLog, granted: readonly number[], interceptors: number, waitedMs: number): void {
  for (let i = 0; i < interceptors; i++) {
    const g = granted[i] ?? -1;
    const who = `interceptor ${i + 1} of ${interceptors}`;
    if (g > 0) log.info(`report: ${who} forwards up to ${g} response payload bytes per packet`);
    else if (g === 0) log.warn(`report: ${who} forwards no response payload (start intercept with --forward-payload all): test answers are compared by size and timing only`);
    else log.warn(`report: ${who} did not answer the payload extension within ${waitedMs} ms (a stock interceptor?): test answers are compared by size and timing only`);
  }
}

export interface LoopCounts {
  timerFires: number;
  serviceRuns: number;
  channelReads: number;
  records: number;
  /** What --max-opening did ('' when off). */
  opening: string;
}

/** The end-of-run diagnostics: event-loop activity, engine counters (debug), memory. */
export function logRunEnd(log: RunLog, loop: LoopCounts, sink: PacketSink | null, engine: SessionEngine): void {
  const ss = sink?.stats;
  log.info(
    `event loop: ${loop.timerFires} timer wake-ups, ${loop.serviceRuns} service runs, ${loop.channelReads} channel reads ` +
      `(${loop.records} records), ${ss?.sent ?? 0} packets sent` +
      (sink === null || ss === undefined ? '' : ` (${sink.backend}: ${ss.batches} batches, ${ss.crossings} JS→native calls)`) +
      (loop.opening === '' ? '' : `; ${loop.opening}`),
  );
  if (log.enabled('debug')) {
    const snap = engine.stats.snapshot();
    log.debug(`engine counters: ${Object.entries(snap).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  const mem = process.memoryUsage();
  const mb = (n: number): number => Math.round(n / 1048576);
  log.info(`memory at the end: rss ${mb(mem.rss)} MB, heap ${mb(mem.heapUsed)} of ${mb(mem.heapTotal)} MB, external ${mb(mem.external)} MB (array buffers ${mb(mem.arrayBuffers)} MB)`);
}

/** What runs, from what, how fast, through how many interceptors: the run's first line. */
export function logRunStart(log: RunLog, source: PacketSource, cfg: TcpcopyConfig, activeInterceptors: number): void {
  log.info(
    `${source.pausable ? 'replaying' : 'copying'} ${source.description} (-x ${transfersText(cfg.transfers)}${cfg.filterText === null ? '' : `, -F "${cfg.filterText}"`}` +
      `${!source.pausable ? '' : cfg.fastest ? ', --rate' : `, -a ${cfg.acceleration}`}${cfg.loops > 1 ? `, -T ${cfg.loops}` : ''}) ` +
      `through ${activeInterceptors}/${cfg.interceptors.length} interceptor(s)`,
  );
}

/** SIGINT/SIGTERM stop the run (`stop(name)`); SIGHUP reopens the log file, then `hangup()`. Removed on dispose. */
export function handleSignals(d: Disposers, log: RunLog, stop: (name: string) => void, hangup: () => void): void {
  const onSigint = (): void => stop('SIGINT');
  const onSigterm = (): void => stop('SIGTERM');
  const onSighup = (): void => {
    log.reopen();
    log.info('log file reopened (SIGHUP)');
    hangup();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGHUP', onSighup);
  d.defer('signal handlers', () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('SIGHUP', onSighup);
  });
}
