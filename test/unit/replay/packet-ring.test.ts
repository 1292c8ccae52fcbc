import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { PacketRing } from '../../../src/core/replay/packet-ring.js';

const pkt = (len: number, fill: number): Buffer => Buffer.alloc(len, fill);

function popAll(r: PacketRing): { len: number; fill: number; ts: number; idx: number }[] {
  const out: { len: number; fill: number; ts: number; idx: number }[] = [];
  while (r.size > 0) {
    out.push({ len: r.headLength, fill: r.slab[r.headOffset] as number, ts: r.headTsUs, idx: r.headTransfer });
    // Every byte of the packet is its own: nothing overlapped it.
    assert.ok(r.slab.subarray(r.headOffset, r.headOffset + r.headLength).every((b) => b === out[out.length - 1]?.fill));
    r.shift();
  }
  return out;
}

test('packets come out in order with their bytes, timestamps and transfer index', () => {
  const r = new PacketRing(1000, 8);
  for (let i = 1; i <= 5; i++) assert.ok(r.push(pkt(100, i), 0, 100, i * 10, i % 2));
  assert.equal(r.size, 5);
  assert.equal(r.bytesUsed, 500);
  assert.deepEqual(
    popAll(r).map((p) => [p.fill, p.ts, p.idx]),
    [[1, 10, 1], [2, 20, 0], [3, 30, 1], [4, 40, 0], [5, 50, 1]],
  );
  assert.equal(r.bytesUsed, 0);
});

test('copies from an offset inside a bigger frame (the IP header after the link header)', () => {
  const r = new PacketRing(64, 4);
  const frame = Buffer.concat([Buffer.alloc(14, 0xee), pkt(20, 7)]);
  assert.ok(r.push(frame, 14, 20, 1, 0));
  assert.deepEqual([...r.slab.subarray(r.headOffset, r.headOffset + r.headLength)], [...pkt(20, 7)]);
});

test('refuses when the slots or the bytes are used up, and accepts again once packets leave', () => {
  const slots = new PacketRing(10_000, 3);
  for (let i = 0; i < 3; i++) assert.ok(slots.push(pkt(10, i), 0, 10, 0, 0));
  assert.equal(slots.push(pkt(10, 9), 0, 10, 0, 0), false, 'no slot left');
  slots.shift();
  assert.ok(slots.push(pkt(10, 9), 0, 10, 0, 0));

  const bytes = new PacketRing(300, 100);
  assert.ok(bytes.push(pkt(200, 1), 0, 200, 0, 0));
  assert.equal(bytes.push(pkt(101, 2), 0, 101, 0, 0), false, 'only 100 bytes left');
  assert.ok(bytes.push(pkt(100, 2), 0, 100, 0, 0));
  assert.equal(bytes.push(pkt(1, 3), 0, 1, 0, 0), false, 'full');
  assert.equal(bytes.push(pkt(301, 3), 0, 301, 0, 0), false);
  assert.equal(new PacketRing(300, 1).push(pkt(301, 3), 0, 301, 0, 0), false, 'bigger than the slab');
});

test('wraps to the slab start when the tail has no room, and never overwrites held packets', () => {
  const r = new PacketRing(300, 16);
  assert.ok(r.push(pkt(120, 1), 0, 120, 0, 0)); // [0,120)
  assert.ok(r.push(pkt(120, 2), 0, 120, 0, 0)); // [120,240)
  r.shift(); // free [0,120)
  assert.equal(r.push(pkt(121, 3), 0, 121, 0, 0), false, 'neither after 240 (60 left) nor before 120 fits 121');
  assert.ok(r.push(pkt(100, 3), 0, 100, 0, 0)); // wraps: [0,100)
  assert.equal(r.headOffset, 120);
  assert.equal(r.push(pkt(21, 4), 0, 21, 0, 0), false, 'only [100,120) is free while wrapped');
  assert.ok(r.push(pkt(20, 4), 0, 20, 0, 0)); // [100,120)
  assert.equal(r.push(pkt(1, 5), 0, 1, 0, 0), false);
  assert.deepEqual(popAll(r).map((p) => p.fill), [2, 3, 4]);
});

test('a long random run keeps FIFO order and contents (model check)', () => {
  const r = new PacketRing(4096, 64);
  const model: number[] = [];
  let next = 1;
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let step = 0; step < 20_000; step++) {
    if (rnd(3) !== 0) {
      const len = 1 + rnd(300);
      const fill = next++ & 0xff;
      if (r.push(pkt(len, fill), 0, len, next, 0)) model.push(fill);
    } else if (model.length > 0) {
      assert.equal(r.slab[r.headOffset], model.shift());
      r.shift();
    }
    assert.equal(r.size, model.length);
    assert.ok(r.bytesUsed <= 4096);
  }
});
