import { NativeAddonError } from './native.js';
import type { PacketSink, PacketSinkOptions, RawSinkBackend } from './packet-sink.js';
import { RawBatchSink, type BatchSinkOptions } from './raw-batch-sink.js';
import { RawSink } from './raw-sink.js';

/**
 * Backend choice for the copier's packet sink, like intercept's NFQUEUE tap: 'auto' takes the
 * project's sendmmsg addon when it loads and falls back to the `raw-socket` package otherwise,
 * saying why; a named backend is used or fails. A socket the kernel refuses (no CAP_NET_RAW) is
 * an error with either backend, never a reason to fall back.
 */
export type RawBackendChoice = RawSinkBackend | 'auto';

export interface OpenedSink {
  sink: PacketSink;
  /** Why the sendmmsg backend is not in use (null when it is). */
  fallbackReason: string | null;
}

export interface OpenSinkDeps {
  /** Test seams; default: the real backends. */
  openBatch?: (opts: BatchSinkOptions) => PacketSink;
  openRawSocket?: (opts: PacketSinkOptions) => PacketSink;
}

/** Opens the sink. Throws NativeAddonError (a named backend not built) or RawSinkError (socket). */
export function openPacketSink(choice: RawBackendChoice, opts: BatchSinkOptions = {}, deps: OpenSinkDeps = {}): OpenedSink {
  const openBatch = deps.openBatch ?? ((o: BatchSinkOptions) => RawBatchSink.open(o));
  const openRawSocket = deps.openRawSocket ?? ((o: PacketSinkOptions) => RawSink.open(o));
  if (choice === 'raw-socket') return { sink: openRawSocket(opts), fallbackReason: '--raw-backend raw-socket' };
  if (choice === 'sendmmsg') return { sink: openBatch(opts), fallbackReason: null };
  let reason: string;
  try {
    return { sink: openBatch(opts), fallbackReason: null };
  } catch (err) {
    if (!(err instanceof NativeAddonError)) throw err;
    reason = err.message;
  }
  return { sink: openRawSocket(opts), fallbackReason: reason };
}
