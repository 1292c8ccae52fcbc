import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHello } from '../../../src/core/wire/index.js';
import { ACK, makeEngine, recPort, response, settle } from './fixtures.js';

/** Sends one response per client port and returns which connection each one's record reached. */
function owners(e: ReturnType<typeof makeEngine>['e'], sink: ReturnType<typeof makeEngine>['sink'], conns: number[], ports: number[], now: number): Map<number, number> {
  sink.writes = [];
  for (const p of ports) e.onPacket(response(0x0a020001, p, ACK), 152, now);
  settle(e, now + 1);
  settle(e, now + 2);
  const out = new Map<number, number>();
  for (const c of conns) for (const r of sink.records(c)) out.set(recPort(r), c);
  return out;
}

test('unrouted sessions stay on their connection when another copier connection comes or goes', () => {
  const { e, sink } = makeEngine();
  for (const id of [1, 2, 3]) {
    e.onConnect(id, 0x0a000001, `10.0.0.1:${40000 + id}`, 0);
    e.onData(id, encodeHello(), 0);
  }
  const ports = Array.from({ length: 600 }, (_, i) => 1024 + i);
  const before = owners(e, sink, [1, 2, 3], ports, 10);
  assert.equal(before.size, ports.length);
  for (const id of [1, 2, 3]) assert.ok([...before.values()].filter((c) => c === id).length > 100, `connection ${id} gets its share`);

  e.onClosed(2, 'peer closed the connection');
  const after = owners(e, sink, [1, 3], ports, 20);
  let moved = 0;
  for (const p of ports) {
    if (before.get(p) !== 2) assert.equal(after.get(p), before.get(p), `port ${p} moved from live connection ${before.get(p)} to ${after.get(p)}`);
    else moved++;
  }
  assert.ok(moved > 0);

  // A new connection takes some sessions, but none moves between the two old ones.
  e.onConnect(4, 0x0a000001, '10.0.0.1:40004', 30);
  e.onData(4, encodeHello(), 30);
  const joined = owners(e, sink, [1, 3, 4], ports, 40);
  for (const p of ports) {
    const now = joined.get(p);
    assert.ok(now === after.get(p) || now === 4, `port ${p} moved from ${after.get(p)} to ${now}`);
  }
});
