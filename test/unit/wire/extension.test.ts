import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  encodeExtAck,
  encodeExtRecord,
  encodeExtRequest,
  encodeFrame,
  encodeHello,
  EXT_ALL_PAYLOAD,
  FrameDecoder,
  MessageDecoder,
  newChannelMessage,
  readExtAck,
  RECORD_SIZE,
} from '../../../src/core/wire/index.js';

const hex = (b: Buffer): string => b.toString('hex').replace(/(..)/g, '$1 ').trim();

test('the request and the ACK are byte for byte the examples of docs/wire-extension.md', () => {
  assert.equal(hex(encodeExtRequest(EXT_ALL_PAYLOAD)), '54 43 54 53 00 01 74 73 ff ff ff ff 00 00');
  assert.equal(hex(encodeExtAck(65535)), 'ff ff 01 00 00 00 00 0c 54 43 54 53 00 01 00 00 00 00 ff ff');
  assert.equal(readExtAck(encodeExtAck(777), 8, 12), 777);
  assert.equal(readExtAck(Buffer.alloc(12), 0, 12), -1, 'no magic, not an ACK');
});

test('our interceptor decodes the request after the hello; before the hello it is a bad hello', () => {
  const d = new MessageDecoder();
  const m = newChannelMessage();
  d.feed(Buffer.concat([encodeHello(), encodeExtRequest(4096)]));
  assert.equal(d.next(m), 'hello');
  assert.equal(d.next(m), 'ext-request');
  assert.equal(m.targetIp, 4096);
  const d2 = new MessageDecoder();
  d2.feed(encodeExtRequest(1));
  assert.equal(d2.next(m), 'bad-hello');
});

/** Runs a decoder over `stream` fed in pieces of `step` bytes; lists what came out. */
function decodeAll(stream: Buffer, step: number, extensions: boolean): string[] {
  const d = new FrameDecoder(RECORD_SIZE, 16, true, extensions);
  const out: string[] = [];
  for (let i = 0; i < stream.length; i += step) {
    d.feed(stream.subarray(i, i + step));
    for (;;) {
      const r = d.next();
      if (r === 'record') out.push(`rec ${d.record[d.recordOff]}`);
      else if (r === 'ext') out.push(`ext ${d.extKind} ${hex(d.record.subarray(d.recordOff, d.recordOff + d.extLen))}`);
      else if (r === 'bad-count') {
        out.push('bad');
        return out;
      } else break;
    }
  }
  return out;
}

test('extension frames interleave with combined frames at any split; a stock decoder rejects them', () => {
  const rec = (tag: number): Buffer => Buffer.alloc(RECORD_SIZE, tag);
  const pkt = Buffer.concat([Buffer.alloc(40), Buffer.from('hello')]);
  const stream = Buffer.concat([
    encodeFrame([rec(1), rec(2)], RECORD_SIZE),
    encodeExtAck(100),
    encodeExtRecord(rec(3), 0, RECORD_SIZE, pkt, 40, 5),
    encodeFrame([rec(4)], RECORD_SIZE),
  ]);
  const want = [
    'rec 1',
    'rec 2',
    'ext 1 54 43 54 53 00 01 00 00 00 00 00 64',
    `ext 2 ${hex(Buffer.concat([rec(3), Buffer.from('hello')]))}`,
    'rec 4',
  ];
  for (const step of [1, 2, 3, 7, 64, 1000]) assert.deepEqual(decodeAll(stream, step, true), want, `split every ${step}`);
  assert.deepEqual(decodeAll(stream, 1000, false), ['rec 1', 'rec 2', 'bad'], 'a copier that did not ask closes on the marker');
});
