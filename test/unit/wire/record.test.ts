import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  buildRecord,
  newRecordInfo,
  PAYLOAD_RECORD_SIZE,
  RECORD_SIZE,
  wholeOptionsLength,
  type RecordResult,
} from '../../../src/core/wire/index.js';
import { hex, ipChecksumOk } from './hex.js';

// Captured with tcpdump -x on lo (python http.server on :18081, curl client), unmodified.
const REAL_SYNACK = hex(`
0x0000:  4500 003c 0000 4000 4006 3cba 7f00 0001
0x0010:  7f00 0001 46a1 80a6 9246 ffc2 5e90 04f1
0x0020:  a012 ffcb fe30 0000 0204 ffd7 0402 080a
0x0030:  3339 a46a 364d c687 0103 030a`);
const REAL_ACK = hex(`
0x0000:  4500 0034 fe23 4000 4006 3e9e 7f00 0001
0x0010:  7f00 0001 46a1 80a6 9246 ffc3 5e90 0540
0x0020:  8010 0040 fe28 0000 0101 080a 3339 a46a
0x0030:  364d c687`);
const REAL_DATA = hex(`
0x0000:  4500 00d0 fe24 4000 4006 3e01 7f00 0001
0x0010:  7f00 0001 46a1 80a6 9246 ffc3 5e90 0540
0x0020:  8018 0040 fec4 0000 0101 080a 3339 a46b
0x0030:  364d c687 4854 5450 2f31 2e30 2032 3030
0x0040:  204f 4b0d 0a53 6572 7665 723a 2053 696d
0x0050:  706c 6548 5454 502f 302e 3620 5079 7468
0x0060:  6f6e 2f33 2e31 312e 370d 0a44 6174 653a
0x0070:  2053 756e 2c20 3232 204e 6f76 2032 3032
0x0080:  3620 3136 3a31 333a 3331 2047 4d54 0d0a
0x0090:  436f 6e74 656e 742d 7479 7065 3a20 7465
0x00a0:  7874 2f68 746d 6c3b 2063 6861 7273 6574
0x00b0:  3d75 7466 2d38 0d0a 436f 6e74 656e 742d
0x00c0:  4c65 6e67 7468 3a20 3138 3438 0d0a 0d0a`);

function build(pkt: Buffer, withPayload = false): { res: RecordResult; rec: Buffer; info: ReturnType<typeof newRecordInfo> } {
  const rec = Buffer.alloc(withPayload ? PAYLOAD_RECORD_SIZE : RECORD_SIZE, 0xaa);
  const info = newRecordInfo();
  const res = buildRecord(pkt, pkt.length, rec, 0, withPayload, info);
  return { res, rec, info };
}

/** What a stock copier reads from a record: TCP header at ihl*4, payload = tot_len − ihl*4 − doff*4. */
function copierView(rec: Buffer): { ihl: number; doff: number; payload: number; seq: number; ack: number; sport: number; dport: number } {
  const ihl = (rec[0]! & 15) * 4;
  const doff = (rec[ihl + 12]! >> 4) * 4;
  return {
    ihl,
    doff,
    payload: rec.readUInt16BE(2) - ihl - doff,
    sport: rec.readUInt16BE(ihl),
    dport: rec.readUInt16BE(ihl + 2),
    seq: rec.readUInt32BE(ihl + 4),
    ack: rec.readUInt32BE(ihl + 8),
  };
}

/** Inserts `opts` (multiple of 4) as IP options and fixes IHL, tot_len and the IP checksum. */
function withIpOptions(pkt: Buffer, opts: Buffer): Buffer {
  const out = Buffer.concat([pkt.subarray(0, 20), opts, pkt.subarray(20)]);
  out[0] = 0x40 | ((20 + opts.length) / 4);
  out.writeUInt16BE(pkt.readUInt16BE(2) + opts.length, 2);
  out.writeUInt16BE(0, 10);
  let sum = 0;
  for (let i = 0; i < 20 + opts.length; i += 2) sum += out.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  out.writeUInt16BE(~sum & 0xffff, 10);
  return out;
}

/** Replaces the TCP options of a 20-byte-IP packet (options padded to a multiple of 4). */
function withTcpOptions(pkt: Buffer, opts: Buffer): Buffer {
  const doff = ((pkt[32]! >> 4) * 4);
  const out = Buffer.concat([pkt.subarray(0, 40), opts, pkt.subarray(20 + doff)]);
  out[32] = (((20 + opts.length) / 4) << 4) | (pkt[32]! & 15);
  out.writeUInt16BE(out.length, 2);
  return out;
}

test('real SYN-ACK: record is the header verbatim, zero padded to 64', () => {
  const { res, rec, info } = build(REAL_SYNACK);
  assert.equal(res, 'ok');
  assert.deepEqual(rec.subarray(0, 60), REAL_SYNACK);
  assert.deepEqual(rec.subarray(60), Buffer.alloc(4));
  assert.equal(info.flags, 0x12);
  assert.equal(info.serverPort, 18081);
  assert.equal(info.clientPort, 32934);
  assert.equal(info.clientIp, 0x7f000001);
  const v = copierView(rec);
  assert.deepEqual([v.seq, v.ack, v.payload], [2454126530, 1586496753, 0]);
});

test('real pure ACK and real 156-byte data response', () => {
  let r = build(REAL_ACK);
  assert.equal(r.res, 'ok');
  assert.deepEqual(r.rec.subarray(0, 52), REAL_ACK);
  assert.deepEqual(r.rec.subarray(52), Buffer.alloc(12));
  r = build(REAL_DATA);
  assert.equal(r.res, 'ok');
  assert.deepEqual(r.rec.subarray(0, 52), REAL_DATA.subarray(0, 52));
  assert.deepEqual(r.rec.subarray(52), Buffer.alloc(12), 'payload is never carried in 64-byte records');
  assert.equal(r.info.payloadLength, 156);
  assert.equal(copierView(r.rec).payload, 156);
});

test('IP options: IHL normalised to 5, TCP header at 20, tot_len and checksum adjusted', () => {
  const routerAlert = hex('94 04 00 00');
  for (const opts of [routerAlert, Buffer.concat([routerAlert, hex('01 01 01 00')])]) {
    for (const pkt of [REAL_SYNACK, REAL_DATA]) {
      const odd = withIpOptions(pkt, opts);
      assert.ok(ipChecksumOk(odd, 0, 20 + opts.length));
      const plain = build(pkt).rec;
      const { res, rec, info } = build(odd);
      assert.equal(res, 'ok');
      // Removing the options gives back the original header exactly, checksum included.
      assert.deepEqual(rec, plain);
      assert.ok(ipChecksumOk(rec));
      assert.equal(info.trimmed, true);
      assert.equal(copierView(rec).ihl, 20);
      assert.equal(copierView(rec).payload, info.payloadLength);
      assert.equal(info.serverPort, 18081);
    }
  }
});

test('TCP options longer than 24 bytes: whole options only, doff 11, tot_len keeps the payload length', () => {
  // NOP NOP TS(10) NOP NOP SACK(3 blocks, 26) = 40 option bytes, doff 15.
  const opts = hex(`01 01 08 0a 33 39 a4 6b 36 4d c6 87 01 01 05 1a
    00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00 06`);
  assert.equal(opts.length, 40);
  const pkt = withTcpOptions(REAL_DATA, opts);
  assert.equal((pkt[32]! >> 4) * 4, 60);
  const { res, rec, info } = build(pkt);
  assert.equal(res, 'ok');
  const v = copierView(rec);
  assert.equal(v.doff, 44, 'doff says exactly what the record holds');
  assert.equal(v.payload, 156, 'payload length unchanged for a stock copier');
  assert.equal(info.payloadLength, 156);
  assert.deepEqual(rec.subarray(40, 54), opts.subarray(0, 14), 'NOP NOP TS NOP NOP kept');
  assert.deepEqual(rec.subarray(54, 64), Buffer.alloc(10), 'the SACK option that does not fit is not cut in half');
  assert.equal(rec[32]! & 15, pkt[32]! & 15, 'reserved bits kept');
  assert.ok(ipChecksumOk(rec));
  assert.deepEqual(rec.subarray(20, 32), pkt.subarray(20, 32), 'ports, seq, ack verbatim');
  assert.equal(rec[33], pkt[33]);

  // Options that fit exactly in 24 bytes are kept whole (MSS, SACK-ok, TS, NOP, WS, NOP NOP NOP NOP then more).
  const opts2 = hex('02 04 05 b4 04 02 08 0a 11 22 33 44 0a 0b 0c 0d 01 03 03 07 01 01 01 01 13 12 00 00 00 00 00 00 00 00 00 00 00 00 00 00');
  const p2 = withTcpOptions(REAL_SYNACK, opts2);
  const r2 = build(p2);
  assert.equal(r2.res, 'ok');
  assert.deepEqual(r2.rec.subarray(40, 64), opts2.subarray(0, 24));
  assert.equal(copierView(r2.rec).payload, 0);
});

test('wholeOptionsLength stops at EOL, malformed lengths and options crossing the end', () => {
  assert.equal(wholeOptionsLength(hex('01 01 08 0a 00 00 00 01 00 00 00 02'), 0, 12), 12);
  assert.equal(wholeOptionsLength(hex('01 00 08 0a'), 0, 4), 1);
  assert.equal(wholeOptionsLength(hex('01 05 01 01'), 0, 4), 1, 'length 1 is malformed');
  assert.equal(wholeOptionsLength(hex('01 08 0a 00'), 0, 4), 1, 'TS crossing the end');
  assert.equal(wholeOptionsLength(hex('01 02'), 0, 2), 1, 'kind without room for its length');
  assert.equal(wholeOptionsLength(Buffer.alloc(40, 1), 0, 40), 24, 'never more than 24');
});

test('payload variant: 192-byte records carry payloads of 1..128 bytes after the TCP header', () => {
  const small = Buffer.concat([REAL_DATA.subarray(0, 52), Buffer.from('HTTP/1.0 200 OK\r\n')]);
  small.writeUInt16BE(small.length, 2);
  const { res, rec, info } = build(small, true);
  assert.equal(res, 'ok');
  assert.equal(rec.length, 192);
  assert.equal(info.payloadLength, 17);
  assert.deepEqual(rec.subarray(0, 52), small.subarray(0, 52));
  assert.equal(rec.subarray(52, 69).toString(), 'HTTP/1.0 200 OK\r\n');
  assert.deepEqual(rec.subarray(69), Buffer.alloc(192 - 69));

  const big = build(REAL_DATA, true); // 156 bytes: not carried at all
  assert.equal(big.res, 'ok');
  assert.deepEqual(big.rec.subarray(52), Buffer.alloc(192 - 52));

  const syn = build(REAL_SYNACK, true);
  assert.deepEqual(syn.rec.subarray(60), Buffer.alloc(192 - 60));
});

test('malformed packets are rejected with a reason, and nothing is written', () => {
  const cases: [string, Buffer, RecordResult][] = [
    ['empty', Buffer.alloc(0), 'short'],
    ['19 bytes', REAL_SYNACK.subarray(0, 19), 'short'],
    ['39 bytes', REAL_SYNACK.subarray(0, 39), 'short'],
    ['IPv6', Buffer.concat([hex('60'), REAL_SYNACK.subarray(1)]), 'not-ipv4'],
    ['IHL 4', Buffer.concat([hex('44'), REAL_SYNACK.subarray(1)]), 'bad-ihl'],
    ['UDP', (() => { const b = Buffer.from(REAL_SYNACK); b[9] = 17; return b; })(), 'not-tcp'],
    ['fragment', (() => { const b = Buffer.from(REAL_SYNACK); b.writeUInt16BE(0x2001, 6); return b; })(), 'fragment'],
    ['doff 4', (() => { const b = Buffer.from(REAL_SYNACK); b[32] = 0x42; return b; })(), 'bad-tcp-offset'],
    ['tot_len < headers', (() => { const b = Buffer.from(REAL_SYNACK); b.writeUInt16BE(40, 2); return b; })(), 'bad-tcp-offset'],
    ['IHL 15 beyond capture', Buffer.concat([hex('4f'), REAL_SYNACK.subarray(1)]), 'short'],
  ];
  for (const [name, pkt, want] of cases) {
    const { res, rec } = build(pkt);
    assert.equal(res, want, name);
    assert.deepEqual(rec, Buffer.alloc(RECORD_SIZE, 0xaa), `${name}: record untouched`);
  }
});

test('random bytes never throw (fixed-seed fuzz, 20000 packets)', () => {
  let s = 0x12345678;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const out = Buffer.alloc(PAYLOAD_RECORD_SIZE);
  const info = newRecordInfo();
  const seen = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const len = rnd() % 120;
    const p = Buffer.alloc(len);
    for (let j = 0; j < len; j++) p[j] = rnd() & 255;
    if (len > 0 && i % 2 === 0) p[0] = 0x45 + (rnd() % 3);
    if (len > 9 && i % 4 === 0) p[9] = 6;
    if (len > 7 && i % 4 === 0) p[6] = p[7] = 0;
    seen.add(buildRecord(p, len, out, 0, (i & 8) !== 0, info));
  }
  assert.ok(seen.has('ok') && seen.has('short') && seen.has('not-tcp'), [...seen].join(','));
});
