import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHello } from '../../../src/core/wire/index.js';
import { ACK, makeEngine, response } from './fixtures.js';

test('a connection that never completes its hello is closed with a reason; a real copier is served', () => {
  const { e, sink } = makeEngine({ maxConnections: 2 });
  assert.ok(e.onConnect(1, 0x0a000001, '10.0.0.1:40001', 0));
  e.onData(1, encodeHello().subarray(0, 5), 0); // short hello, then silence (half-open, or not a copier)
  assert.ok(e.onConnect(2, 0x0a000002, '10.0.0.2:40002', 0)); // connected, says nothing
  e.onTimer(9_000_000);
  assert.equal(sink.closes.length, 0, 'not before the timeout');
  e.onTimer(10_500_000);
  assert.deepEqual(sink.closes.map((c) => c.conn).sort(), [1, 2]);
  assert.match(sink.closes.find((c) => c.conn === 1)?.reason ?? '', /hello.*5 of 14 bytes/);
  assert.match(sink.closes.find((c) => c.conn === 2)?.reason ?? '', /hello.*0 of 14 bytes/);
  assert.ok(sink.logs.some((l) => l.level === 'warn' && /connection 1 .*hello/.test(l.message)));
  // The slots they held are free again: a copier gets in and receives records at once.
  assert.ok(e.onConnect(3, 0x0a000003, '10.0.0.3:40003', 10_600_000), 'not refused for max connections');
  e.onData(3, encodeHello(), 10_600_000);
  e.onPacket(response(0x0a020001, 5000, ACK), 152, 10_700_000);
  e.flushAll(10_700_000);
  assert.equal(sink.records(3).length, 1);
  assert.equal(e.delayedCount, 0);
});

test('a copier that completed its hello is never closed for the hello timeout', () => {
  const { e, sink } = makeEngine();
  assert.ok(e.onConnect(1, 0x0a000001, '10.0.0.1:40001', 0));
  e.onData(1, encodeHello(), 0);
  e.onTimer(60_000_000);
  assert.equal(sink.closes.length, 0);
  assert.deepEqual(e.connectionIds, [1]);
});
