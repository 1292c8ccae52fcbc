import { Buffer } from 'node:buffer';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { loadAddon, NativeAddonError } from './native.js';

/**
 * Thin adapter over the `cap` package (libpcap) for live capture: one handle per device.
 *
 * What cap 0.2.1 offers and what it does not (node_modules/cap/src/binding.cc):
 * - open(device, filter, bufferSize, buffer): pcap_create + promiscuous mode +
 *   pcap_set_buffer_size + pcap_set_immediate_mode (on Linux, looked up with dlopen("libpcap.so"),
 *   so only where the libpcap-dev symlink exists) + pcap_setfilter; the snap length is fixed at
 *   65535. Each packet is memcpy'd into `buffer` (cut at its length: that is our -S) and announced
 *   with emit('packet', length, truncated) — no timestamp, so packets are stamped on arrival.
 * - No pcap_stats(). Kernel drops are read with getsockopt(PACKET_STATISTICS) on the socket libpcap
 *   opened (found through /proc/self/fd and /proc/net/packet; the getsockopt needs the project's
 *   small `pktstat` addon), interface drops from sysfs like libpcap does (rx_missed_errors +
 *   rx_fifo_errors of the device; none for `any`).
 * - No setMinBytes on Linux (Windows only), no pcap_set_snaplen, no error callback: a device that
 *   goes down makes the socket report POLLERR, which cap's poll callback asserts against.
 */
export interface CaptureHandle {
  readonly device: string;
  /** Which adapter captures: the pcapbatch addon or the cap package. */
  readonly backend: CaptureBackend;
  /** LINKTYPE_* number of the frames (1 Ethernet, 113 Linux cooked on `any`, ...). */
  readonly linkType: number;
  /** Counters since open; kernelDrops/ifDrops null when they cannot be read. */
  stats(): CaptureStats;
  close(): void;
}

export interface CaptureStats {
  kernelDrops: number | null;
  ifDrops: number | null;
  /** Why kernelDrops is null (no addon, socket not found), else null. */
  kernelDropsMissing: string | null;
  /** False once the device no longer exists. */
  devicePresent: boolean;
}

export type CaptureBackend = 'pcap' | 'cap';

export interface OpenCaptureOptions {
  device: string;
  /** libpcap filter expression. */
  filter: string;
  bufferBytes: number;
  /** Bytes kept per frame (the copy buffer's size). */
  snapLen: number;
  /** ms a packet may wait in the kernel buffer (libpcap's packet buffer timeout); 0/absent = immediate mode. cap ignores it. */
  timeoutMs?: number;
  /**
   * Each frame, in `buf[off, off + len)` (off absent: 0), valid only during the call; tsUs is
   * libpcap's capture time in wall-clock µs, absent when the backend has none (cap).
   */
  onPacket(buf: Buffer, len: number, truncated: boolean, off?: number, tsUs?: number): void;
  /** The handle failed after opening (device gone, socket error): no more packets come. */
  onError?(message: string): void;
}

export type OpenCapture = (o: OpenCaptureOptions) => CaptureHandle;

/** The device cannot be captured on (missing, not permitted, filter rejected by libpcap). */
export class CaptureOpenError extends Error {}

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buf: Buffer): string;
  close(): boolean;
  on(event: 'packet', fn: (len: number, truncated: boolean) => void): void;
}

interface CapModule {
  Cap: new () => CapInstance;
}

interface PktstatModule {
  packetStats(fd: number): [number, number];
}

// cap names only a few DLTs and prints "Unknown linktype N" for the others.
const CAP_LINK_TYPES: Record<string, number> = { NULL: 0, ETHERNET: 1, LINKTYPE_LINUX_SLL: 113, RAW: 101, IEEE802_11_RADIO: 127 };

function linkTypeOf(capName: string): number {
  const known = CAP_LINK_TYPES[capName];
  if (known !== undefined) return known;
  const m = /^Unknown linktype (\d+)$/.exec(capName);
  return m === null ? -1 : Number(m[1]);
}

/** Interfaces libpcap could capture on here: /sys/class/net entries, plus `any`. */
export function captureDevices(): string[] {
  try {
    return ['any', ...readdirSync('/sys/class/net').sort()];
  } catch {
    return ['any'];
  }
}

/** ARPHRD type and hardware address of `device` (sysfs); nulls when unknown (`any`, gone). */
export function deviceLinkFacts(device: string): { arphrd: number | null; mac: string | null } {
  const read = (name: string): string | null => {
    try {
      return readFileSync(`/sys/class/net/${device}/${name}`, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const type = read('type');
  return { arphrd: type === null || !/^\d+$/.test(type) ? null : Number(type), mac: read('address') };
}

function socketInodes(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${name}`));
      if (m !== null) out.set(Number(name), m[1] as string);
    } catch {
      // Closed meanwhile (the directory handle itself, for one).
    }
  }
  return out;
}

function packetSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const line of readFileSync('/proc/net/packet', 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length >= 9) inodes.add(cols[cols.length - 1] as string);
    }
  } catch {
    // No /proc/net/packet: the socket cannot be identified.
  }
  return inodes;
}

function sysfsCounter(device: string, name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${device}/statistics/${name}`, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/** libpcap's ps_ifdrop on Linux: the device's rx_missed_errors + rx_fifo_errors. */
export function interfaceDrops(device: string): number {
  return sysfsCounter(device, 'rx_missed_errors') + sysfsCounter(device, 'rx_fifo_errors');
}

class CapHandle implements CaptureHandle {
  readonly backend = 'cap';
  private closed = false;
  private kernelDrops = 0;
  private readonly ifDropsAtOpen: number | null;

  constructor(
    readonly device: string,
    readonly linkType: number,
    private readonly cap: CapInstance,
    private readonly fd: number | null,
    private readonly stat: PktstatModule | null,
    private readonly kernelDropsMissing: string | null,
  ) {
    this.ifDropsAtOpen = device === 'any' ? null : interfaceDrops(device);
  }

  stats(): CaptureStats {
    let missing = this.kernelDropsMissing;
    if (!this.closed && missing === null && this.fd !== null && this.stat !== null) {
      try {
        // The kernel resets its counters on every read: accumulate.
        this.kernelDrops += this.stat.packetStats(this.fd)[1];
      } catch (err) {
        missing = (err as Error).message;
      }
    }
    const present = this.device === 'any' || existsSync(`/sys/class/net/${this.device}`);
    return {
      kernelDrops: missing === null ? this.kernelDrops : null,
      ifDrops: this.ifDropsAtOpen === null || !present ? null : interfaceDrops(this.device) - this.ifDropsAtOpen,
      kernelDropsMissing: missing,
      devicePresent: present,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cap.close();
  }
}

const failedHandles: CapInstance[] = [];

/** Opens `device` through cap; throws CaptureOpenError with libpcap's message. */
export function openCapture(o: OpenCaptureOptions): CaptureHandle {
  const capMod = loadAddon<CapModule>('cap');
  let stat: PktstatModule | null = null;
  let missing: string | null = null;
  try {
    stat = loadAddon<PktstatModule>('pktstat');
  } catch (err) {
    missing = err instanceof NativeAddonError ? 'the pktstat addon is not built (npm run build:native)' : (err as Error).message;
  }
  const before = socketInodes();
  const cap = new capMod.Cap();
  const buf = Buffer.alloc(o.snapLen);
  let linkName: string;
  try {
    linkName = cap.open(o.device, o.filter, o.bufferBytes, buf);
  } catch (err) {
    // Not closed, and kept referenced: after a failed open, cap's close() (and its destructor,
    // run by the GC) would stop a poll handle that was never initialised.
    failedHandles.push(cap);
    throw new CaptureOpenError((err as Error).message);
  }
  const linkType = linkTypeOf(linkName);
  const packetInodes = packetSocketInodes();
  const fresh = [...socketInodes()].filter(([fd, inode]) => !before.has(fd) && packetInodes.has(inode)).map(([fd]) => fd);
  if (missing === null && fresh.length !== 1) missing = `found ${fresh.length} new packet sockets after opening ${o.device}, expected 1`;
  const onPacket = o.onPacket;
  cap.on('packet', (len, truncated) => onPacket(buf, len, truncated));
  return new CapHandle(o.device, linkType, cap, fresh.length === 1 ? (fresh[0] as number) : null, stat, missing);
}
