import { Buffer } from 'node:buffer';
import { existsSync } from 'node:fs';
import { CaptureOpenError, type CaptureHandle, type CaptureStats, type OpenCaptureOptions } from './live-capture.js';
import { loadAddon } from './native.js';

/**
 * Live capture over the project's pcapbatch addon (src/native/pcapbatch): libpcap with the snap
 * length honoured, TPACKET_V3 blocks handed over when full or --capture-latency ms old (or
 * immediate mode with 0), non-blocking, watched by uv_poll. The addon copies every packet of one pcap_dispatch round into a slab bound once and
 * calls JS once per batch; this adapter then hands the packets out one by one with libpcap's
 * capture timestamps, and reads drops from pcap_stats (no pktstat addon needed).
 */

/** Per-packet metadata words in the meta array (must match META in pcapbatch.c). */
export const META_WORDS = 5;
/** Packets per batch at most. */
export const BATCH_SLOTS = 1024;
/** The slab takes a full batch of typical packets; a batch ends early when a snaplen one might not fit. */
const SLAB_BYTES = 4 << 20;

export interface PcapBatchStats {
  recv?: number;
  drop?: number;
  ifdrop?: number;
  /** The addon's own counters: batches handed to JS, packets in them, poll wake-ups. */
  batches?: number;
  packets?: number;
  wakeups?: number;
  error?: string;
}

/** The addon's handle (see the contract at the top of pcapbatch.c). */
export interface PcapBatchHandle {
  readonly linkType: number;
  readonly snaplen: number;
  bind(slab: Uint8Array, meta: Uint32Array): void;
  start(): void;
  stats(): PcapBatchStats;
  close(): void;
}

export interface PcapBatchOpenOptions {
  device: string;
  snaplen: number;
  bufferSize: number;
  /** 0: immediate mode; > 0: libpcap's packet buffer timeout, ms. */
  timeoutMs: number;
  filter: string;
}

export type PcapBatchCtor = new (o: PcapBatchOpenOptions, onBatch: (count: number, error: string | null) => void) => PcapBatchHandle;

export interface PcapBatchModule {
  PcapCapture: PcapBatchCtor;
}

export interface PcapBatchDeps {
  /** Test seam: a fake addon. */
  module?: PcapBatchModule;
  devicePresent?: (device: string) => boolean;
}

/** Loads the addon; throws NativeAddonError when it is not built. */
export function loadPcapBatch(): PcapBatchModule {
  return loadAddon<PcapBatchModule>('pcapbatch');
}

class PcapBatchCapture implements CaptureHandle {
  readonly backend = 'pcap';
  readonly linkType: number;
  private readonly h: PcapBatchHandle;
  private readonly slab: Buffer;
  private readonly meta = new Uint32Array(BATCH_SLOTS * META_WORDS);
  private closed = false;
  private failure: string | null = null;
  /** Last counters read: a closed or failed handle keeps reporting them. */
  private last: CaptureStats;

  constructor(
    private readonly o: OpenCaptureOptions,
    mod: PcapBatchModule,
    private readonly present: (device: string) => boolean,
  ) {
    try {
      this.h = new mod.PcapCapture({ device: o.device, snaplen: o.snapLen, bufferSize: o.bufferBytes, timeoutMs: o.timeoutMs ?? 0, filter: o.filter }, (n, err) => this.onBatch(n, err));
    } catch (err) {
      throw new CaptureOpenError((err as Error).message);
    }
    this.linkType = this.h.linkType;
    this.slab = Buffer.alloc(Math.max(SLAB_BYTES, 2 * this.h.snaplen));
    this.h.bind(this.slab, this.meta);
    this.last = { kernelDrops: 0, ifDrops: o.device === 'any' ? null : 0, kernelDropsMissing: null, devicePresent: true };
    this.h.start();
  }

  get device(): string {
    return this.o.device;
  }

  stats(): CaptureStats {
    if (this.closed) return this.last;
    const present = this.o.device === 'any' || this.present(this.o.device);
    const s = this.h.stats();
    if (s.error !== undefined || s.drop === undefined) {
      // pcap_stats fails once the device is gone: keep the last counts, say why if none were read.
      this.last = { ...this.last, devicePresent: present && this.failure === null };
      return this.last;
    }
    this.last = {
      kernelDrops: s.drop,
      // On `any` libpcap sums nothing meaningful per device: reported as unknown, like cap.
      ifDrops: this.o.device === 'any' ? null : (s.ifdrop ?? 0),
      kernelDropsMissing: null,
      devicePresent: present && this.failure === null,
    };
    return this.last;
  }

  /** The addon's counters as they are (benchmarks: packets per batch and per wake-up). */
  nativeStats(): PcapBatchStats {
    return this.closed ? {} : this.h.stats();
  }

  close(): void {
    if (this.closed) return;
    this.stats();
    this.closed = true;
    this.h.close();
  }

  /** One pcap_dispatch round: packets 0..n-1 of the slab, handed out in order. */
  private onBatch(n: number, err: string | null): void {
    if (this.closed) return;
    if (n < 0) {
      this.failure = err ?? 'capture failed';
      this.o.onError?.(`${this.o.device}: ${this.failure}`);
      return;
    }
    const meta = this.meta;
    const slab = this.slab;
    const onPacket = this.o.onPacket;
    for (let i = 0, m = 0; i < n; i++, m += META_WORDS) {
      const caplen = meta[m + 1] as number;
      onPacket(slab, caplen, caplen < (meta[m + 2] as number), meta[m] as number, (meta[m + 3] as number) * 1e6 + (meta[m + 4] as number));
      if (this.closed) return;
    }
  }
}

/** Opens `device` through the pcapbatch addon; throws CaptureOpenError with libpcap's message. */
export function openPcapBatchCapture(o: OpenCaptureOptions, deps: PcapBatchDeps = {}): CaptureHandle {
  const mod = deps.module ?? loadPcapBatch();
  return new PcapBatchCapture(o, mod, deps.devicePresent ?? ((d) => existsSync(`/sys/class/net/${d}`)));
}
