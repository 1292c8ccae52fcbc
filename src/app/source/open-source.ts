import type { TcpcopyConfig } from '../../core/config/tcpcopy-cli.js';
import { CaptureFileOpenError, CaptureFileSource } from './capture-file-source.js';
import { LiveCaptureOpenError, LiveCaptureSource } from './live-capture-source.js';
import { LoadOpenError, LoadSource } from './load-source.js';
import type { FrameTap } from '../../io/pcapng-recorder.js';
import { chooseCapture, type ChosenCapture } from '../../io/open-capture.js';
import type { PacketSource, SourceEvents } from './packet-source.js';
import { openStoreSource } from './open-store-source.js';

import { SourceOpenError } from './source-open-error.js';

export { SourceOpenError };

export interface OpenSourceHooks {
  events: SourceEvents;
  warn(message: string): void;
  /** Wall-clock µs, the copier's clock. */
  clock(): number;
  /** --record: the recorder every captured frame goes to. */
  tap?: FrameTap | null;
}

/** The packet source -i asks for: a capture file, or live capture on devices (no -i: any). */
export async function openSource(cfg: TcpcopyConfig, hooks: OpenSourceHooks): Promise<PacketSource> {
  const input = cfg.input;
  if (input.kind === 'live') {
    let chosen: ChosenCapture;
    try {
      chosen = chooseCapture(cfg.captureBackend);
    } catch (err) {
      throw new SourceOpenError(`--capture-backend ${cfg.captureBackend}: ${(err as Error).message}`);
    }
    // Logged at start like the raw socket's backend: the cap fallback is much slower.
    if (chosen.fallbackReason === null) hooks.events.info(`live capture: pcap backend (batched libpcap addon)`);
    else if (cfg.captureBackend === 'auto') hooks.warn(`live capture: cap backend (fallback, one JS call per packet, no capture timestamps: ${chosen.fallbackReason})`);
    else hooks.events.info(`live capture: cap backend (${chosen.fallbackReason})`);
    try {
      return LiveCaptureSource.open({
        open: chosen.open,
        devices: input.devices,
        transfers: cfg.transfers,
        filterText: cfg.filterText,
        bufferBytes: cfg.bufferMb * 1048576,
        snapLen: cfg.snapLen,
        captureLatencyMs: cfg.captureLatencyMs,
        events: hooks.events,
        clock: hooks.clock,
        tap: hooks.tap ?? null,
        recordResponses: cfg.record?.responses === true,
        recordOnly: cfg.recordOnly,
        reverse: cfg.report !== null,
      });
    } catch (err) {
      const why = err instanceof LiveCaptureOpenError ? err.message : (err as Error).message;
      throw new SourceOpenError(`-i ${JSON.stringify(input.devices.join(','))}: cannot capture: ${why}`);
    }
  }
  if (cfg.load !== null && input.kind === 'file') {
    try {
      return await LoadSource.open({
        path: input.path,
        transfers: cfg.transfers,
        filter: cfg.filter,
        load: cfg.load,
        acceleration: cfg.acceleration,
        replicas: cfg.engine.replicas,
        onlyFromSyn: cfg.engine.onlyFromSyn,
        onWarning: (w) => hooks.warn(`${w.source}: byte offset ${w.offset}: ${w.message}`),
        events: hooks.events,
      });
    } catch (err) {
      throw new SourceOpenError(err instanceof LoadOpenError ? err.message : (err as Error).message);
    }
  }
  const pacing = { acceleration: cfg.fastest ? 1 : cfg.acceleration, idleCapMs: cfg.idleCapMs, fastest: cfg.fastest, loops: cfg.loops };
  if (input.kind === 'store') return openStoreSource(cfg, input.url, pacing, hooks.events);
  try {
    return await CaptureFileSource.open({
      path: input.path,
      transfers: cfg.transfers,
      filter: cfg.filter,
      pacing,
      onWarning: (w) => hooks.warn(`${w.source}: byte offset ${w.offset}: ${w.message}`),
      events: hooks.events,
      reverse: cfg.report !== null,
    });
  } catch (err) {
    const why = err instanceof CaptureFileOpenError ? err.message : (err as Error).message;
    throw new SourceOpenError(`-i ${JSON.stringify(input.path)}: cannot replay: ${why} (expected a readable pcap or pcapng file)`);
  }
}
