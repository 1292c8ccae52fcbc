import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { copyBytes, FrameBuilder, FramePool, RECORD_SIZE } from '../../../src/core/wire/index.js';

const rec = (b: number): Buffer => Buffer.alloc(RECORD_SIZE, b);

test('copyBytes copies every length and offset exactly, like Buffer.copy', () => {
  const src = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff));
  for (const len of [0, 1, 3, 4, 5, 20, 63, 64, 192]) {
    for (const so of [0, 1, 13]) {
      const a = Buffer.alloc(260, 0xee);
      const b = Buffer.alloc(260, 0xee);
      copyBytes(src, so, a, 7, len);
      src.copy(b, 7, so, so + len);
      assert.deepEqual(a, b, `len ${len} offset ${so}`);
    }
  }
});

test('a pooled frame is not reused while the socket holds it, and is reused once released', () => {
  const pool = new FramePool(RECORD_SIZE, 16, 4);
  const fb = new FrameBuilder(RECORD_SIZE, 16, pool);
  fb.append(rec(1));
  const f1 = fb.take();
  const done1 = fb.takenRelease;
  assert.ok(f1 !== null);
  const bytes1 = Buffer.from(f1);
  // The next frame must go elsewhere: f1 is still being written.
  fb.append(rec(2));
  fb.append(rec(3));
  const f2 = fb.take();
  const done2 = fb.takenRelease;
  assert.ok(f2 !== null);
  assert.deepEqual(f1, bytes1, 'the frame in flight is untouched');
  assert.notEqual(f1.buffer === f2.buffer && f1.byteOffset === f2.byteOffset, true);
  assert.equal(f2.readUInt16BE(0), 2);
  done1();
  done1(); // a repeated callback must not free the slot twice
  assert.equal(pool.freeCount, 1);
  fb.append(rec(4));
  const f3 = fb.take();
  assert.ok(f3 !== null);
  assert.equal(f3.byteOffset, f1.byteOffset, 'the released buffer is reused');
  assert.equal(f3.buffer, f1.buffer);
  assert.equal(f3, f1, 'the one-record view is reused too (no allocation per frame)');
  assert.equal(pool.freeCount, 0);
  done2();
  assert.equal(pool.freeCount, 1);
});

test('an exhausted pool lends one-off buffers; discard gives the slot back', () => {
  const pool = new FramePool(RECORD_SIZE, 16, 1);
  const fb = new FrameBuilder(RECORD_SIZE, 16, pool);
  fb.append(rec(1));
  const a = fb.take();
  fb.append(rec(2));
  const b = fb.take();
  assert.ok(a !== null && b !== null);
  assert.equal(pool.overflow, 1);
  assert.equal(b.readUInt8(2), 2);
  assert.equal(a.readUInt8(2), 1);
  fb.takenRelease(); // one-off: released into nothing
  assert.equal(pool.freeCount, 0);
  const pool2 = new FramePool(RECORD_SIZE, 16, 2);
  const fb2 = new FrameBuilder(RECORD_SIZE, 16, pool2);
  fb2.append(rec(5));
  assert.equal(fb2.discard(), 1);
  assert.equal(pool2.freeCount, 1, 'a discarded frame returns its buffer');
  fb2.append(rec(6));
  const c = fb2.take();
  assert.ok(c !== null);
  assert.equal(c.readUInt16BE(0), 1);
  assert.equal(c.readUInt8(2), 6);
});
