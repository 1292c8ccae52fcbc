import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TupleMap } from '../../../src/core/session/tuple-map.js';
import { TimerHeap, type Timed } from '../../../src/core/session/timer-heap.js';
import { PortAllocator } from '../../../src/core/session/port-allocator.js';
import { Prng } from '../../../src/core/session/prng.js';

test('TupleMap: exact keys, no collisions between tuples differing in one field, delete keeps others reachable', () => {
  const m = new TupleMap<number>(4);
  const ref = new Map<string, number>();
  const r = new Prng(7);
  const keys: [number, number, number, number][] = [];
  for (let i = 0; i < 5000; i++) {
    // Few distinct values per field so that near-identical tuples are common.
    const k: [number, number, number, number] = [r.below(4) * 0x01000000, r.below(6), 0x0a000002 + r.below(3), 8080 + r.below(5)];
    keys.push(k);
    m.set(...k, i);
    ref.set(k.join(','), i);
  }
  assert.equal(m.size, ref.size);
  for (const k of keys) assert.equal(m.get(...k), ref.get(k.join(',')));
  // Delete half, check the rest.
  let n = 0;
  for (const [s] of ref) {
    if (n++ % 2 === 0) {
      const k = s.split(',').map(Number) as [number, number, number, number];
      assert.equal(m.delete(...k), true);
      ref.delete(s);
    }
  }
  for (const k of keys) assert.equal(m.get(...k), ref.get(k.join(',')));
  assert.equal(m.size, ref.size);
  assert.equal(m.get(1, 2, 3, 4), undefined);
  assert.equal(m.delete(1, 2, 3, 4), false);
});

test('TimerHeap: pops in deadline order with re-keying and removal', () => {
  interface T extends Timed {
    id: number;
  }
  const h = new TimerHeap<T>();
  const items: T[] = [];
  const r = new Prng(3);
  for (let i = 0; i < 500; i++) {
    const t: T = { id: i, deadline: Infinity, heapIndex: -1 };
    items.push(t);
    h.update(t, r.below(100000));
  }
  for (let i = 0; i < 500; i += 3) h.update(items[i]!, r.below(100000));
  for (let i = 1; i < 500; i += 5) h.update(items[i]!, Infinity);
  const expected = items.filter((t) => t.deadline !== Infinity).map((t) => t.deadline).sort((a, b) => a - b);
  const got: number[] = [];
  for (let t = h.peek(); t !== undefined; t = h.peek()) {
    got.push(t.deadline);
    h.remove(t);
  }
  assert.deepEqual(got, expected);
});

test('TimerHeap: random re-keys (earlier and later) and removals from the middle keep peek() the minimum', () => {
  interface T extends Timed {
    id: number;
  }
  const h = new TimerHeap<T>();
  const r = new Prng(11);
  // More than the initial key capacity (64), so the parallel key array grows mid-run.
  const items: T[] = Array.from({ length: 300 }, (_, id) => ({ id, deadline: Infinity, heapIndex: -1 }));
  for (let step = 0; step < 20000; step++) {
    const t = items[r.below(items.length)]!;
    const op = r.below(10);
    if (op === 0) h.remove(t);
    else h.update(t, op === 1 ? Infinity : r.below(1000));
    if (op === 0) t.deadline = Infinity; // removed: out of the reference too
    const live = items.filter((x) => x.heapIndex >= 0);
    assert.equal(h.size, live.length, `size at step ${step}`);
    assert.equal(live.length, items.filter((x) => x.deadline !== Infinity).length, `membership at step ${step}`);
    const min = Math.min(...live.map((x) => x.deadline));
    assert.equal(h.peek()?.deadline ?? Infinity, min, `minimum at step ${step}`);
  }
  const got: number[] = [];
  for (let t = h.peek(); t !== undefined; t = h.peek()) {
    got.push(t.deadline);
    h.remove(t);
  }
  assert.deepEqual(got, [...got].sort((a, b) => a - b));
});

test('PortAllocator: preferred port when free, next free otherwise, TIME_WAIT respected until expiry, exhaustion reported', () => {
  const live = new Set<string>();
  const a = new PortAllocator((c, p, t, tp) => live.has(`${c}:${p}:${t}:${tp}`));
  assert.equal(a.allocate(1, 5000, 2, 80, 0), 5000);
  live.add('1:5000:2:80');
  assert.equal(a.allocate(1, 5000, 2, 80, 0), 5001);
  assert.equal(a.allocate(1, 5000, 2, 81, 0), 5000, 'another target: same port is fine');
  a.addTimeWait(1, 5001, 2, 80, 1000);
  assert.equal(a.allocate(1, 5000, 2, 80, 500), 5002);
  assert.equal(a.allocate(1, 5001, 2, 80, 1000), 5001, 'expired TIME_WAIT is free');
  a.expire(2000);
  assert.equal(a.timeWaitCount, 0);
  assert.equal(a.allocate(1, 65535, 2, 80, 0), 65535);
  live.add('1:65535:2:80');
  assert.equal(a.allocate(1, 65535, 2, 80, 0), 1024, 'wraps to 1024');
  for (let p = 1024; p < 65536; p++) live.add(`9:${p}:2:80`);
  assert.equal(a.allocate(9, 3000, 2, 80, 0), -1);
});
