import { Buffer } from 'node:buffer';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type OptionSpec } from '../../src/core/packet/index.js';
import { buildSegment } from '../helpers/packet/build.js';

/**
 * Builds what a capture of one real client connection (client→server direction only, the usual
 * capture) contains: SYN, handshake ACK, request segments, the client's ACKs of the online
 * server's responses (their ack fields say how many response bytes it had received), FIN/RST.
 */

export type Step =
  | { send: Buffer | string; seg?: number }
  | { recv: number }
  | { think: number }
  | { fin: true }
  | { serverFin: true }
  | { rst: true };

export interface ClientSpec {
  clientIp: number;
  clientPort: number;
  serverIp: number;
  serverPort: number;
  isn?: number;
  serverIsn?: number;
  rttUs?: number;
  startUs?: number;
  mss?: number;
  ts?: boolean;
  wscale?: number;
  sackOk?: boolean;
  window?: number;
  steps: Step[];
}

export interface CapturedPacket {
  tsUs: number;
  pkt: Buffer;
  /** What it is, for tests that drop or duplicate specific packets. */
  kind: 'syn' | 'ack' | 'data' | 'fin' | 'rst';
}

export function captureSession(spec: ClientSpec): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  const rtt = spec.rttUs ?? 2000;
  const mss = spec.mss ?? 1460;
  let t = spec.startUs ?? 1_000_000;
  let seq = (spec.isn ?? 1000) >>> 0;
  let ack = ((spec.serverIsn ?? 5000) + 1) >>> 0;
  let ipId = 100;
  const useTs = spec.ts ?? true;
  const tsv = (): number => Math.floor(t / 1000) + 1;
  const base = (flags: number, payload?: Buffer, options?: OptionSpec): Buffer =>
    buildSegment({
      src: spec.clientIp,
      dst: spec.serverIp,
      srcPort: spec.clientPort,
      dstPort: spec.serverPort,
      seq,
      ack: (flags & TCP_ACK) !== 0 ? ack : 0,
      flags,
      window: spec.window ?? 502,
      ipId: ipId++,
      ttl: 58,
      options: options ?? (useTs ? { ts: { val: tsv(), ecr: 4242 } } : undefined),
      payload,
    });
  out.push({
    tsUs: t,
    kind: 'syn',
    pkt: base(TCP_SYN, undefined, {
      mss,
      wscale: spec.wscale ?? 7,
      sackOk: spec.sackOk ?? true,
      ts: useTs ? { val: tsv(), ecr: 0 } : undefined,
    }),
  });
  seq = (seq + 1) >>> 0;
  t += rtt;
  out.push({ tsUs: t, kind: 'ack', pkt: base(TCP_ACK) });
  for (const step of spec.steps) {
    if ('send' in step) {
      const data = typeof step.send === 'string' ? Buffer.from(step.send) : step.send;
      const seg = step.seg ?? mss - (useTs ? 12 : 0);
      for (let i = 0; i < data.length; i += seg) {
        const p = data.subarray(i, Math.min(data.length, i + seg));
        out.push({ tsUs: t, kind: 'data', pkt: base(TCP_ACK | TCP_PSH, p) });
        seq = (seq + p.length) >>> 0;
        t += 10;
      }
    } else if ('recv' in step) {
      t += rtt;
      ack = (ack + step.recv) >>> 0;
      out.push({ tsUs: t, kind: 'ack', pkt: base(TCP_ACK) });
    } else if ('think' in step) {
      t += step.think;
    } else if ('fin' in step) {
      out.push({ tsUs: t, kind: 'fin', pkt: base(TCP_FIN | TCP_ACK) });
      seq = (seq + 1) >>> 0;
      t += rtt;
    } else if ('serverFin' in step) {
      t += rtt / 2;
      ack = (ack + 1) >>> 0;
      out.push({ tsUs: t, kind: 'ack', pkt: base(TCP_ACK) });
    } else {
      out.push({ tsUs: t, kind: 'rst', pkt: base(TCP_RST | TCP_ACK) });
      t += 10;
    }
  }
  return out;
}

/** Merge several captures into capture order (stable by timestamp). */
export function mergeCaptures(...caps: CapturedPacket[][]): CapturedPacket[] {
  return caps.flat().sort((a, b) => a.tsUs - b.tsUs);
}

/** An HTTP-like request of exactly `size` bytes ending in CRLFCRLF, tagged with `tag`. */
export function request(tag: string, size = 100): string {
  const head = `GET /${tag} HTTP/1.1\r\nHost: t\r\n`;
  const pad = Math.max(0, size - head.length - 4);
  return head + 'X'.repeat(pad) + '\r\n\r\n';
}
