import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { newTcpOptions, parseIpv4, parseTcpOptions, TCP_ACK, TCP_PSH, TCP_SYN, type OptionSpec } from '../../../src/core/packet/index.js';
import {
  buildRecord,
  newRecordFields,
  newRecordInfo,
  PAYLOAD_RECORD_SIZE,
  readRecord,
  RECORD_SIZE,
  type RecordFields,
} from '../../../src/core/wire/index.js';
import { buildSegment } from '../../helpers/packet/build.js';

function ip(s: string): number {
  const v = parseIpv4(s);
  if (v === null) throw new Error(`bad test address ${s}`);
  return v;
}

const SERVER = ip('192.0.2.10');
const CLIENT = ip('198.51.100.7');

/** A response of the test server to the (fake) client. */
function response(flags: number, options?: OptionSpec, payload?: Buffer): Buffer {
  return buildSegment({
    src: SERVER,
    dst: CLIENT,
    srcPort: 8080,
    dstPort: 51000,
    seq: 0xfedcba98,
    ack: 0x01020304,
    flags,
    window: 29200,
    ipId: 9,
    options,
    payload,
  });
}

/** buildRecord into a fresh record (0xaa filled first, so stale bytes would show). */
function record(pkt: Buffer, withPayload = false): Buffer {
  const rec = Buffer.alloc(withPayload ? PAYLOAD_RECORD_SIZE : RECORD_SIZE, 0xaa);
  assert.equal(buildRecord(pkt, pkt.length, rec, 0, withPayload, newRecordInfo()), 'ok');
  return rec;
}

/** readRecord into a fields object pre-set to junk, so every field must be written. */
function read(rec: Buffer, off: number, recLen: number): { res: string; f: RecordFields } {
  const f = newRecordFields();
  Object.assign(f, { serverIp: 1, serverPort: 1, clientIp: 1, clientPort: 1, seq: 1, ack: 1, flags: 1, window: 1, payloadLength: 99, optStart: -1, optEnd: -1 });
  return { res: readRecord(rec, off, recLen, f), f };
}

const SYNACK_OPTS: OptionSpec = { mss: 1460, sackOk: true, ts: { val: 0x11223344, ecr: 0x55667788 }, wscale: 7 };

test('round trip: a SYN-ACK with options, read from the second record of a frame', () => {
  const pkt = response(TCP_SYN | TCP_ACK, SYNACK_OPTS);
  const doff = (pkt[32]! >> 4) * 4;
  assert.equal(doff, 40);
  // Frame = u16 count + two records; the one under test is the second, at an odd offset.
  const frame = Buffer.concat([Buffer.from([0, 2]), record(response(TCP_ACK)), record(pkt)]);
  const off = 2 + RECORD_SIZE;
  const { res, f } = read(frame, off, RECORD_SIZE);
  assert.equal(res, 'ok');
  assert.deepEqual(
    { ...f },
    {
      serverIp: SERVER,
      serverPort: 8080,
      clientIp: CLIENT,
      clientPort: 51000,
      seq: 0xfedcba98,
      ack: 0x01020304,
      flags: TCP_SYN | TCP_ACK,
      window: 29200,
      payloadLength: 0,
      optStart: off + 40,
      optEnd: off + 60,
    },
  );
  const o = parseTcpOptions(frame, f.optStart, f.optEnd, newTcpOptions());
  assert.equal(o.mss, 1460);
  assert.equal(o.wscale, 7);
  assert.equal(o.sackOk, true);
  assert.equal(o.hasTs, true);
  assert.equal(o.tsVal, 0x11223344);
  assert.equal(o.tsEcr, 0x55667788);
  assert.equal(o.malformed, false);
});

test('round trip: a data response gives the payload length the packet had (payload not carried)', () => {
  const pkt = response(TCP_ACK | TCP_PSH, { ts: { val: 5, ecr: 6 } }, Buffer.alloc(1000, 0x41));
  const { res, f } = read(record(pkt), 0, RECORD_SIZE);
  assert.equal(res, 'ok');
  assert.equal(f.payloadLength, 1000);
  assert.equal(f.flags, TCP_ACK | TCP_PSH);
  assert.equal(f.optEnd - f.optStart, 12);
});

test('payload variant: 192-byte record, payload right after the options the record says it has', () => {
  const body = Buffer.from('HTTP/1.1 200 OK\r\n');
  const pkt = response(TCP_ACK | TCP_PSH, { ts: { val: 5, ecr: 6 } }, body);
  const rec = record(pkt, true);
  const { res, f } = read(rec, 0, PAYLOAD_RECORD_SIZE);
  assert.equal(res, 'ok');
  assert.equal(f.payloadLength, body.length);
  assert.equal(f.optStart, 40);
  assert.equal(f.optEnd, 52);
  assert.equal(rec.subarray(f.optEnd, f.optEnd + f.payloadLength).toString(), body.toString());
  assert.equal(parseTcpOptions(rec, f.optStart, f.optEnd, newTcpOptions()).tsVal, 5);
});

test('stock-style record with IHL > 5: TCP header still read at +20, payload from the claimed IHL', () => {
  const pkt = response(TCP_ACK | TCP_PSH, { ts: { val: 5, ecr: 6 } }, Buffer.alloc(300));
  const rec = record(pkt);
  // A stock interceptor copies 20 IP bytes but leaves IHL 6 and Total Length with the options.
  rec[0] = 0x46;
  rec.writeUInt16BE(rec.readUInt16BE(2) + 4, 2);
  const { res, f } = read(rec, 0, RECORD_SIZE);
  assert.equal(res, 'ok');
  assert.equal(f.serverPort, 8080);
  assert.equal(f.clientPort, 51000);
  assert.equal(f.seq, 0xfedcba98);
  assert.equal(f.ack, 0x01020304);
  assert.equal(f.window, 29200);
  assert.equal(f.optStart, 40);
  assert.equal(f.payloadLength, 300);
});

test('an IHL field below 5 counts as 20 bytes for the payload length', () => {
  const rec = record(response(TCP_ACK, undefined, Buffer.alloc(10)));
  rec[0] = 0x40;
  const { res, f } = read(rec, 0, RECORD_SIZE);
  assert.equal(res, 'ok');
  assert.equal(f.payloadLength, 10);
});

test('doff < 20 is bad-tcp-offset', () => {
  for (const doffByte of [0x00, 0x10, 0x40]) {
    const rec = record(response(TCP_ACK));
    rec[32] = doffByte;
    assert.equal(read(rec, 0, RECORD_SIZE).res, 'bad-tcp-offset', `doff byte ${doffByte}`);
  }
});

test('under 40 bytes of record is short, whether recLen or the buffer is what ends it', () => {
  const rec = record(response(TCP_ACK));
  assert.equal(read(rec, 0, 39).res, 'short');
  assert.equal(read(rec.subarray(0, 39), 0, RECORD_SIZE).res, 'short');
  assert.equal(read(rec, 25, RECORD_SIZE).res, 'short'); // 39 bytes left after off
  assert.equal(read(rec.subarray(0, 40), 0, RECORD_SIZE).res, 'ok');
});

test('Total Length smaller than the headers: bad-length, fields decoded, payloadLength 0', () => {
  const rec = record(response(TCP_SYN | TCP_ACK, SYNACK_OPTS));
  rec.writeUInt16BE(59, 2); // headers are 20 + 40
  const { res, f } = read(rec, 0, RECORD_SIZE);
  assert.equal(res, 'bad-length');
  assert.equal(f.payloadLength, 0);
  assert.equal(f.seq, 0xfedcba98);
  assert.equal(f.flags, TCP_SYN | TCP_ACK);
  assert.equal(f.clientIp, CLIENT);
  assert.equal(f.optEnd, 60);
  rec.writeUInt16BE(60, 2);
  assert.equal(read(rec, 0, RECORD_SIZE).res, 'ok');
});

/** A stock record of a packet with 40 option bytes (doff 15): stock copies the bytes that fit, keeps doff. */
function stockRecordDoff60(size: number): Buffer {
  const rec = Buffer.alloc(size);
  const pkt = response(TCP_ACK, { ts: { val: 1, ecr: 2 }, sack: [[10, 20], [30, 40], [50, 60]] });
  assert.equal((pkt[32]! >> 4) * 4, 60);
  pkt.copy(rec, 0, 0, Math.min(pkt.length, size));
  return rec;
}

test('options are clamped to the 24 bytes of a 64-byte record, even when the buffer goes on', () => {
  const rec = stockRecordDoff60(RECORD_SIZE);
  // Two records back to back: the first must not read options out of the second.
  const frame = Buffer.concat([rec, Buffer.alloc(RECORD_SIZE, 0x01)]);
  const { res, f } = read(frame, 0, RECORD_SIZE);
  assert.equal(res, 'ok');
  assert.equal(f.optStart, 40);
  assert.equal(f.optEnd, 64);
  assert.equal(f.payloadLength, 0);
});

test('a 192-byte record lets the whole 40-byte option area be read (the limit there is 152)', () => {
  const rec = stockRecordDoff60(PAYLOAD_RECORD_SIZE);
  const { res, f } = read(rec, 0, PAYLOAD_RECORD_SIZE);
  assert.equal(res, 'ok');
  assert.equal(f.optEnd - f.optStart, 40);
  const o = parseTcpOptions(rec, f.optStart, f.optEnd, newTcpOptions());
  assert.equal(o.sackBlocks, 3);
  assert.equal(o.malformed, false);
  // A buffer cut short of the record: options end where the bytes end.
  const cut = read(rec.subarray(0, 50), 0, PAYLOAD_RECORD_SIZE);
  assert.equal(cut.res, 'ok');
  assert.equal(cut.f.optEnd, 50);
});
