import { Buffer } from 'node:buffer';
import { csumReplace32, patchU16, patchU32 } from '../packet/checksum.js';
import { seqGt } from '../packet/seq.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../packet/tcp.js';

/**
 * Load mode's compact session store: the capture's client→server packets read once, grouped
 * into sessions (one per captured connection incarnation), kept as typed arrays over two byte
 * arenas (IP+TCP headers; payloads deduplicated by content), so any user can replay any session
 * at any time. A packet is written out for a user with its own client address and port
 * (checksums patched incrementally).
 */

export interface StoreBuildOptions {
  /** --comet: the captured client close (FIN, RST) is not stored; a FIN carrying data keeps the data. */
  comet: boolean;
  /** -O: sessions whose SYN was not captured are left out. */
  onlyFromSyn: boolean;
}

/** Why captured packets were not stored. */
export interface StoreSkips {
  /** Shorter than on the wire (snap length): the payload is incomplete. */
  truncated: number;
  /** Not IPv4/TCP or too short for the headers. */
  malformed: number;
  /** Before anything a session can start from (a pure ACK of a connection whose SYN was not captured). */
  beforeStart: number;
  /** --comet: the client's FIN/RST (and what followed it). */
  clientClose: number;
}

interface Building {
  transferIdx: number;
  isn: number;
  closed: boolean;
  /** The ack of the session's last data packet (−1: no data yet). */
  lastDataAck: number;
  /** Subtracted from every seq, and from every ack (−1: no ack seen yet), when stored. */
  seqShift: number;
  ackShift: number;
  firstTs: number;
  pkts: number[];
}

/** Where every stored session's client sequence space (and its acks) begin. */
const STORED_ISN = 1 << 16;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function payloadHash(buf: Buffer, off: number, len: number): number {
  let h = FNV_OFFSET ^ len;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ (buf[off + i] as number), FNV_PRIME);
  return h >>> 0;
}

/** Growable byte arena (build time only). */
class ByteArena {
  buf = Buffer.allocUnsafe(1 << 16);
  used = 0;

  append(src: Buffer, off: number, len: number): number {
    if (this.used + len > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + len));
      this.buf.copy(next, 0, 0, this.used);
      this.buf = next;
    }
    src.copy(this.buf, this.used, off, off + len);
    const at = this.used;
    this.used += len;
    return at;
  }

  /** The used part, copied into an exactly sized buffer. */
  compact(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.used));
  }
}

/** Collects captured client→server packets (in capture order) into a SessionStore. */
export class SessionStoreBuilder {
  readonly skips: StoreSkips = { truncated: 0, malformed: 0, beforeStart: 0, clientClose: 0 };
  private readonly open = new Map<string, Building>();
  private readonly sessions: Building[] = [];
  private readonly hdr = new ByteArena();
  private readonly pay = new ByteArena();
  private readonly pktHdrOff: number[] = [];
  private readonly pktHdrLen: number[] = [];
  private readonly pktPay: number[] = [];
  private readonly pktTs: number[] = [];
  private readonly pktReq: number[] = [];
  private readonly payOff: number[] = [];
  private readonly payLen: number[] = [];
  /** Payload hash → first payload id with it; payNext chains ids with the same hash. */
  private readonly payByHash = new Map<number, number>();
  private readonly payNext: number[] = [];
  private readonly clients = new Set<number>();
  private payloadBytesSeen = 0;
  private packetsStored = 0;

  constructor(private readonly o: StoreBuildOptions) {}

  /** One selected packet (IPv4 header at buf[ipOff]; transferIdx = the -x entry it matched). */
  add(buf: Buffer, ipOff: number, capLen: number, tsUs: number, transferIdx: number): void {
    const sk = this.skips;
    if (capLen < 20) return void sk.malformed++;
    const ihl = ((buf[ipOff] as number) & 0x0f) << 2;
    const totalLen = buf.readUInt16BE(ipOff + 2);
    if (ihl < 20 || capLen < ihl + 20 || totalLen < ihl + 20) return void sk.malformed++;
    const tcpOff = ipOff + ihl;
    const thl = ((buf[tcpOff + 12] as number) >> 4) << 2;
    if (thl < 20 || totalLen < ihl + thl) return void sk.malformed++;
    if (capLen < totalLen) return void sk.truncated++;
    const payLen = totalLen - ihl - thl;
    let flags = buf[tcpOff + 13] as number;
    const src = buf.readUInt32BE(ipOff + 12);
    const sport = buf.readUInt16BE(tcpOff);
    const key = `${src}:${sport}:${buf.readUInt32BE(ipOff + 16)}:${buf.readUInt16BE(tcpOff + 2)}`;
    const seq = buf.readUInt32BE(tcpOff + 4);
    const isSyn = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    let s = this.open.get(key);
    if (s !== undefined && isSyn && s.isn !== seq) s = undefined; // a new incarnation of the tuple
    if (s === undefined) {
      if (!isSyn && (payLen === 0 || this.o.onlyFromSyn || (flags & TCP_RST) !== 0)) return void sk.beforeStart++;
      const isn = isSyn ? seq : (seq - 1) >>> 0;
      s = { transferIdx, isn, closed: false, lastDataAck: -1, seqShift: (isn - STORED_ISN) >>> 0, ackShift: -1, firstTs: tsUs, pkts: [] };
      this.open.set(key, s);
      this.sessions.push(s);
      this.clients.add(src);
    }
    if (this.o.comet && (s.closed || (flags & (TCP_FIN | TCP_RST)) !== 0)) {
      s.closed = true;
      if (payLen === 0 || (flags & TCP_RST) !== 0) return void sk.clientClose++;
      flags &= ~TCP_FIN;
    }
    const hdrAt = this.hdr.append(buf, ipOff, ihl + thl);
    if (flags !== buf[tcpOff + 13]) {
      // The FIN bit cleared (comet): patch the copy's flags word and its checksum.
      const h = this.hdr.buf;
      const t = hdrAt + ihl;
      patchU16(h, t + 12, (h.readUInt16BE(t + 12) & 0xff00) | flags, t + 16, t);
    }
    this.renumber(s, hdrAt + ihl, (flags & TCP_ACK) !== 0);
    this.pktHdrOff.push(hdrAt);
    this.pktHdrLen.push(ihl + thl);
    this.pktPay.push(payLen === 0 ? -1 : this.payloadId(buf, tcpOff + thl, payLen));
    this.pktTs.push(Math.max(0, tsUs - s.firstTs));
    // A request starts with the session's first data, or data that saw more response (its ack moved).
    const ack = buf.readUInt32BE(tcpOff + 8);
    this.pktReq.push(payLen > 0 && (s.lastDataAck < 0 || seqGt(ack, s.lastDataAck)) ? 1 : 0);
    if (payLen > 0) s.lastDataAck = ack;
    s.pkts.push(this.packetsStored++);
  }

  /**
   * Stored sessions start their client seq at STORED_ISN and their acks at STORED_ISN too (both
   * directions keep their offsets): the engine's per-connection sequence fields then stay small
   * integers, which V8 keeps unboxed (a random u32 above 2^31 costs a 16-byte heap number each).
   */
  private renumber(s: Building, tcp: number, hasAck: boolean): void {
    const h = this.hdr.buf;
    patchU32(h, tcp + 4, (h.readUInt32BE(tcp + 4) - s.seqShift) >>> 0, tcp + 16, tcp);
    if (!hasAck) return;
    const ack = h.readUInt32BE(tcp + 8);
    if (s.ackShift < 0) s.ackShift = (ack - STORED_ISN) >>> 0;
    patchU32(h, tcp + 8, (ack - s.ackShift) >>> 0, tcp + 16, tcp);
  }

  private payloadId(buf: Buffer, off: number, len: number): number {
    this.payloadBytesSeen += len;
    const h = payloadHash(buf, off, len);
    let id = this.payByHash.get(h) ?? -1;
    while (id >= 0) {
      if (this.payLen[id] === len && buf.compare(this.pay.buf, this.payOff[id] as number, (this.payOff[id] as number) + len, off, off + len) === 0) return id;
      id = this.payNext[id] as number;
    }
    id = this.payOff.length;
    this.payOff.push(this.pay.append(buf, off, len));
    this.payLen.push(len);
    this.payNext.push(this.payByHash.get(h) ?? -1);
    this.payByHash.set(h, id);
    return id;
  }

  finish(): SessionStore {
    // Packets of one session contiguous, in capture order.
    const n = this.packetsStored;
    const hdrOff = new Int32Array(n);
    const hdrLen = new Uint16Array(n);
    const pay = new Int32Array(n);
    const ts = new Float64Array(n);
    const req = new Uint8Array(n);
    const kept = this.sessions.filter((s) => s.pkts.length > 0);
    const first = new Int32Array(kept.length + 1);
    const transfer = new Int16Array(kept.length);
    let at = 0;
    kept.forEach((s, i) => {
      first[i] = at;
      transfer[i] = s.transferIdx;
      for (const p of s.pkts) {
        hdrOff[at] = this.pktHdrOff[p] as number;
        hdrLen[at] = this.pktHdrLen[p] as number;
        pay[at] = this.pktPay[p] as number;
        ts[at] = this.pktTs[p] as number;
        req[at] = this.pktReq[p] as number;
        at++;
      }
    });
    first[kept.length] = at;
    return new SessionStore({
      first,
      transfer,
      hdrOff,
      hdrLen,
      pay,
      ts,
      req,
      hdr: this.hdr.compact(),
      payload: this.pay.compact(),
      payOff: Int32Array.from(this.payOff),
      payLen: Int32Array.from(this.payLen),
      clientIps: [...this.clients].sort((a, b) => a - b),
      payloadBytesSeen: this.payloadBytesSeen,
      skips: { ...this.skips },
    });
  }
}

export interface SessionStoreParts {
  /** Packets of session i are first[i] .. first[i+1]−1 (first has sessions+1 entries). */
  first: Int32Array;
  transfer: Int16Array;
  hdrOff: Int32Array;
  hdrLen: Uint16Array;
  /** Payload id of each packet, −1 for none. */
  pay: Int32Array;
  /** µs since the session's first packet. */
  ts: Float64Array;
  /** 1 where a packet starts a request. */
  req: Uint8Array;
  hdr: Buffer;
  payload: Buffer;
  payOff: Int32Array;
  payLen: Int32Array;
  /** Distinct captured client addresses (the default user address range). */
  clientIps: number[];
  payloadBytesSeen: number;
  skips: StoreSkips;
}

/** Largest packet the store writes (IP + TCP headers ≤ 120 bytes, payload ≤ 65535 − headers). */
export const STORE_MAX_PACKET = 65535;

export class SessionStore {
  readonly sessions: number;
  readonly packets: number;

  constructor(readonly p: SessionStoreParts) {
    this.sessions = p.transfer.length;
    this.packets = p.hdrOff.length;
  }

  get clientIps(): readonly number[] {
    return this.p.clientIps;
  }

  /** Bytes held by the store's arrays and arenas. */
  get memoryBytes(): number {
    const p = this.p;
    return (
      p.first.byteLength + p.transfer.byteLength + p.hdrOff.byteLength + p.hdrLen.byteLength + p.pay.byteLength + p.ts.byteLength + p.req.byteLength +
      p.hdr.length + p.payload.length + p.payOff.byteLength + p.payLen.byteLength
    );
  }

  /** Payload bytes in the capture's stored packets, and after deduplication. */
  get payloadBytes(): { seen: number; unique: number } {
    return { seen: this.p.payloadBytesSeen, unique: this.p.payload.length };
  }

  firstPacket(session: number): number {
    return this.p.first[session] as number;
  }

  /** One past the session's last packet. */
  endPacket(session: number): number {
    return this.p.first[session + 1] as number;
  }

  transferOf(session: number): number {
    return this.p.transfer[session] as number;
  }

  /** µs since its session's first packet. */
  offsetUs(pkt: number): number {
    return this.p.ts[pkt] as number;
  }

  /** Whether packet `pkt` starts a request (for the requests counter). */
  startsRequest(pkt: number): boolean {
    return this.p.req[pkt] === 1;
  }

  /**
   * Write packet `pkt` into out[0..] as sent by clientIp:clientPort (the IP and TCP checksums
   * patched, so valid captured checksums stay valid). Returns its length.
   */
  write(pkt: number, out: Buffer, clientIp: number, clientPort: number): number {
    const p = this.p;
    const hl = p.hdrLen[pkt] as number;
    const ho = p.hdrOff[pkt] as number;
    p.hdr.copy(out, 0, ho, ho + hl);
    let len = hl;
    const pid = p.pay[pkt] as number;
    if (pid >= 0) {
      const po = p.payOff[pid] as number;
      const pl = p.payLen[pid] as number;
      p.payload.copy(out, hl, po, po + pl);
      len += pl;
    }
    const tcpOff = ((out[0] as number) & 0x0f) << 2;
    const oldIp = out.readUInt32BE(12);
    if (oldIp !== clientIp) {
      out.writeUInt32BE(clientIp >>> 0, 12);
      // The address is in the IP header checksum and in the TCP pseudo-header (both even offsets).
      out.writeUInt16BE(csumReplace32(out.readUInt16BE(10), oldIp, clientIp), 10);
      out.writeUInt16BE(csumReplace32(out.readUInt16BE(tcpOff + 16), oldIp, clientIp), tcpOff + 16);
    }
    patchU16(out, tcpOff, clientPort, tcpOff + 16, tcpOff);
    return len;
  }
}
