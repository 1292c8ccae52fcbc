import type { Buffer } from 'node:buffer';
import { decodeLink, describeLinkType, isSupportedLinkType, LinkView } from '../../core/capture/link-types.js';
import { buildCaptureFilter, directionRule } from '../../core/capture/live-filter.js';
import { PacketRing } from '../../core/replay/packet-ring.js';
import { PacketSelector } from '../../core/replay/selector.js';
import { findTransfer, type Transfer } from '../../core/transfer.js';
import type { FrameTap } from '../../io/pcapng-recorder.js';
import { captureDevices, CaptureOpenError, deviceLinkFacts, openCapture, type CaptureHandle, type OpenCapture } from '../../io/live-capture.js';
import type { FeedResult, LiveDropReason, PacketConsumer, PacketSource, SourceEvents, SourceProgress, SourceTotals } from './packet-source.js';

/** Packets handed out per feed() call before I/O gets a chance. */
const BATCH = 512;
/**
 * Ring slots: one per KiB of -B (65536 at the default 64 MiB), far more than the ~1000 frames
 * libpcap's kernel ring of that size holds (each frame is sized for a 65535-byte snap length), so
 * a whole kernel ring drained in one turn fits.
 */
const RING_BYTES_PER_SLOT = 1024;
const MIN_RING_SLOTS = 1024;
/** How often kernel/interface drops are read and the devices checked. */
const POLL_MS = 1000;
/** Ring transfer index of a server→client packet kept for the report (not a -x entry). */
const REVERSE_IDX = -2;

export interface LiveCaptureSourceOptions {
  /** Interface names, or ['any']. */
  devices: readonly string[];
  transfers: readonly Transfer[];
  /** -F as typed: ANDed into libpcap's filter, never matched again here. */
  filterText: string | null;
  /** -B in bytes: libpcap's kernel buffer, and the ring's byte slab. */
  bufferBytes: number;
  /** -S. */
  snapLen: number;
  /** --capture-latency (pcap backend): 0/absent = immediate mode. */
  captureLatencyMs?: number;
  events: SourceEvents;
  /**
   * Wall-clock µs (the copier's clock): packets are stamped with libpcap's capture time when the
   * backend gives one (pcap), else on arrival (cap).
   */
  clock: () => number;
  /** The capture backend's adapter (open-capture.ts chooses it); the cap adapter when absent. */
  open?: OpenCapture;
  devicesAvailable?: () => string[];
  deviceFacts?: typeof deviceLinkFacts;
  ringSlots?: number;
  /**
   * --record: every frame the kernel filter passed goes here first (before the -x match and the
   * ring, so frames the ring then drops are recorded too), with its device's interface number.
   */
  tap?: FrameTap | null;
  /** --record-responses: the filter also takes the server→client direction (recorded only). */
  recordResponses?: boolean;
  /** Record-only (--record without -s): frames go to the tap and nowhere else. */
  recordOnly?: boolean;
  /**
   * --report: the filter also takes the server→client direction, and those packets go through the
   * ring to consumer.reversePacket (the report's reference answers), in arrival order.
   */
  reverse?: boolean;
}

/** A device that does not exist or cannot be opened: a usage error (exit 2). */
export class LiveCaptureOpenError extends Error {}


/**
 * Live capture as a packet source: libpcap (filter from -x and -F) → link decoding → -x match
 * (once, in the selector) → a bounded ring → the copier in feed() batches. It cannot pause: when
 * the ring is full the packet is dropped and counted, as 'sink-busy' while the consumer pushes
 * back and 'ring-full' otherwise (the engine fell behind). Packets are due at once; the first
 * arrival after a feed() wakes the copier (one wake per event-loop turn).
 */
export class LiveCaptureSource implements PacketSource {
  readonly pausable = false;
  readonly description: string;
  private readonly selector: PacketSelector;
  private readonly ring: PacketRing;
  private readonly link = new LinkView();
  private handles: CaptureHandle[] = [];
  private started = false;
  private stopping = false;
  private done = false;
  private closed = false;
  private wakePending = false;
  /** The consumer refused the last time feed() asked. */
  private consumerBusy = false;
  private startUs = 0;
  private stopUs = 0;
  private poller: NodeJS.Timeout | null = null;
  private packetsRead = 0;
  private packetsUsed = 0;
  private bytes = 0;
  private truncated = 0;
  private beforeStart = 0;
  private readonly drops: Record<LiveDropReason, number> = { 'ring-full': 0, 'sink-busy': 0 };
  private kernelDrops: number | null = 0;
  /** Server→client packets taken for --record-responses: recorded, never replayed or counted as read. */
  private responsesRecorded = 0;
  private interfaceDrops: number | null = 0;
  private kernelDropsMissing: string | null = null;

  private constructor(private readonly o: LiveCaptureSourceOptions) {
    const devs = o.devices.join(', ');
    this.description = o.devices.length === 1 && o.devices[0] === 'any' ? 'live capture on all interfaces (any)' : `live capture on ${devs}`;
    // -F is libpcap's: the selector only matches -x.
    this.selector = new PacketSelector(o.transfers, null);
    this.ring = new PacketRing(o.bufferBytes, o.ringSlots ?? Math.max(MIN_RING_SLOTS, Math.floor(o.bufferBytes / RING_BYTES_PER_SLOT)));
  }

  /**
   * Opens every device before anything touches the network, so a missing device, missing
   * privileges or a filter libpcap rejects is a usage error naming the device.
   */
  static open(o: LiveCaptureSourceOptions): LiveCaptureSource {
    const available = (o.devicesAvailable ?? captureDevices)();
    const unknown = o.devices.filter((d) => !available.includes(d));
    if (unknown.length > 0) {
      throw new LiveCaptureOpenError(
        `${unknown.map((d) => `"${d}"`).join(', ')}: no such capture device (and no such file); available: ${available.join(', ')}`,
      );
    }
    const src = new LiveCaptureSource(o);
    const open = o.open ?? openCapture;
    const facts = o.deviceFacts ?? deviceLinkFacts;
    let filter = '';
    try {
      for (const device of o.devices) {
        const f = facts(device);
        // Per device: how "incoming only" is expressed depends on its link type.
        filter = buildCaptureFilter(o.transfers, o.filterText, directionRule(device, f.arphrd, f.mac), o.recordResponses === true || o.reverse === true);
        let linkType = -1;
        let ifId = -1;
        const h = open({
          device,
          filter,
          bufferBytes: o.bufferBytes,
          snapLen: o.snapLen,
          timeoutMs: o.captureLatencyMs ?? 0,
          onPacket: (buf, len, truncated, off, tsUs) => src.arrive(buf, off ?? 0, len, truncated, tsUs, linkType, ifId),
          onError: (message) => src.fail(message),
        });
        linkType = h.linkType;
        if (o.tap !== undefined && o.tap !== null) ifId = o.tap.addInterface(linkType, o.snapLen);
        src.handles.push(h);
        if (!isSupportedLinkType(linkType)) throw new LiveCaptureOpenError(`${device}: link type ${describeLinkType(linkType)} is not supported`);
      }
    } catch (err) {
      src.close();
      if (err instanceof LiveCaptureOpenError) throw err;
      const why = err instanceof CaptureOpenError ? err.message : (err as Error).message;
      throw new LiveCaptureOpenError(`libpcap cannot capture with filter "${filter}": ${why}`);
    }
    return src;
  }

  get ended(): boolean {
    return this.done;
  }

  /** Due at once: the oldest packet's arrival time while any is held. */
  get nextReleaseUs(): number {
    return this.ring.size > 0 ? this.ring.headTsUs : Infinity;
  }

  start(nowUs: number): void {
    this.started = true;
    this.startUs = nowUs;
    if (this.beforeStart > 0) this.o.events.info(`live capture: ${this.beforeStart} packets arrived while the copier was starting (not replayed)`);
    this.poller = setInterval(() => this.poll(), POLL_MS);
    this.poller.unref();
  }

  feed(_nowUs: number, consumer: PacketConsumer): FeedResult {
    this.wakePending = false;
    const ring = this.ring;
    for (let n = 0; n < BATCH; n++) {
      if (this.done || this.closed) return 'done';
      if (ring.size === 0) return this.stopping ? this.end() : 'io';
      if (!consumer.accepting) {
        this.consumerBusy = true;
        return 'paused';
      }
      this.consumerBusy = false;
      const off = ring.headOffset;
      const len = ring.headLength;
      const ts = ring.headTsUs;
      const idx = ring.headTransfer;
      // The bytes stay valid during the call: nothing is pushed until the event loop turns.
      ring.shift();
      if (idx === REVERSE_IDX) {
        consumer.reversePacket?.(ring.slab, off, len, ts);
        continue;
      }
      this.packetsUsed++;
      consumer.packet(ring.slab, off, len, ts, idx);
    }
    return ring.size > 0 ? 'more' : this.stopping ? this.end() : 'io';
  }

  progress(): SourceProgress {
    this.poll();
    return {
      fraction: null,
      packets: this.packetsRead,
      packetsUsed: this.packetsUsed,
      bytes: this.bytes,
      totalBytes: 0,
      drops: this.dropCount(),
      loop: 0,
      loops: 1,
    };
  }

  totals(): SourceTotals {
    this.poll();
    return {
      packetsRead: this.packetsRead,
      packetsUsed: this.packetsUsed,
      ...this.selector.counters,
      truncatedRecords: this.truncated,
      drops: this.dropCount(),
      runsDone: this.done ? 1 : 0,
      runs: 1,
      unmatchedDestinations: this.selector.unmatchedTop(5),
      live: {
        devices: [...this.o.devices],
        capturingUs: this.started ? (this.stopUs > 0 ? this.stopUs : this.o.clock()) - this.startUs : 0,
        dropsByReason: { ...this.drops },
        kernelDrops: this.kernelDrops,
        interfaceDrops: this.interfaceDrops,
        kernelDropsMissing: this.kernelDropsMissing,
        beforeStart: this.beforeStart,
      },
    };
  }

  stopInput(): void {
    if (this.stopping || this.closed) return;
    this.stopping = true;
    this.stopUs = this.o.clock();
    this.poll();
    this.closeHandles();
    if (this.ring.size === 0) this.end();
  }

  close(): void {
    if (this.closed) return;
    if (this.responsesRecorded > 0) this.o.events.info(`live capture: ${this.responsesRecorded} server→client packets recorded only (--record-responses)`);
    if (this.stopUs === 0) this.stopUs = this.o.clock();
    this.poll();
    this.closed = true;
    this.closeHandles();
  }

  /** One captured frame: decode, select, copy into the ring or count the drop. */
  private arrive(buf: Buffer, off: number, len: number, truncated: boolean, tsUs: number | undefined, linkType: number, ifId: number): void {
    if (this.stopping || this.closed) return;
    const tap = this.o.tap;
    const now = tsUs ?? this.o.clock();
    // The recorder reads frames from offset 0; only the pcap backend's slab has others.
    if (tap !== undefined && tap !== null && ifId >= 0) tap.frame(ifId, off === 0 ? buf : buf.subarray(off, off + len), len, now);
    if (this.o.recordOnly === true) {
      this.packetsRead++;
      this.bytes += len;
      return;
    }
    if (!this.started) {
      this.beforeStart++;
      return;
    }
    const link = this.link;
    decodeLink(linkType, buf, off, len, link);
    // decodeLink's offset is relative to the frame: make it absolute in buf.
    const ipOff = link.l3Kind === 'ipv4' && link.ipOffset >= 0 ? off + link.ipOffset : -1;
    const end = off + len;
    if ((this.o.recordResponses === true || this.o.reverse === true) && ipOff >= 0 && this.isResponse(buf, ipOff, end - ipOff)) {
      if (this.o.recordResponses === true) this.responsesRecorded++;
      if (this.o.reverse === true) this.pushRing(buf, ipOff, end - ipOff, now, REVERSE_IDX);
      return;
    }
    this.packetsRead++;
    this.bytes += len;
    const idx = this.selector.select(buf, ipOff, ipOff < 0 ? 0 : end - ipOff);
    if (idx < 0) return;
    if (truncated) this.truncated++;
    this.pushRing(buf, ipOff, end - ipOff, now, idx);
  }

  private pushRing(buf: Buffer, ipOff: number, len: number, now: number, idx: number): void {
    if (!this.ring.push(buf, ipOff, len, now, idx)) {
      this.drops[this.consumerBusy ? 'sink-busy' : 'ring-full']++;
      return;
    }
    if (!this.wakePending) {
      this.wakePending = true;
      this.o.events.wake();
    }
  }

  /** --record-responses: from a -x service and not to one (recorded only, not counted as read). */
  private isResponse(buf: Buffer, ipOff: number, capLen: number): boolean {
    const ihl = ((buf[ipOff] as number) & 0x0f) << 2;
    if (ihl < 20 || capLen < ihl + 4 || buf[ipOff + 9] !== 6) return false;
    const t = this.o.transfers;
    return findTransfer(t, buf.readUInt32BE(ipOff + 12), buf.readUInt16BE(ipOff + ihl)) >= 0 && findTransfer(t, buf.readUInt32BE(ipOff + 16), buf.readUInt16BE(ipOff + ihl + 2)) < 0;
  }

  private dropCount(): number {
    return this.drops['ring-full'] + this.drops['sink-busy'] + (this.kernelDrops ?? 0);
  }

  /** Reads the handles' drop counters; a device that vanished ends the source with an error. */
  private poll(): void {
    if (this.closed || this.handles.length === 0) return;
    let kernel: number | null = 0;
    let iface: number | null = null;
    let gone: string | null = null;
    for (const h of this.handles) {
      const s = h.stats();
      if (s.kernelDrops === null) {
        kernel = null;
        this.kernelDropsMissing = s.kernelDropsMissing;
      } else if (kernel !== null) kernel += s.kernelDrops;
      if (s.ifDrops !== null) iface = (iface ?? 0) + s.ifDrops;
      if (!s.devicePresent) gone = h.device;
    }
    this.kernelDrops = kernel;
    this.interfaceDrops = iface;
    if (gone !== null) this.fail(`capture device ${gone} is gone`);
  }

  /** A device vanished or its handle failed: the source ends with an error (once). */
  private fail(message: string): void {
    if (this.stopping || this.closed) return;
    this.stopping = true;
    this.stopUs = this.o.clock();
    this.poll();
    this.closeHandles();
    this.o.events.error(message.startsWith('capture device') ? message : `capture failed on ${message}`);
  }

  private closeHandles(): void {
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
    const hs = this.handles;
    // Final counters are read by poll() before this; the handles are not polled again.
    this.handles = [];
    for (const h of hs) h.close();
  }

  private end(): 'done' {
    if (!this.done) {
      this.done = true;
      this.o.events.ended();
    }
    return 'done';
  }
}
