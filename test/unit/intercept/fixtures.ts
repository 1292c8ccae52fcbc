import { Buffer } from 'node:buffer';
import { buildSegment } from '../../helpers/packet/build.js';
import { DEFAULT_ENGINE_OPTIONS, InterceptEngine, type EngineOptions, type InterceptSink } from '../../../src/core/intercept/index.js';
import type { LogLevel } from '../../../src/core/log-level.js';
import { FrameDecoder, RECORD_SIZE, PAYLOAD_RECORD_SIZE } from '../../../src/core/wire/index.js';

export const SERVER = 0x0a010002; // 10.1.0.2
export const SERVER_PORT = 8080;
export const SYN = 0x02;
export const ACK = 0x10;
export const RST = 0x04;
export const PSH = 0x08;

/** A response from the test server to client ip:port. */
export function response(clientIp: number, clientPort: number, flags: number, seq = 1000, payload?: Buffer): Buffer {
  return buildSegment({
    src: SERVER,
    dst: clientIp,
    srcPort: SERVER_PORT,
    dstPort: clientPort,
    seq,
    ack: 555,
    flags,
    window: 65000,
    ipId: 1,
    options: flags & SYN ? { mss: 1460, sackOk: true, ts: { val: 7, ecr: 9 }, wscale: 7 } : { ts: { val: 7, ecr: 9 } },
    ...(payload ? { payload } : {}),
  });
}

/** Records each effect; `backlog` decides what write() reports. */
export class FakeSink implements InterceptSink {
  writes: { conn: number; frame: Buffer }[] = [];
  closes: { conn: number; reason: string }[] = [];
  logs: { level: LogLevel; message: string }[] = [];
  backlog = new Map<number, number>();

  write(conn: number, frame: Buffer, done: () => void): number {
    this.writes.push({ conn, frame: Buffer.from(frame) });
    done(); // copied: the engine may reuse the frame buffer
    const b = (this.backlog.get(conn) ?? 0) + 0;
    return b;
  }
  close(conn: number, reason: string): void {
    this.closes.push({ conn, reason });
  }
  log(level: LogLevel, message: string): void {
    this.logs.push({ level, message });
  }

  /** Records received by a connection, decoded with the copier-side decoder; checks framing. */
  records(conn: number, withPayload = false): Buffer[] {
    const size = withPayload ? PAYLOAD_RECORD_SIZE : RECORD_SIZE;
    const d = new FrameDecoder(size, withPayload ? 6 : 16);
    const out: Buffer[] = [];
    for (const w of this.writes) {
      if (w.conn !== conn) continue;
      d.feed(w.frame);
      let r = d.next();
      for (; r === 'record'; r = d.next()) out.push(Buffer.from(d.record.subarray(d.recordOff, d.recordOff + size)));
      if (r !== 'need-more') throw new Error(`bad framing: ${r}`);
    }
    if (d.bufferedBytes !== 0) throw new Error('a frame was split across writes');
    return out;
  }

  frameCounts(conn: number): number[] {
    return this.writes.filter((w) => w.conn === conn).map((w) => w.frame.readUInt16BE(0));
  }
}

/** Client port of a record (TCP dst port at 22). */
export const recPort = (r: Buffer): number => r.readUInt16BE(22);
export const recSeq = (r: Buffer): number => r.readUInt32BE(24);

export function makeEngine(over: Partial<EngineOptions> = {}): { e: InterceptEngine; sink: FakeSink } {
  const sink = new FakeSink();
  const e = new InterceptEngine({ ...DEFAULT_ENGINE_OPTIONS, ...over }, sink);
  return { e, sink };
}

/** Drives ticks until nothing is pending (the app's setImmediate loop). */
export function settle(e: InterceptEngine, nowUs: number): void {
  for (let i = 0; i < 10 && e.onTick(nowUs); i++);
}
