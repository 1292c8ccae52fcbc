import { Buffer } from 'node:buffer';
import { CaptureError, type CaptureWarning } from './errors.js';
import { CaptureRecord } from './record.js';
import { describeLinkType, isSupportedLinkType, SUPPORTED_LINK_TYPES_TEXT } from './link-types.js';
import {
  BOM,
  BOM_SWAPPED,
  BT_EPB,
  BT_IDB,
  BT_OPB,
  BT_SPB,
  MAX_CAPLEN,
  MAX_META_BLOCK,
  MAX_PACKET_BLOCK,
  PCAPNG_SHB,
  SMALL_BLOCK,
  checkBlockLength,
  checkTrailer,
  fileMagic,
  fillPacketBlock,
  fillPcapRecord,
  parseIdb,
  type Iface,
} from './capture-format.js';
import { UnitInput, be32, le32 } from './unit-input.js';

export { MAX_CAPLEN } from './capture-format.js';

/*
 * Incremental pcap / pcapng parser. Pure: it is pushed byte chunks of any size and yields one
 * record at a time, tracking absolute file offsets. Memory is bounded by the largest single
 * record/block (a "unit"), never by the file.
 *
 * Buffering: a unit lying wholly inside the current chunk is parsed in place (zero copy). A unit
 * that straddles chunks is assembled in `carry` (only the bytes it needs are copied). When next()
 * returns null every byte of the chunk has been consumed or copied, so the caller may reuse the
 * chunk's memory for its next read.
 *
 * File layouts: capture-format.ts.
 */

export type CaptureFormat = 'pcap' | 'pcapng';

const S_MAGIC = 0;
const S_PCAP_HEADER = 1;
const S_PCAP_RECORD = 2;
const S_BLOCK = 3;
const S_SKIP = 4;
const S_TRAILER = 5;


export interface CaptureParserOptions {
  /** Name used in errors and warnings (the io adapter passes the file path). */
  source?: string;
  /** Called for each warning (they are also collected in `warnings`). */
  onWarning?: (w: CaptureWarning) => void;
}

export class CaptureParser extends UnitInput {
  readonly source: string;
  readonly warnings: CaptureWarning[] = [];
  private readonly onWarning: ((w: CaptureWarning) => void) | undefined;
  private readonly rec = new CaptureRecord();
  private readonly fail = (at: number, reason: string): CaptureError => this.error(at, reason);

  private state = S_MAGIC;
  private fmt: CaptureFormat | null = null;
  private le = true;
  private nanos = false;
  private snaplen = 0;
  private pcapLinkType = 0;
  private maxCaplen = MAX_CAPLEN;
  private ifaces: Iface[] = [];
  private sectionStart = 0;
  private packets = 0;
  private ended = false;

  // Skipping an unknown pcapng block: body bytes left, then its trailer.
  private skipLeft = 0;
  private skipBlockStart = 0;
  private skipBlockLen = 0;

  constructor(opts: CaptureParserOptions = {}) {
    super();
    this.source = opts.source ?? '<capture>';
    this.onWarning = opts.onWarning;
  }

  /** 'pcap' or 'pcapng' once the magic was read. */
  get format(): CaptureFormat | null {
    return this.fmt;
  }

  /** Link type of a pcap file, or of the first interface of the current pcapng section (-1 if none yet). */
  get linkType(): number {
    if (this.fmt === 'pcap') return this.pcapLinkType;
    return this.ifaces[0]?.linkType ?? -1;
  }

  /** Nanosecond timestamps (pcap) — pcapng reports per interface. */
  get nanosecondPrecision(): boolean {
    return this.nanos;
  }

  /** pcap snaplen, or the first pcapng interface's. */
  get snapLength(): number {
    return this.fmt === 'pcap' ? this.snaplen : (this.ifaces[0]?.snaplen ?? 0);
  }

  /** Packets returned so far. */
  get packetCount(): number {
    return this.packets;
  }

  /** Absolute offset of the next byte the parser will look at. */
  get bytesConsumed(): number {
    return this.offset + this.carryLen;
  }

  /**
   * Gives the parser the next bytes of the file. Call it only after next() returned null (all
   * earlier input consumed). The chunk is referenced until next() returns null again.
   */
  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('CaptureParser.push() after end()');
    if (this.pos < this.chunk.length) throw new Error('CaptureParser.push() before the previous chunk was consumed (call next() until it returns null)');
    this.chunk = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.pos = 0;
  }

  /**
   * The next packet, or null when more input is needed. The returned record is reused: it is
   * valid until the next call. Throws CaptureError on corrupt input.
   */
  next(): CaptureRecord | null {
    for (;;) {
      switch (this.state) {
        case S_PCAP_RECORD: {
          const r = this.pcapRecord();
          if (r === 0) return null;
          if (r === 1) return this.rec;
          continue;
        }
        case S_BLOCK: {
          const r = this.block();
          if (r === 0) return null;
          if (r === 1) return this.rec;
          continue;
        }
        case S_SKIP:
          if (!this.skip()) return null;
          continue;
        case S_TRAILER:
          if (!this.trailer()) return null;
          continue;
        case S_PCAP_HEADER:
          if (!this.pcapHeader()) return null;
          continue;
        default:
          if (!this.magic()) return null;
          continue;
      }
    }
  }

  /**
   * Signals end of input. A partial pcap record is a warning (everything before it was already
   * delivered, as tcpdump does); a partial pcapng block, or a file shorter than its header, is a
   * CaptureError naming where the unit started.
   */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pos < this.chunk.length) throw new Error('CaptureParser.end() before the last chunk was consumed (call next() until it returns null)');
    // next() returned null, so every unconsumed byte is in carry.
    const pending = this.carryLen;
    if (this.state === S_MAGIC && this.offset === 0 && pending === 0) {
      throw this.error(0, 'empty file: no pcap or pcapng header');
    }
    if (this.state === S_SKIP || this.state === S_TRAILER) {
      throw this.error(this.skipBlockStart, `pcapng block of ${this.skipBlockLen} bytes runs past the end of the file`);
    }
    if (pending === 0) return;
    switch (this.state) {
      case S_MAGIC:
      case S_PCAP_HEADER:
        throw this.error(this.offset, `file ends after ${this.offset + pending} bytes, inside the capture file header`);
      case S_PCAP_RECORD:
        this.warn(this.offset, `truncated final record: only ${pending} bytes of it are present (packets before it were delivered)`);
        return;
      default: {
        const what = pending >= 8 ? `pcapng block of ${this.u32(this.carry, 4)} bytes` : 'pcapng block header';
        throw this.error(this.offset, `${what} runs past the end of the file (${pending} bytes present)`);
      }
    }
  }

  private u32(b: Buffer, o: number): number {
    return this.le ? le32(b, o) : be32(b, o);
  }

  private u16(b: Buffer, o: number): number {
    return this.le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
  }

  private error(offset: number, reason: string): CaptureError {
    return new CaptureError(this.source, offset, reason);
  }

  private warn(offset: number, message: string): void {
    const w: CaptureWarning = { source: this.source, offset, message };
    this.warnings.push(w);
    this.onWarning?.(w);
  }

  // ---- format detection and pcap ----

  private magic(): boolean {
    if (!this.ensure(4)) return false;
    const b = this.ub;
    const o = this.uo;
    const m = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    const kind = fileMagic(m);
    if (kind === null) throw this.error(this.offset, `bad magic 0x${m.toString(16).padStart(8, '0')}: not a pcap or pcapng file`);
    this.fmt = kind.format;
    this.state = kind.format === 'pcapng' ? S_BLOCK : S_PCAP_HEADER;
    // pcapng: each section header's byte-order magic decides (block()).
    if (kind.format === 'pcap') {
      this.le = kind.le;
      this.nanos = kind.nanos;
    }
    return true;
  }

  private pcapHeader(): boolean {
    if (!this.ensure(24)) return false;
    const b = this.ub;
    const o = this.uo;
    const major = this.u16(b, o + 4);
    if (major !== 2) throw this.error(this.offset + 4, `unsupported pcap version ${major}.${this.u16(b, o + 6)} (expected 2.x)`);
    this.snaplen = this.u32(b, o + 16);
    // Upper bits of the link-type field carry FCS information; the type is the low 16 bits.
    this.pcapLinkType = this.u32(b, o + 20) & 0xffff;
    if (!isSupportedLinkType(this.pcapLinkType)) {
      throw this.error(this.offset + 20, `unsupported link type ${describeLinkType(this.pcapLinkType)} (supported: ${SUPPORTED_LINK_TYPES_TEXT})`);
    }
    // Writers sometimes store caplen slightly above snaplen; only reject what no snaplen explains.
    this.maxCaplen = Math.min(MAX_CAPLEN, Math.max(this.snaplen, 65535));
    this.consume(24);
    this.state = S_PCAP_RECORD;
    return true;
  }

  /** 0: need input, 1: record ready. */
  private pcapRecord(): number {
    // Fast path (nearly every record of a big file): header and data wholly inside the chunk.
    if (this.carryLen === 0) {
      const c = this.chunk;
      const o = this.pos;
      const avail = c.length - o;
      if (avail >= 16) {
        const capLen = this.le ? le32(c, o + 8) : be32(c, o + 8);
        if (capLen <= this.maxCaplen && avail >= 16 + capLen) {
          fillPcapRecord(this.rec, c, o, capLen, this.le, this.nanos, this.pcapLinkType, ++this.packets, this.offset);
          this.pos = o + 16 + capLen;
          this.offset += 16 + capLen;
          return 1;
        }
      }
    }
    if (!this.ensure(16)) return 0;
    const capLen = this.u32(this.ub, this.uo + 8);
    if (capLen > this.maxCaplen) {
      throw this.error(this.offset, `impossible record length: caplen ${capLen} exceeds ${this.maxCaplen} (snaplen ${this.snaplen})`);
    }
    const total = 16 + capLen;
    if (!this.ensure(total)) return 0;
    fillPcapRecord(this.rec, this.ub, this.uo, capLen, this.le, this.nanos, this.pcapLinkType, ++this.packets, this.offset);
    this.consume(total);
    return 1;
  }

  // ---- pcapng ----

  /** 0: need input, 1: record ready, 2: block handled, continue. */
  private block(): number {
    // Fast path: a well-formed EPB wholly inside the chunk (nearly every block of a big file).
    if (this.carryLen === 0) {
      const c = this.chunk;
      const o = this.pos;
      const avail = c.length - o;
      if (avail >= 32) {
        const le = this.le;
        if ((le ? le32(c, o) : be32(c, o)) === BT_EPB) {
          const len = le ? le32(c, o + 4) : be32(c, o + 4);
          if (len <= avail && len >= 32 && (len & 3) === 0 && len <= MAX_PACKET_BLOCK) {
            this.ub = c;
            this.uo = o;
            return this.packetBlock(BT_EPB, len);
          }
        }
      }
    }
    if (!this.ensure(12)) return 0;
    let b = this.ub;
    let o = this.uo;
    const start = this.offset;
    const type0 = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    if (type0 === PCAPNG_SHB) {
      // The section header's own byte order comes from its BOM, not from the previous section.
      const bomBe = ((b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!) >>> 0;
      if (bomBe === BOM) this.le = false;
      else if (bomBe === BOM_SWAPPED) this.le = true;
      else throw this.error(start + 8, `bad pcapng byte-order magic 0x${bomBe.toString(16).padStart(8, '0')} in section header block`);
      const len = this.u32(b, o + 4);
      checkBlockLength(this.fail, start, len, 28, MAX_META_BLOCK, 'section header');
      if (!this.ensure(len)) return 0;
      b = this.ub;
      o = this.uo;
      checkTrailer(this.fail, this.le, b, o, start, len);
      const major = this.u16(b, o + 12);
      if (major !== 1) throw this.error(start + 12, `unsupported pcapng version ${major}.${this.u16(b, o + 14)} (expected 1.x)`);
      this.ifaces = [];
      this.sectionStart = start;
      this.consume(len);
      return 2;
    }
    const type = this.u32(b, o);
    const len = this.u32(b, o + 4);
    switch (type) {
      case BT_EPB:
      case BT_SPB:
      case BT_OPB: {
        checkBlockLength(this.fail, start, len, type === BT_SPB ? 16 : 32, MAX_PACKET_BLOCK, 'packet');
        if (!this.ensure(len)) return 0;
        return this.packetBlock(type, len);
      }
      case BT_IDB: {
        checkBlockLength(this.fail, start, len, 20, MAX_META_BLOCK, 'interface description');
        if (!this.ensure(len)) return 0;
        b = this.ub;
        o = this.uo;
        checkTrailer(this.fail, this.le, b, o, start, len);
        this.ifaces.push(parseIdb(b, o, len, this.le, (at, reason) => this.error(start + at, reason)));
        this.consume(len);
        return 2;
      }
      default: {
        // Unknown or uninteresting block (NRB, ISB, DSB, custom...). Small ones are checked in
        // one piece; big ones are skipped without buffering them.
        checkBlockLength(this.fail, start, len, 12, 0xffffffff, 'pcapng');
        if (len <= SMALL_BLOCK) {
          if (!this.ensure(len)) return 0;
          checkTrailer(this.fail, this.le, this.ub, this.uo, start, len);
          this.consume(len);
          return 2;
        }
        this.skipBlockStart = start;
        this.skipBlockLen = len;
        this.consume(12);
        this.skipLeft = len - 16;
        this.state = S_SKIP;
        return 2;
      }
    }
  }

  private skip(): boolean {
    // Bytes of a skipped block never enter carry (consume() emptied it).
    const take = Math.min(this.skipLeft, this.chunk.length - this.pos);
    this.pos += take;
    this.offset += take;
    this.skipLeft -= take;
    if (this.skipLeft > 0) return false;
    this.state = S_TRAILER;
    return true;
  }

  private trailer(): boolean {
    if (!this.ensure(4)) return false;
    const t = this.u32(this.ub, this.uo);
    if (t !== this.skipBlockLen) {
      throw this.error(this.offset, `block trailer length ${t} does not match header length ${this.skipBlockLen} (block at ${this.skipBlockStart})`);
    }
    this.consume(4);
    this.state = S_BLOCK;
    return true;
  }
  /** Decodes an EPB/SPB/OPB available at ub[uo, uo+len) into the record. */
  private packetBlock(type: number, len: number): number {
    fillPacketBlock(this.rec, this.ub, this.uo, type, len, this.le, this.ifaces, this.packets + 1, this.offset, this.sectionStart, this.fail);
    this.packets++;
    this.consume(len);
    return 1;
  }
}
