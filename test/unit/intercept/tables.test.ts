import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { clientKey, DelayTable, pickIndex, RouteTable } from '../../../src/core/intercept/index.js';

test('route keys are exact over the whole 48-bit client address', () => {
  assert.notEqual(clientKey(0xffffffff, 1), clientKey(0xfffffffe, 1));
  assert.notEqual(clientKey(1, 0), clientKey(0, 1));
  assert.equal(clientKey(0xffffffff, 0xffff), 0xffffffff * 65536 + 0xffff);
  assert.ok(Number.isSafeInteger(clientKey(0xffffffff, 0xffff)));
});

test('route table: add/refresh/lookup/delete and removal by connection', () => {
  const t = new RouteTable(100, 1_000_000);
  assert.equal(t.add(1, 2, 3, 4, 7, 0), -1);
  assert.equal(t.add(1, 2, 3, 5, 8, 0), -1);
  assert.equal(t.add(1, 2, 3, 4, 9, 0), 7, 'refresh returns the old owner');
  assert.equal(t.lookup(1, 2, 3, 4, 0), 9);
  assert.equal(t.lookup(1, 2, 3, 5, 0), 8);
  assert.equal(t.lookup(1, 2, 3, 6, 0), -1);
  assert.equal(t.lookup(1, 3, 3, 4, 0), -1);
  assert.equal(t.size, 2);
  assert.equal(t.removeConn(9), 1);
  assert.equal(t.lookup(1, 2, 3, 4, 0), -1);
  assert.equal(t.lookup(1, 2, 3, 5, 0), 8);
  assert.equal(t.delete(1, 2, 3, 5, 1), false, 'not the owner');
  assert.equal(t.delete(1, 2, 3, 5, 8), true);
  assert.equal(t.size, 0);
});

test('route table: bounded (oldest evicted) and idle routes expire while used ones stay', () => {
  const t = new RouteTable(3, 1000);
  for (let p = 1; p <= 4; p++) t.add(10, p, 1, 1, p, 0);
  assert.equal(t.size, 3);
  assert.equal(t.lookup(10, 1, 1, 1, 0), -1, 'oldest evicted');
  assert.equal(t.lookup(10, 4, 1, 1, 900), 4);
  assert.equal(t.sweep(1000, 100), 2);
  assert.equal(t.size, 1);
  assert.equal(t.lookup(10, 4, 1, 1, 1000), 4);
  assert.equal(t.sweep(1899, 100), 0);
  assert.equal(t.sweep(2000, 100), 1);
});

test('delay table: per-route FIFO, take once, bound and lifetime', () => {
  const d = new DelayTable(3, 30);
  const r = (n: number): Buffer => Buffer.from([n]);
  assert.ok(d.put(1, 1, 9, 9, r(1), 0));
  assert.ok(d.put(1, 1, 9, 8, r(2), 5));
  assert.ok(d.put(1, 1, 9, 9, r(3), 10));
  assert.ok(!d.put(2, 2, 9, 9, r(4), 10), 'full');
  assert.deepEqual(d.take(1, 1, 9, 9)?.map((b) => b[0]), [1, 3]);
  assert.equal(d.take(1, 1, 9, 9), null);
  assert.equal(d.size, 1);
  assert.equal(d.expire(34), 0);
  assert.equal(d.expire(35), 1);
  assert.equal(d.size, 0);
});

test('pickIndex is deterministic, in range and spreads ports of one address', () => {
  const counts = [0, 0, 0, 0];
  for (let port = 0; port < 4000; port++) {
    const i = pickIndex(0x0a000001, port, 4);
    assert.equal(i, pickIndex(0x0a000001, port, 4));
    counts[i]!++;
  }
  assert.ok(counts.every((c) => c > 850 && c < 1150), counts.join(','));
});

test('delay table takeAll: oldest routes first, per-route FIFO, old entries counted as expired', () => {
  const d = new DelayTable(100, 30_000_000);
  const r = (n: number): Buffer => Buffer.from([n]);
  d.put(1, 1, 9, 9, r(1), 0); // expires (older than 1000 at now=2000)
  d.put(2, 2, 9, 9, r(2), 1500);
  d.put(3, 3, 9, 9, r(3), 1600);
  d.put(2, 2, 9, 9, r(4), 1700);
  d.put(3, 3, 9, 8, r(5), 1800); // same client, second target
  const expired = [0];
  assert.deepEqual(d.takeAll(2000, 1000, expired).map((b) => b[0]), [2, 4, 3, 5]);
  assert.deepEqual(expired, [1]);
  assert.equal(d.size, 0);
  assert.deepEqual(d.takeAll(2000, 1000, expired), []);
});
