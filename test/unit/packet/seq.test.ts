import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seqAdd, seqDiff, seqGeq, seqGt, seqInRange, seqLeq, seqLt, seqMax, seqMin } from '../../../src/core/packet/seq.js';
import { prng, randInt, randU32 } from '../../helpers/prng.js';

const MAX = 0xffffffff;

test('comparisons across the 2^32 wrap', () => {
  assert.ok(seqLt(MAX, 0));
  assert.ok(seqLt(MAX - 10, 5));
  assert.ok(seqGt(5, MAX - 10));
  assert.ok(!seqLt(5, MAX - 10));
  assert.ok(seqLeq(7, 7) && seqGeq(7, 7) && !seqLt(7, 7) && !seqGt(7, 7));
  assert.ok(seqLeq(MAX, 0) && !seqGeq(MAX, 0));
  assert.ok(seqLt(0x7ffffffe, 0x7fffffff) && seqLt(0x7fffffff, 0x80000000));
  // Plain numeric order would say the opposite of all of these.
  assert.ok(seqLt(0xfffffff0, 0x10));
  assert.ok(seqGt(0x10, 0xfffffff0));
});

test('seqAdd wraps and stays unsigned, seqDiff is signed', () => {
  assert.equal(seqAdd(MAX, 1), 0);
  assert.equal(seqAdd(MAX - 2, 10), 7);
  assert.equal(seqAdd(5, -10), MAX - 4);
  assert.equal(seqAdd(0, 0), 0);
  assert.equal(seqDiff(7, MAX - 2), 10);
  assert.equal(seqDiff(MAX - 2, 7), -10);
  assert.equal(seqDiff(100, 100), 0);
  assert.equal(seqMin(MAX, 3), MAX);
  assert.equal(seqMax(MAX, 3), 3);
});

test('seqInRange is half-open and works over the wrap', () => {
  const lo = MAX - 5;
  const hi = seqAdd(lo, 10); // 4
  assert.equal(hi, 4);
  assert.ok(seqInRange(lo, lo, hi));
  assert.ok(seqInRange(MAX, lo, hi));
  assert.ok(seqInRange(0, lo, hi));
  assert.ok(seqInRange(3, lo, hi));
  assert.ok(!seqInRange(4, lo, hi));
  assert.ok(!seqInRange(lo - 1, lo, hi));
  assert.ok(!seqInRange(100, lo, hi));
  assert.ok(!seqInRange(5, 5, 5)); // empty
});

test('random pairs: add/diff/compare agree with BigInt arithmetic mod 2^32', () => {
  const rand = prng(0x5e9);
  const M = 1n << 32n;
  for (let i = 0; i < 20000; i++) {
    const a = randU32(rand);
    const n = randInt(rand, 0x7fffffff) - 0x3fffffff;
    const b = seqAdd(a, n);
    assert.equal(BigInt(b), (((BigInt(a) + BigInt(n)) % M) + M) % M);
    assert.equal(seqDiff(b, a), n);
    assert.equal(seqLt(a, b), n > 0);
    assert.equal(seqGt(a, b), n < 0);
    assert.equal(seqLeq(a, b), n >= 0);
    assert.equal(seqGeq(a, b), n <= 0);
    if (n > 0) {
      assert.ok(seqInRange(a, a, b));
      assert.ok(!seqInRange(b, a, b));
      assert.ok(seqInRange(seqAdd(a, n >>> 1), a, b));
    }
  }
});
