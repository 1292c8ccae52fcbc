import { parseIntRange } from './copier.js';
import { ConfigError } from './errors.js';
import { looksLikeStoreUrl, parseStoreUrl, type StoreUrl } from './store-url.js';

/* tcpcopy's input and output choices: -i (a capture file or live devices), the live capture's
 * defaults, and the capture and raw-send backends. Re-exported by tcpcopy-cli.ts. */

export const RAW_BACKENDS = ['auto', 'sendmmsg', 'raw-socket'] as const;
export type RawBackend = (typeof RAW_BACKENDS)[number];

export function parseRawBackend(value: string, flag = '--raw-backend'): RawBackend {
  const v = RAW_BACKENDS.find((b) => b === value);
  if (v === undefined) throw new ConfigError(flag, value, `expected one of ${RAW_BACKENDS.join(', ')}`);
  return v;
}

export const CAPTURE_BACKENDS = ['auto', 'pcap', 'cap'] as const;
export type CaptureBackendName = (typeof CAPTURE_BACKENDS)[number];

export function parseCaptureBackend(value: string, flag = '--capture-backend'): CaptureBackendName {
  const v = CAPTURE_BACKENDS.find((b) => b === value);
  if (v === undefined) throw new ConfigError(flag, value, `expected one of ${CAPTURE_BACKENDS.join(', ')}`);
  return v;
}

/** Where packets come from: -i FILE, live capture (-i DEV[,DEV…], or no -i = `any`), or a stream store (-i nats://…). */
export type CaptureInput = { kind: 'file'; path: string } | { kind: 'live'; devices: string[] } | { kind: 'store'; url: StoreUrl };

/**
 * -B default, MiB. Larger than stock's 16: cap turns on immediate mode, where libpcap uses
 * TPACKET_V2 with every ring frame sized for cap's fixed 65535-byte snap length, so 16 MiB holds
 * only ~250 packets of any size (scripts/bench/capture.ts: kernel drops from 75k packets/s on;
 * none up to 150k packets/s with 64).
 */
export const DEFAULT_CAPTURE_BUFFER_MB = 64;
/**
 * --capture-latency default, ms (pcap backend; cap always runs in immediate mode). Measured with
 * scripts/bench/capture.ts: see the README's Performance section.
 */
export const DEFAULT_CAPTURE_LATENCY_MS = 20;
/** -S default: whole frames (the most `cap` allows; with the pcap backend a smaller -S also shrinks the kernel ring's frames). */
export const DEFAULT_SNAPLEN = 65535;

const DEVICE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}$/;
const CAPTURE_SUFFIX_RE = /\.(pcap|pcapng|cap|dmp)(\.\d+)?$/i;

/**
 * -i: an existing file is a capture file (as before); otherwise a comma-separated list of
 * interface names is live capture; scheme://… is a stream store (nats://HOST/STREAM?task=NAME). Anything that cannot be an interface name (a path, a .pcap
 * name, …) stays a file, so a missing file is still reported as a missing file.
 */
export function parseCaptureInput(value: string | undefined, isFile: (path: string) => boolean, flag = '-i'): CaptureInput {
  if (value === undefined) return { kind: 'live', devices: ['any'] };
  if (value.trim() === '') throw new ConfigError(flag, value, 'expected a pcap/pcapng file, or capture device(s) DEV[,DEV...] such as eth0 or any');
  if (isFile(value)) return { kind: 'file', path: value };
  if (looksLikeStoreUrl(value)) return { kind: 'store', url: parseStoreUrl(value, flag) };
  const items = value.split(',').map((d) => d.trim());
  if (items.every((d) => DEVICE_RE.test(d) && !CAPTURE_SUFFIX_RE.test(d))) {
    const devices = [...new Set(items)];
    if (devices.includes('any') && devices.length > 1) {
      throw new ConfigError(flag, value, '"any" already captures on every interface: give it alone, or a list of devices without it');
    }
    return { kind: 'live', devices };
  }
  return { kind: 'file', path: value };
}

/** -B, -S and --capture-latency (live capture only; validated whatever the input). */
export function parseLiveCaptureOptions(raw: { buffer?: string; snaplen?: string; captureLatency?: string }): { bufferMb: number; snapLen: number; captureLatencyMs: number } {
  return {
    bufferMb: raw.buffer === undefined ? DEFAULT_CAPTURE_BUFFER_MB : parseIntRange(raw.buffer, '-B', 1, 4096, 'the capture buffer size in MiB'),
    snapLen: raw.snaplen === undefined ? DEFAULT_SNAPLEN : parseIntRange(raw.snaplen, '-S', 96, 65535, 'the bytes captured per packet'),
    captureLatencyMs:
      raw.captureLatency === undefined
        ? DEFAULT_CAPTURE_LATENCY_MS
        : parseIntRange(raw.captureLatency, '--capture-latency', 0, 1000, 'milliseconds a captured packet may wait in the kernel buffer (0 = immediate mode)'),
  };
}
