import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WakeTimer } from '../../../src/app/wake-timer.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('WakeTimer fires once for the earliest time asked, and a later ask does not postpone it', async () => {
  let runs = 0;
  const t = new WakeTimer(() => runs++);
  const now = 1_000_000;
  t.arm(now + 5_000, now);
  t.arm(now + 500_000, now); // later: the 5 ms wake-up stays
  await sleep(60);
  assert.equal(runs, 1);
  assert.equal(t.fires, 1);
  await sleep(20);
  assert.equal(runs, 1, 'nothing re-armed after firing');
});

test('WakeTimer: an earlier time replaces a later one; Infinity and clear() cancel', async () => {
  let runs = 0;
  const t = new WakeTimer(() => runs++);
  const now = 1_000_000;
  t.arm(now + 10_000_000, now);
  t.arm(now + 1_000, now); // earlier: re-armed
  await sleep(40);
  assert.equal(runs, 1);
  t.arm(now + 1_000, now);
  t.arm(Infinity, now);
  t.arm(now + 1_000, now);
  t.clear();
  await sleep(40);
  assert.equal(runs, 1, 'cancelled wake-ups never run');
  assert.equal(t.fires, 1);
});
