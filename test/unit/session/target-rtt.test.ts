import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TargetRtt } from '../../../src/core/session/target-rtt.js';
import { defaultEngineConfig } from '../../../src/core/session/types.js';

const cfg = defaultEngineConfig([]);
const IP = 0xc0000202; // 192.0.2.2: above 2^31, where a signed key would go negative

test('an unknown target, or one with fewer than four handshakes, gets the initial RTO', () => {
  const t = new TargetRtt();
  assert.equal(t.synRto(IP, 80, cfg), cfg.initialRtoUs);
  for (let i = 0; i < 3; i++) t.sample(IP, 80, 500);
  assert.equal(t.synRto(IP, 80, cfg), cfg.initialRtoUs);
  t.sample(IP, 80, 500);
  assert.equal(t.synRto(IP, 80, cfg), cfg.minRtoUs);
});

test('targets are told apart by address and port', () => {
  const t = new TargetRtt();
  for (let i = 0; i < 4; i++) t.sample(IP, 80, 500);
  assert.equal(t.synRto(IP, 8080, cfg), cfg.initialRtoUs);
  assert.equal(t.synRto(IP + 1, 80, cfg), cfg.initialRtoUs);
});

test('a slow target: srtt + 4 × rttvar, never above the initial RTO; negative samples are ignored', () => {
  const t = new TargetRtt();
  for (let i = 0; i < 8; i++) t.sample(IP, 80, 300_000);
  t.sample(IP, 80, -5);
  // Constant samples: rttvar decays from 50 ms by 3/4 per sample.
  const rto = t.synRto(IP, 80, cfg);
  const rttvar = 150_000 * 0.75 ** 7;
  assert.ok(Math.abs(rto - (300_000 + 4 * rttvar)) < 1, `rto ${rto}`);
  const slow = new TargetRtt();
  for (let i = 0; i < 4; i++) slow.sample(IP, 80, 3_000_000);
  assert.equal(slow.synRto(IP, 80, cfg), cfg.initialRtoUs);
});
