import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer, type PacerOptions } from '../../../src/core/replay/index.js';

const T0 = 1_700_000_000_000_000; // capture epoch µs
const START = 5_000_000; // replay clock at begin()

/** Release times (relative to START) for packets captured at T0 + rel[i]. */
function pace(opts: PacerOptions, rel: number[]): number[] {
  const p = new Pacer(opts);
  p.begin(START);
  return rel.map((r) => p.releaseTimeUs(T0 + r) - START);
}

test('1x: each packet is due at its own capture offset (not when its predecessor was due)', () => {
  assert.deepEqual(pace({}, [0, 10_000, 10_500, 250_000]), [0, 10_000, 10_500, 250_000]);
});

test('-a divides offsets, float factors round up so nothing leaves early', () => {
  assert.deepEqual(pace({ acceleration: 2 }, [0, 10_000, 10_501, 250_000]), [0, 5_000, 5_251, 125_000]);
  assert.deepEqual(pace({ acceleration: 3 }, [0, 1, 2, 3, 10]), [0, 1, 1, 1, 4]);
  assert.deepEqual(pace({ acceleration: 1.5 }, [0, 3_000, 4_000_000]), [0, 2_000, 2_666_667]);
});

test('-I caps each long gap once, in capture time, before acceleration', () => {
  // gaps: 1 s, 30 s (capped to 2 s), 0.5 s, 3600 s (capped to 2 s)
  const rel = [0, 1_000_000, 31_000_000, 31_500_000, 3_631_500_000];
  assert.deepEqual(pace({ idleCapMs: 2000 }, rel), [0, 1_000_000, 3_000_000, 3_500_000, 5_500_000]);
  assert.deepEqual(pace({ idleCapMs: 2000, acceleration: 4 }, rel), [0, 250_000, 750_000, 875_000, 1_375_000]);
  const p = new Pacer({ idleCapMs: 2000 });
  p.begin(0);
  for (const r of rel) p.releaseTimeUs(T0 + r);
  assert.equal(p.stats.compressedGaps, 2);
  assert.equal(p.stats.compressedUs, 28_000_000 + 3_598_000_000);
});

test('a gap equal to the cap is not compressed; -I 0 means no cap', () => {
  assert.deepEqual(pace({ idleCapMs: 1 }, [0, 1_000, 2_001]), [0, 1_000, 2_000]);
  assert.deepEqual(pace({ idleCapMs: 0 }, [0, 100_000_000]), [0, 100_000_000]);
});

test('timestamps going backwards count as a zero gap and do not become the reference', () => {
  const p = new Pacer({});
  p.begin(START);
  const out = [0, 50_000, 20_000, 60_000].map((r) => p.releaseTimeUs(T0 + r) - START);
  // 60 000 is 10 000 after the latest timestamp seen (50 000), not 40 000 after 20 000.
  assert.deepEqual(out, [0, 50_000, 50_000, 60_000]);
  assert.equal(p.stats.backwardSteps, 1);
});

test('--rate releases everything at the start, in order, ignoring -a and -I', () => {
  assert.deepEqual(pace({ fastest: true, acceleration: 7, idleCapMs: 5 }, [0, 9_000_000, 1, 5]), [0, 0, 0, 0]);
  const p = new Pacer({ fastest: true, loops: 2 });
  p.begin(START);
  p.releaseTimeUs(T0);
  assert.equal(p.startLoop(), true);
  assert.equal(p.releaseTimeUs(T0 + 123), START);
});

test('-T: each run starts after the previous run ends, with the loop index exposed', () => {
  const p = new Pacer({ loops: 3, acceleration: 2, loopGapMs: 10 });
  p.begin(START);
  const run = (): number[] => [0, 100_000, 300_000].map((r) => p.releaseTimeUs(T0 + r) - START);
  assert.equal(p.loop, 0);
  assert.deepEqual(run(), [0, 50_000, 150_000]);
  assert.equal(p.hasNextLoop, true);
  assert.equal(p.startLoop(), true);
  assert.equal(p.loop, 1);
  // Starts 10 ms after the previous run's last packet (150 000 µs).
  assert.deepEqual(run(), [160_000, 210_000, 310_000]);
  assert.equal(p.startLoop(), true);
  assert.equal(p.loop, 2);
  assert.deepEqual(run(), [320_000, 370_000, 470_000]);
  assert.equal(p.hasNextLoop, false);
  assert.equal(p.startLoop(), false);
  assert.equal(p.loop, 2);
  assert.equal(p.stats.packets, 9);
});

test('a run does not pace against the previous run\'s timestamps', () => {
  const p = new Pacer({ loops: 2 });
  p.begin(0);
  p.releaseTimeUs(T0 + 500_000);
  assert.equal(p.releaseTimeUs(T0 + 1_500_000), 1_000_000);
  p.startLoop();
  // The capture restarts at an earlier time: no backwards step, no gap from the old run.
  assert.equal(p.releaseTimeUs(T0), 1_000_000);
  assert.equal(p.stats.backwardSteps, 0);
});

test('waitUs and argument checks', () => {
  assert.equal(Pacer.waitUs(1_000, 400), 600);
  assert.equal(Pacer.waitUs(1_000, 1_000), 0);
  assert.equal(Pacer.waitUs(1_000, 9_000), 0);
  assert.throws(() => new Pacer({ acceleration: 0.5 }), /acceleration must be a number ≥ 1, got 0.5/);
  assert.throws(() => new Pacer({ loops: 0 }), /loops must be an integer ≥ 1/);
  assert.throws(() => new Pacer({ idleCapMs: -1 }), /idle cap/);
  assert.throws(() => new Pacer({}).releaseTimeUs(1), /begin/);
});
