import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beginTurn, gate } from '../../../src/core/session/pacing.js';
import { OnlineConn } from '../../../src/core/session/online-conn.js';
import { Session } from '../../../src/core/session/session.js';
import { EngineStats } from '../../../src/core/session/stats.js';
import { defaultEngineConfig } from '../../../src/core/session/types.js';

const T0 = 1_000_000_000;

function session(base = 4_294_967_000): Session {
  const conn = new OnlineConn(1, 2, 3, 4, 1, 0, true, 100);
  conn.base = base; // near the wrap: turn arithmetic is mod 2^32
  conn.hasBase = true;
  const s = new Session(1, conn, 0, 1, 2, 3, 4, T0);
  s.establishedAt = T0;
  s.lastRespAt = T0;
  return s;
}

test('same captured ack: no wait (first request, pipelined requests, continuation segments)', () => {
  const s = session();
  assert.equal(gate(s, defaultEngineConfig([]), new EngineStats(), s.conn.base, 5000, T0), 0);
});

test('a new turn waits for as many response bytes as the capture shows, then keeps think time / -a', () => {
  const cfg = defaultEngineConfig([], { acceleration: 4 });
  const st = new EngineStats();
  const s = session();
  const next = (s.conn.base + 1000) >>> 0;
  beginTurn(s, st, s.conn.base, 0);
  s.lastDataSentAt = T0;
  // Nothing yet: look again when the bounded wait would expire.
  assert.equal(gate(s, cfg, st, next, 400_000, T0 + 10), T0 + cfg.responseWaitMaxUs);
  // 600 of 1000 bytes with PSH: still waiting (until the quiet period).
  s.respBytes = 600;
  s.respPush = true;
  s.lastRespAt = T0 + 20;
  assert.equal(gate(s, cfg, st, next, 400_000, T0 + 30), T0 + 20 + cfg.responseQuietUs);
  // Complete at T0 + 50: ready at 50 + 400 ms / 4.
  s.respBytes = 1000;
  s.lastRespAt = T0 + 50;
  assert.equal(gate(s, cfg, st, next, 400_000, T0 + 60), T0 + 50 + 100_000);
  assert.equal(gate(s, cfg, st, next, 400_000, T0 + 50 + 100_000), 0);
  beginTurn(s, st, next, 500);
  assert.equal(s.turnAck, next);
  assert.equal(s.turnResp, 1000);
  assert.equal(st.turns, 1);
});

test('bigger test response: complete only at a PSH; smaller: after the quiet period; none: after the bounded wait', () => {
  const cfg = defaultEngineConfig([], { preserveThinkTime: false });
  const st = new EngineStats();
  const next = (x: Session): number => (x.conn.base + 1000) >>> 0;
  const big = session();
  big.lastDataSentAt = T0;
  big.respBytes = 5000;
  big.respPush = false;
  big.lastRespAt = T0 + 5;
  assert.notEqual(gate(big, cfg, st, next(big), 0, T0 + 6), 0);
  big.respPush = true;
  assert.equal(gate(big, cfg, st, next(big), 0, T0 + 7), 0);
  const small = session();
  small.lastDataSentAt = T0;
  small.respBytes = 10;
  small.lastRespAt = T0 + 5;
  assert.equal(gate(small, cfg, st, next(small), 0, T0 + 5 + cfg.responseQuietUs), 0);
  assert.equal(st.quietReleases, 1);
  const none = session();
  none.lastDataSentAt = T0;
  assert.equal(gate(none, cfg, st, next(none), 0, T0 + cfg.responseWaitMaxUs), 0);
  assert.equal(st.responseWaitsExpired, 1);
  assert.equal(none.responseWaitsExpired, 1);
});

test('-W never waits', () => {
  const s = session();
  assert.equal(gate(s, defaultEngineConfig([], { noWait: true }), new EngineStats(), (s.conn.base + 99) >>> 0, 1e6, T0), 0);
});
