import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  encodeClientAdd,
  encodeClientDel,
  encodeHello,
  FrameDecoder,
  isMessageError,
  MessageDecoder,
  newChannelMessage,
  PAYLOAD_RECORD_SIZE,
  RECORD_SIZE,
  writeMessage,
  type MessageResult,
} from '../../../src/core/wire/index.js';

function decodeMessages(chunks: Buffer[]): string[] {
  const d = new MessageDecoder();
  const m = newChannelMessage();
  const out: string[] = [];
  for (const c of chunks) {
    d.feed(c);
    for (let r: MessageResult = d.next(m); r !== 'need-more'; r = d.next(m)) {
      out.push(`${r}:${m.cltIp.toString(16)}:${m.cltPort}:${m.type}:${m.targetIp.toString(16)}:${m.targetPort}`);
    }
  }
  return out;
}

const STREAM = Buffer.concat([
  encodeHello(),
  encodeClientAdd(0x0a020001, 50910, 0x0a010002, 8080),
  encodeClientAdd(0xc6336407, 51000, 0xc000020a, 8080),
  encodeClientDel(0x0a020001, 50910, 0x0a010002, 8080),
]);

test('message decoder gives the same messages at every split point (two and three pieces)', () => {
  const whole = decodeMessages([STREAM]);
  assert.equal(whole.length, 4);
  assert.match(whole[0]!, /^hello:0:0:6:/);
  assert.equal(whole[1], 'client-add:a020001:50910:1:a010002:8080');
  assert.equal(whole[3], 'client-del:a020001:50910:2:a010002:8080');
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(decodeMessages([STREAM.subarray(0, i), STREAM.subarray(i)]), whole, `split at ${i}`);
    for (let j = i; j <= STREAM.length; j += 5) {
      assert.deepEqual(decodeMessages([STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]), whole);
    }
  }
  const bytes = [...STREAM].map((b) => Buffer.from([b]));
  assert.deepEqual(decodeMessages(bytes), whole, 'one byte at a time');
});

test('message decoder reports bad hellos, unknown types and zero addresses', () => {
  const d = new MessageDecoder();
  const m = newChannelMessage();
  const old = Buffer.alloc(14);
  writeMessage(old, 0, { cltIp: 1, cltPort: 2, type: 1, targetIp: 0, targetPort: 0 });
  d.feed(old);
  const r = d.next(m);
  assert.equal(r, 'bad-hello');
  assert.ok(isMessageError(r));

  const v5 = encodeHello(5);
  assert.deepEqual(decodeMessages([v5]), ['hello:0:0:5:0:0'], 'a version mismatch is reported, not an error');

  const unknown = Buffer.alloc(14);
  writeMessage(unknown, 0, { cltIp: 1, cltPort: 2, type: 9, targetIp: 3, targetPort: 4 });
  assert.deepEqual(decodeMessages([encodeHello(), unknown]).map((s) => s.split(':')[0]), ['hello', 'unknown-type']);
  assert.deepEqual(decodeMessages([encodeHello(), encodeHello()]).map((s) => s.split(':')[0]), ['hello', 'unknown-type']);
  assert.deepEqual(decodeMessages([encodeHello(), encodeClientAdd(0, 5, 1, 1)]).map((s) => s.split(':')[0]), ['hello', 'bad-address']);

  const short = new MessageDecoder();
  short.feed(encodeHello().subarray(0, 9));
  assert.equal(short.next(m), 'need-more');
  assert.equal(short.helloSeen, false);
  assert.equal(short.partialBytes, 9, 'a short hello is visible at EOF');
});

function makeRecord(tag: number, size = RECORD_SIZE): Buffer {
  const r = Buffer.alloc(size);
  for (let i = 0; i < size; i++) r[i] = (tag * 31 + i) & 255;
  return r;
}

function frame(records: Buffer[]): Buffer {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(records.length, 0);
  return Buffer.concat([h, ...records]);
}

function decodeFrames(chunks: Buffer[], size = RECORD_SIZE, max = 16, combined = true): { records: string[]; last: string } {
  const d = new FrameDecoder(size, max, combined);
  const records: string[] = [];
  let last = '';
  for (const c of chunks) {
    d.feed(c);
    let r = d.next();
    for (; r === 'record'; r = d.next()) records.push(d.record.subarray(d.recordOff, d.recordOff + size).toString('hex'));
    last = r;
  }
  return { records, last };
}

test('frame decoder gives the same records at every split point', () => {
  const recs = Array.from({ length: 19 }, (_, i) => makeRecord(i));
  const stream = Buffer.concat([frame(recs.slice(0, 1)), frame([]), frame(recs.slice(1, 17)), frame(recs.slice(17))]);
  const want = recs.map((r) => r.toString('hex'));
  assert.deepEqual(decodeFrames([stream]).records, want);
  for (let i = 0; i <= stream.length; i++) {
    const got = decodeFrames([stream.subarray(0, i), stream.subarray(i)]);
    assert.deepEqual(got.records, want, `split at ${i}`);
    assert.equal(got.last, 'need-more');
  }
  for (let i = 0; i <= stream.length; i += 7) {
    for (let j = i; j <= stream.length; j += 61) {
      assert.deepEqual(decodeFrames([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]).records, want);
    }
  }
  assert.deepEqual(decodeFrames([...stream].map((b) => Buffer.from([b]))).records, want, 'one byte at a time');
});

/** As the channel client reads: every piece lands in one reused buffer, then detach(). */
function decodeFramesReused(chunks: Buffer[], size = RECORD_SIZE): string[] {
  const d = new FrameDecoder(size, 16, true);
  const readBuf = Buffer.alloc(4096);
  const records: string[] = [];
  for (const c of chunks) {
    c.copy(readBuf, 0);
    d.feed(readBuf, c.length);
    for (let r = d.next(); r === 'record'; r = d.next()) records.push(d.record.subarray(d.recordOff, d.recordOff + size).toString('hex'));
    d.detach();
    readBuf.fill(0xee); // the next read overwrites it: nothing may still point into it
  }
  return records;
}

test('frame decoder over one reused read buffer (feed with a length, detach) gives the same records at every split point', () => {
  const recs = Array.from({ length: 19 }, (_, i) => makeRecord(i));
  const stream = Buffer.concat([frame(recs.slice(0, 1)), frame(recs.slice(1, 17)), frame(recs.slice(17))]);
  const want = recs.map((r) => r.toString('hex'));
  for (let i = 0; i <= stream.length; i++) {
    for (let j = i; j <= stream.length; j += 37) {
      assert.deepEqual(decodeFramesReused([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]), want, `split at ${i}, ${j}`);
    }
  }
});

test('frame decoder: payload variant, bare records, and count above the maximum', () => {
  const big = [makeRecord(1, PAYLOAD_RECORD_SIZE), makeRecord(2, PAYLOAD_RECORD_SIZE)];
  const s = frame(big);
  for (let i = 0; i <= s.length; i += 3) {
    assert.deepEqual(decodeFrames([s.subarray(0, i), s.subarray(i)], PAYLOAD_RECORD_SIZE, 6).records, big.map((r) => r.toString('hex')));
  }
  const bare = Buffer.concat([makeRecord(5), makeRecord(6)]);
  assert.equal(decodeFrames([bare.subarray(0, 70), bare.subarray(70)], RECORD_SIZE, 16, false).records.length, 2);

  const recs = Array.from({ length: 17 }, (_, i) => makeRecord(i));
  const bad = Buffer.concat([frame([recs[0]!]), frame(recs)]);
  const got = decodeFrames([bad]);
  assert.equal(got.records.length, 1, 'records before the bad count are delivered');
  assert.equal(got.last, 'bad-count');
  const d = new FrameDecoder(RECORD_SIZE, 16);
  d.feed(bad.subarray(66));
  assert.equal(d.next(), 'bad-count');
  assert.equal(d.badCount, 17);
  d.feed(frame([recs[0]!]));
  assert.equal(d.next(), 'bad-count', 'sticky');
});
