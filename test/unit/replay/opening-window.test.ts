import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPENING_AUTO, OPENING_STALL_US, OpeningWindow } from '../../../src/core/replay/opening-window.js';

test('OpeningWindow, fixed: holds the file at the limit, goes on below it, and after 200 ms without any answer', () => {
  const w = new OpeningWindow(512);
  assert.equal(w.off, false);
  assert.equal(w.admits(0, 511), true);
  assert.equal(w.admits(10, 512), false, 'at the limit');
  assert.equal(w.holds, 1);
  assert.equal(w.heldSince, 10);
  assert.equal(w.wakeAt, 10 + OPENING_STALL_US);
  assert.equal(w.admits(20, 600), false, 'still held, same hold');
  assert.equal(w.holds, 1);
  // Answers arrive but not enough to go below the limit: the stall clock restarts.
  w.update(150_000, 520, 0, 5);
  assert.equal(w.heldSince, 150_000);
  assert.equal(w.admits(10 + OPENING_STALL_US, 520), false, 'answers came 60 ms ago');
  assert.equal(w.admits(150_000 + OPENING_STALL_US, 520), true, '200 ms without an answer: the file goes on');
  assert.equal(w.stalls, 1);
  assert.equal(w.admits(150_000 + OPENING_STALL_US + 1, 530), true);
  assert.equal(w.admits(150_000 + OPENING_STALL_US + 2, 540), true, 'given up: goes on');
  // An answer after all: the hold is taken up again, with a fresh stall clock.
  w.update(360_000, 540, 0, 6);
  assert.equal(w.admits(360_001, 540), false);
  assert.equal(w.admits(360_000 + OPENING_STALL_US, 540), true);
  assert.equal(w.stalls, 2);
  assert.equal(w.admits(600_000, 100), true);
  assert.equal(w.heldSince, -1, 'below the limit: no longer held');
  assert.equal(w.wakeAt, Infinity);
  assert.equal(w.describe(), '--max-opening 512 held the file back 2 times, 2 of them given up after 200 ms without an answer');
  // A fixed limit never moves with drops.
  w.update(500_000, 600, 1000, 5);
  assert.equal(w.limit, 512);
});

test('OpeningWindow, 0: off; auto: no limit until the target drops openings in a burst', () => {
  assert.equal(new OpeningWindow(0).off, true);
  assert.equal(new OpeningWindow(0).describe(), '');
  const w = new OpeningWindow(OPENING_AUTO);
  assert.equal(w.limit, Infinity);
  assert.equal(w.admits(0, 100_000), true);
  // A few lost SYNs (a lossy link, not a full queue): nothing changes.
  w.update(1_000, 3000, 3, 0);
  w.update(50_000, 3000, 7, 0);
  assert.equal(w.limit, Infinity);
  assert.equal(w.describe(), '--max-opening auto: the target never dropped an opening, no limit');
  // Later drops in another 100 ms span do not add up with those.
  w.update(200_000, 3000, 14, 0);
  assert.equal(w.limit, Infinity);
  // A burst: 8 in 100 ms.
  w.update(250_000, 3000, 16, 0);
  assert.equal(w.limit, 1500, 'half of what was opening');
  assert.equal(w.admits(250_001, 1500), false);
  // More drops of the same overflow within 200 ms: no second cut.
  w.update(300_000, 2000, 40, 0);
  w.update(320_000, 2000, 60, 0);
  assert.equal(w.limit, 1500);
  // Answers grow it back, one per eight.
  w.update(420_000, 1400, 60, 800);
  assert.equal(w.limit, 1600);
  // Another overflow 200 ms after the first cut: half of the smaller of limit and opening.
  w.update(460_000, 1200, 80, 800);
  assert.equal(w.limit, 600);
  // Never below 64.
  w.update(700_000, 50, 100, 800);
  assert.equal(w.limit, 64);
  assert.equal(w.cuts, 3);
  assert.equal(w.lowest, 64);
  // Lifted once grown past 16,384.
  w.update(800_000, 10, 100, 800 + 8 * 16_400);
  assert.equal(w.limit, Infinity);
  assert.match(w.describe(), /^--max-opening auto held the file back 1 times \(the target dropped openings: limit cut 3 times, lowest 64\)$/);
});
