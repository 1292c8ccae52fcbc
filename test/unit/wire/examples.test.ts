import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  buildRecord,
  encodeClientAdd,
  encodeFrame,
  encodeHello,
  FrameBuilder,
  FrameDecoder,
  MessageDecoder,
  newChannelMessage,
  newRecordInfo,
  RECORD_SIZE,
} from '../../../src/core/wire/index.js';
import { hex, ipChecksumOk } from './hex.js';

// docs/wire-protocol.md §8, copied byte for byte. Client 198.51.100.7:51000, server 192.0.2.10:8080.
const HELLO = hex('00 00 00 00  00 00  00 06  00 00 00 00  00 00');
const CLIENT_ADD = hex('c6 33 64 07  c7 38  00 01  c0 00 02 0a  1f 90');
const RECORD1 = hex(`
00: 45 00 00 3c 00 00 40 00 40 06 4e 77 c0 00 02 0a
10: c6 33 64 07 1f 90 c7 38 1a 2b 3c 4d 00 c0 ff ef
20: a0 12 fe 88 c4 b2 00 00 02 04 05 b4 04 02 08 0a
30: 11 22 33 44 0a 0b 0c 0d 01 03 03 07 00 00 00 00`);
const RECORD2 = hex(`
00: 45 00 00 98 5a 5b 40 00 40 06 f3 bf c0 00 02 0a
10: c6 33 64 07 1f 90 c7 38 1a 2b 3c 4e 00 c1 00 30
20: 80 18 01 fd ea 39 00 00 01 01 08 0a 11 22 33 50
30: 0a 0b 0c 20 00 00 00 00 00 00 00 00 00 00 00 00`);

const CLIENT_IP = 0xc6336407; // 198.51.100.7
const SERVER_IP = 0xc000020a; // 192.0.2.10

/** The response packets the records were taken from: the headers above plus the uncarried payload. */
function synAckPacket(): Buffer {
  return RECORD1.subarray(0, 60); // tot_len 60: 20 IP + 40 TCP, the record's last 4 bytes are padding
}
function dataPacket(): Buffer {
  const p = Buffer.alloc(152, 0x61); // 100 payload bytes of 'a'
  RECORD2.copy(p, 0, 0, 52); // 20 IP + 32 TCP
  return p;
}

test('§8 worked examples carry valid IP checksums (the hex is self-consistent)', () => {
  assert.ok(ipChecksumOk(RECORD1));
  assert.ok(ipChecksumOk(RECORD2));
});

test('§8 hello is byte-identical', () => {
  assert.deepEqual(encodeHello(), HELLO);
});

test('§8 CLIENT_ADD is byte-identical', () => {
  assert.deepEqual(encodeClientAdd(CLIENT_IP, 51000, SERVER_IP, 8080), CLIENT_ADD);
});

test('§8 records are built byte-identical from the response packets', () => {
  const out = Buffer.alloc(RECORD_SIZE, 0xee); // garbage first: the builder must zero the padding
  const info = newRecordInfo();
  assert.equal(buildRecord(synAckPacket(), 60, out, 0, false, info), 'ok');
  assert.deepEqual(out, RECORD1);
  assert.equal(info.payloadLength, 0);
  assert.equal(info.flags, 0x12);
  assert.equal(info.clientIp, CLIENT_IP);
  assert.equal(info.clientPort, 51000);
  assert.equal(info.serverIp, SERVER_IP);
  assert.equal(info.serverPort, 8080);
  assert.equal(info.trimmed, false);

  out.fill(0xee);
  const pkt = dataPacket();
  assert.equal(buildRecord(pkt, pkt.length, out, 0, false, info), 'ok');
  assert.deepEqual(out, RECORD2);
  assert.equal(info.payloadLength, 100);
});

test('§8 combined frame with the two records is byte-identical (FrameBuilder and encodeFrame)', () => {
  const expected = Buffer.concat([hex('00 02'), RECORD1, RECORD2]);
  assert.equal(expected.length, 130);
  const fb = new FrameBuilder(RECORD_SIZE, 16);
  const info = newRecordInfo();
  for (const pkt of [synAckPacket(), dataPacket()]) {
    assert.equal(buildRecord(pkt, pkt.length, fb.slotBuffer(), fb.slotOffset(), false, info), 'ok');
    fb.commit();
  }
  assert.deepEqual(fb.take(), expected);
  assert.equal(fb.take(), null);
  assert.deepEqual(encodeFrame([RECORD1, RECORD2], RECORD_SIZE), expected);
});

test('§8 the decoders read the examples back', () => {
  const md = new MessageDecoder();
  const m = newChannelMessage();
  md.feed(Buffer.concat([HELLO, CLIENT_ADD]));
  assert.equal(md.next(m), 'hello');
  assert.equal(m.type, 6);
  assert.equal(md.next(m), 'client-add');
  assert.deepEqual({ ...m }, { cltIp: CLIENT_IP, cltPort: 51000, type: 1, targetIp: SERVER_IP, targetPort: 8080 });
  assert.equal(md.next(m), 'need-more');

  const fd = new FrameDecoder(RECORD_SIZE, 16);
  fd.feed(Buffer.concat([hex('00 02'), RECORD1, RECORD2]));
  const got: Buffer[] = [];
  for (let r = fd.next(); r === 'record'; r = fd.next()) got.push(Buffer.from(fd.record.subarray(fd.recordOff, fd.recordOff + RECORD_SIZE)));
  assert.deepEqual(got, [RECORD1, RECORD2]);
  // The copier's payload-length formula on the records: tot_len − ihl*4 − doff*4.
  const payload = (r: Buffer): number => r.readUInt16BE(2) - (r[0]! & 15) * 4 - (r[32]! >> 4) * 4;
  assert.deepEqual(got.map(payload), [0, 100]);
});
