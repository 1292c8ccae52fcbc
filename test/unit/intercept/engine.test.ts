import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { encodeClientAdd, encodeClientDel, encodeHello, buildRecord, newRecordInfo, RECORD_SIZE, encodeExtRequest as encodeExtRequestFor } from '../../../src/core/wire/index.js';
import { VERDICT_ACCEPT, VERDICT_DROP } from '../../../src/core/intercept/index.js';
import { decodeExtStream } from './ext-fixtures.js';
import { ACK, makeEngine, PSH, recPort, recSeq, response, RST, SERVER, SERVER_PORT, settle, SYN } from './fixtures.js';

const C1 = 0x0a020001; // fake client 10.2.0.1
const C2 = 0x0a020002;

function connect(e: ReturnType<typeof makeEngine>['e'], id: number, now = 0, peerIp = 0x0a000001): boolean {
  const ok = e.onConnect(id, peerIp, `10.0.0.1:${40000 + id}`, now);
  if (ok) e.onData(id, encodeHello(), now);
  return ok;
}

test('single copier: a SYN-ACK is dropped and its record, built byte for byte, is written at the next tick', () => {
  const { e, sink } = makeEngine();
  connect(e, 1);
  const pkt = response(C1, 50910, SYN | ACK, 0x1a2b3c4d);
  assert.equal(e.onPacket(pkt, pkt.length, 10), VERDICT_DROP);
  assert.equal(sink.writes.length, 0, 'held until the burst is over');
  e.onTick(10);
  assert.equal(sink.writes.length, 0, 'a record arrived since the last tick');
  e.onTick(20);
  assert.equal(sink.writes.length, 1);
  const want = Buffer.alloc(RECORD_SIZE);
  assert.equal(buildRecord(pkt, pkt.length, want, 0, false, newRecordInfo()), 'ok');
  assert.deepEqual(sink.records(1), [want]);
  assert.equal(sink.writes[0]!.frame.length, 2 + 64);
  const st = e.stats;
  assert.deepEqual([st.queued, st.dropped, st.records, st.frames, st.hashed], [1, 1, 1, 1, 1]);
});

test('pass list gets ACCEPT and nothing is forwarded; foreign and broken packets get verdicts', () => {
  const { e, sink } = makeEngine({ passList: [C2] });
  connect(e, 1);
  const pass = response(C2, 1234, ACK);
  assert.equal(e.onPacket(pass, pass.length, 0), VERDICT_ACCEPT);
  const udp = Buffer.from(response(C1, 1, ACK));
  udp[9] = 17;
  assert.equal(e.onPacket(udp, udp.length, 0), VERDICT_ACCEPT);
  const short = response(C1, 1, ACK).subarray(0, 30);
  assert.equal(e.onPacket(short, short.length, 0), VERDICT_DROP);
  assert.equal(e.onPacket(Buffer.alloc(0), 0, 0), VERDICT_DROP);
  // len larger than the buffer is clamped, not trusted
  assert.equal(e.onPacket(Buffer.alloc(3), 9999, 0), VERDICT_DROP);
  settle(e, 100);
  assert.equal(sink.writes.length, 0);
  assert.deepEqual([e.stats.passed, e.stats.foreign, e.stats.invalid, e.stats.queued], [1, 1, 3, 5]);
});

test('every packet gets a verdict and nothing throws (fixed-seed fuzz)', () => {
  const { e } = makeEngine({ passList: [C2], docker: { from: C1, to: C2 } });
  connect(e, 1);
  let s = 99;
  const rnd = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s >>> 8);
  const base = response(C1, 5000, ACK | PSH, 1, Buffer.alloc(40, 1));
  let verdicts = 0;
  for (let i = 0; i < 5000; i++) {
    const p = Buffer.from(base.subarray(0, rnd() % (base.length + 1)));
    for (let k = rnd() % 4; k > 0 && p.length > 0; k--) p[rnd() % p.length] = rnd() & 255;
    const v = e.onPacket(p, p.length, i);
    if (v === VERDICT_ACCEPT || v === VERDICT_DROP) verdicts++;
    if (i % 7 === 0) e.onTick(i);
  }
  assert.equal(verdicts, 5000);
  assert.equal(e.stats.queued, 5000);
  assert.equal(e.stats.dropped + e.stats.passed + e.stats.foreign, 5000);
});

test('a burst shares frames; frames never exceed -n; the hold time bounds the wait', () => {
  const { e, sink } = makeEngine({ maxFrameRecords: 4, holdUs: 500 });
  connect(e, 1);
  for (let i = 0; i < 10; i++) {
    const p = response(C1, 50910, ACK, 1000 + i);
    e.onPacket(p, p.length, 0);
  }
  settle(e, 0);
  assert.deepEqual(sink.frameCounts(1), [4, 4, 2]);
  assert.deepEqual(sink.records(1).map(recSeq), [...Array(10).keys()].map((i) => 1000 + i), 'in order');

  // Continuous arrivals (one per tick): flushed once the oldest has waited holdUs.
  sink.writes = [];
  for (let t = 0; t < 3; t++) {
    const p = response(C1, 50910, ACK, 2000 + t);
    e.onPacket(p, p.length, t * 300);
    e.onTick(t * 300);
  }
  // arrivals at 0, 300 (kept: 300 < 500), 600: at 600 the frame (first at 0) is 600 µs old
  assert.deepEqual(sink.frameCounts(1), [3]);
});

test('payload variant: 192-byte records, at most 6 per frame', () => {
  const { e, sink } = makeEngine({ withPayload: true, maxFrameRecords: 6 });
  connect(e, 1);
  for (let i = 0; i < 8; i++) {
    const p = response(C1, 50910, ACK | PSH, 1000 + i, Buffer.from(`resp ${i}`));
    e.onPacket(p, p.length, 0);
  }
  settle(e, 0);
  assert.deepEqual(sink.frameCounts(1), [6, 2]);
  const recs = sink.records(1, true);
  assert.equal(recs[3]!.subarray(52, 58).toString(), 'resp 3');
});

test('exact routes: each copier gets its own sessions; delay table holds an early SYN-ACK until its CLIENT_ADD', () => {
  const { e, sink } = makeEngine();
  connect(e, 1);
  connect(e, 2);
  e.onData(1, encodeClientAdd(C1, 1001, SERVER, SERVER_PORT), 0);
  e.onData(2, encodeClientAdd(C2, 2002, SERVER, SERVER_PORT), 0);
  assert.equal(e.routeCount, 2);
  for (let i = 0; i < 5; i++) {
    for (const [ip, port] of [[C1, 1001], [C2, 2002]] as const) {
      const p = response(ip, port, ACK, i);
      e.onPacket(p, p.length, 0);
    }
  }
  settle(e, 0);
  assert.deepEqual(sink.records(1).map(recPort), [1001, 1001, 1001, 1001, 1001]);
  assert.deepEqual(sink.records(2).map(recPort), [2002, 2002, 2002, 2002, 2002]);
  assert.equal(e.stats.routed, 10);

  // Same client port, different target port: a different exact route (not merged).
  const other = response(C1, 1001, ACK);
  other.writeUInt16BE(9090, 20);
  e.onData(2, encodeClientAdd(C1, 1001, SERVER, 9090), 0);
  e.onPacket(other, other.length, 0);
  settle(e, 0);
  assert.equal(sink.records(2).length, 6);

  // Only route-aware copiers are connected: an unrouted SYN-ACK and RST wait for their route.
  sink.writes = [];
  const synack = response(C1, 3003, SYN | ACK, 77);
  const rst = response(C1, 3003, RST | ACK, 78);
  e.onPacket(synack, synack.length, 1000);
  e.onPacket(rst, rst.length, 1000);
  settle(e, 1000);
  assert.equal(sink.writes.length, 0);
  assert.equal(e.delayedCount, 2);
  e.onData(2, encodeClientAdd(C1, 3003, SERVER, SERVER_PORT), 2000);
  settle(e, 2000);
  assert.deepEqual(sink.records(2).map(recSeq), [77, 78], 'flushed to the route owner, in arrival order');
  assert.deepEqual([e.stats.delayed, e.stats.delayFlushed, e.delayedCount], [2, 2, 0]);

  // An unrouted non-SYN goes to a live connection by hash (never lost while a copier is there).
  sink.writes = [];
  const data = response(C1, 4004, ACK, 5);
  e.onPacket(data, data.length, 3000);
  settle(e, 3000);
  assert.equal(sink.records(1).length + sink.records(2).length, 1);
});

test('delay table: entries expire after 30 s and the table is bounded', () => {
  const { e } = makeEngine({ delayMaxRecords: 3 });
  connect(e, 1);
  e.onData(1, encodeClientAdd(C2, 1, SERVER, SERVER_PORT), 0); // makes connection 1 route-aware
  for (let i = 0; i < 5; i++) {
    const p = response(C1, 100 + i, SYN | ACK);
    e.onPacket(p, p.length, 1_000_000);
  }
  assert.deepEqual([e.stats.delayed, e.stats.delayOverflow, e.delayedCount], [3, 2, 3]);
  e.onTimer(30_999_999);
  assert.equal(e.delayedCount, 3, 'not yet 30 s');
  e.onTimer(31_000_000);
  assert.deepEqual([e.delayedCount, e.stats.delayExpired], [0, 3]);
});

test('CLIENT_DEL removes only the sender\'s own route', () => {
  const { e } = makeEngine();
  connect(e, 1);
  // Another copier (another address): the connections of one copier share their routes.
  connect(e, 2, 0, 0x0a000002);
  e.onData(1, encodeClientAdd(C1, 1, SERVER, SERVER_PORT), 0);
  e.onData(2, encodeClientDel(C1, 1, SERVER, SERVER_PORT), 0);
  assert.equal(e.routeCount, 1);
  e.onData(1, encodeClientDel(C1, 1, SERVER, SERVER_PORT), 0);
  assert.equal(e.routeCount, 0);
});

test('stable hash: a client always lands on the same connection; dead connections are removed at once', () => {
  const { e, sink } = makeEngine();
  connect(e, 1);
  connect(e, 2);
  connect(e, 3);
  const owner = new Map<number, number>();
  for (let round = 0; round < 3; round++) {
    sink.writes = [];
    // 301 sessions: an odd count shifts every other per-packet counter between rounds.
    for (let port = 1000; port < 1301; port++) {
      const p = response(C1, port, ACK, round);
      e.onPacket(p, p.length, round);
    }
    settle(e, round);
    for (const conn of [1, 2, 3]) {
      for (const r of sink.records(conn)) {
        const prev = owner.get(recPort(r));
        if (prev !== undefined) assert.equal(prev, conn, `port ${recPort(r)} moved`);
        owner.set(recPort(r), conn);
      }
    }
  }
  const perConn = [1, 2, 3].map((c) => [...owner.values()].filter((x) => x === c).length);
  assert.ok(perConn.every((n) => n > 60), `spread ${perConn.join('/')}`);

  // Connection 2 dies: nothing is hashed to it any more.
  e.onClosed(2, 'eof');
  assert.deepEqual(e.connectionIds, [1, 3]);
  sink.writes = [];
  for (let port = 1000; port < 1300; port++) {
    const p = response(C1, port, ACK);
    e.onPacket(p, p.length, 10);
  }
  settle(e, 10);
  assert.equal(sink.records(1).length + sink.records(3).length, 300);
  assert.equal(sink.writes.filter((w) => w.conn === 2).length, 0);
});

test('a dead connection takes its routes with it; pending records are counted as lost', () => {
  const { e, sink } = makeEngine();
  connect(e, 1);
  connect(e, 2);
  e.onData(1, encodeClientAdd(C1, 1, SERVER, SERVER_PORT), 0);
  e.onData(1, encodeClientAdd(C1, 2, SERVER, SERVER_PORT), 0);
  const p = response(C1, 1, ACK);
  e.onPacket(p, p.length, 0); // pending in connection 1's frame
  e.onClosed(1, 'read error');
  assert.equal(e.routeCount, 0);
  assert.equal(e.stats.lostOnClose, 1);
  e.onPacket(p, p.length, 1);
  settle(e, 1);
  assert.equal(sink.records(2).length, 1, 'the session now reaches the remaining copier');
  e.onClosed(1, 'again'); // idempotent
  assert.equal(e.stats.connsClosed, 1);
});

test('no copier: records are discarded, packets still dropped', () => {
  const { e, sink } = makeEngine();
  const p = response(C1, 1, SYN | ACK);
  assert.equal(e.onPacket(p, p.length, 0), VERDICT_DROP);
  settle(e, 0);
  assert.equal(sink.writes.length, 0);
  assert.equal(e.stats.discarded, 1);
});

test('back-pressure: a slow copier loses records beyond its bound, the others do not; a stuck one is closed', () => {
  const { e, sink } = makeEngine({ connBufferBytes: 1000, stuckUs: 5_000_000 });
  connect(e, 1);
  connect(e, 2);
  e.onData(1, encodeClientAdd(C1, 1, SERVER, SERVER_PORT), 0);
  e.onData(2, encodeClientAdd(C2, 2, SERVER, SERVER_PORT), 0);
  sink.backlog.set(1, 990); // copier 1's socket is full after its first frame
  for (let i = 0; i < 20; i++) {
    for (const [ip, port] of [[C1, 1], [C2, 2]] as const) {
      const p = response(ip, port, ACK, i);
      assert.equal(e.onPacket(p, p.length, 0), VERDICT_DROP);
    }
    settle(e, 0);
  }
  assert.equal(sink.records(1).length, 1);
  assert.equal(sink.records(2).length, 20);
  assert.equal(e.stats.backpressureDrops, 19);
  // Drained: accepted again.
  e.onDrain(1);
  sink.backlog.set(1, 0);
  const p = response(C1, 1, ACK, 99);
  e.onPacket(p, p.length, 1);
  settle(e, 1);
  assert.equal(sink.records(1).length, 2);
  // Stuck: over the bound for stuckUs → closed with a reason, others keep going.
  sink.backlog.set(1, 5000);
  e.onPacket(p, p.length, 2);
  settle(e, 2);
  e.onPacket(p, p.length, 3);
  e.onTimer(4_000_000);
  assert.equal(sink.closes.length, 0);
  e.onTimer(5_000_003);
  assert.equal(sink.closes.length, 1);
  assert.match(sink.closes[0]!.reason, /not reading/);
  assert.deepEqual(e.connectionIds, [2]);
});

test('garbage on one connection closes it with a reason; the other copier keeps service', () => {
  const { e, sink } = makeEngine();
  connect(e, 1);
  connect(e, 2);
  const junk = Buffer.alloc(14, 0xff);
  e.onData(2, junk.subarray(0, 5), 0);
  e.onData(2, junk.subarray(5), 0);
  assert.equal(sink.closes.length, 1);
  assert.equal(sink.closes[0]!.conn, 2);
  assert.match(sink.closes[0]!.reason, /unknown message type 65535/);
  assert.deepEqual(e.connectionIds, [1]);
  e.onData(2, junk, 0); // late bytes after the close are ignored
  const p = response(C1, 7, SYN | ACK);
  e.onPacket(p, p.length, 1);
  settle(e, 1);
  assert.equal(sink.records(1).length, 1);

  // A bad hello (non-zero client fields) is refused too.
  e.onConnect(3, 1, 'x', 0);
  e.onData(3, encodeClientAdd(C1, 1, SERVER, SERVER_PORT), 0);
  assert.match(sink.closes[1]!.reason, /bad hello/);
  // A short hello shows in the close reason.
  e.onConnect(4, 1, 'y', 0);
  e.onData(4, encodeHello().subarray(0, 9), 0);
  e.onClosed(4, 'eof');
  assert.ok(sink.logs.some((l) => /before a complete hello \(9 of 14 bytes\)/.test(l.message)));
  // A version mismatch is logged, not fatal.
  e.onConnect(5, 1, 'z', 0);
  e.onData(5, encodeHello(5), 0);
  assert.ok(sink.logs.some((l) => l.level === 'warn' && /version 5/.test(l.message)));
  assert.ok(e.connectionIds.includes(5));
});

test('-c refuses a second copier while one is connected (connections within 3 s are one copier)', () => {
  const { e } = makeEngine({ protect: true });
  assert.ok(connect(e, 1, 0));
  assert.ok(connect(e, 2, 2_000_000), 'same copier, its second link');
  assert.ok(!connect(e, 3, 3_500_000), 'another copier');
  assert.equal(e.stats.connsRefused, 1);
  e.onClosed(1, 'eof');
  e.onClosed(2, 'eof');
  assert.ok(connect(e, 4, 9_000_000), 'accepted once the first copier is gone');
  assert.ok(connect(e, 5, 9_100_000));
  const open = makeEngine();
  assert.ok(connect(open.e, 1, 0));
  assert.ok(connect(open.e, 2, 10_000_000), 'without -c, every copier is accepted');
});

test('--allow refuses copiers outside the listed networks', () => {
  const { e } = makeEngine({ allow: [{ net: 0x0a000000, mask: 0xff000000 }] });
  assert.ok(connect(e, 1, 0, 0x0a0b0c0d));
  assert.ok(!connect(e, 2, 0, 0xc0a80001));
  assert.ok(!connect(e, 3, 0, -1), 'non-IPv4 peers are refused when --allow is set');
});

test('-D rewrites the record destination and routes by it', () => {
  const { e, sink } = makeEngine({ docker: { from: C1, to: C2 } });
  connect(e, 1);
  e.onData(1, encodeClientAdd(C2, 5, SERVER, SERVER_PORT), 0);
  const p = response(C1, 5, ACK);
  e.onPacket(p, p.length, 0);
  settle(e, 0);
  const r = sink.records(1);
  assert.equal(r.length, 1);
  assert.equal(r[0]!.readUInt32BE(16), C2);
  assert.equal(e.stats.routed, 1);
  assert.equal(p.readUInt32BE(16), C1, 'the real packet is not touched');
});

test('flushAll writes whatever is pending; the timer flushes a frame whose tick was missed', () => {
  const { e, sink } = makeEngine();
  connect(e, 1);
  const p = response(C1, 1, ACK);
  e.onPacket(p, p.length, 0);
  e.onTimer(100);
  assert.equal(sink.writes.length, 0);
  e.onTimer(600);
  assert.equal(sink.writes.length, 1);
  e.onPacket(p, p.length, 700);
  e.flushAll(700);
  assert.equal(sink.writes.length, 2);
  assert.equal(e.hasPending, false);
});

test('a connection that never sends its hello gets no records (health checks, scanners); records held while a copier connects', () => {
  const { e, sink } = makeEngine();
  e.onConnect(1, 1, 'probe', 0);
  const p = response(C1, 1, SYN | ACK);
  e.onPacket(p, p.length, 0);
  settle(e, 0);
  assert.equal(sink.writes.length, 0);
  assert.deepEqual(e.connectionIds, []);
  // …but what arrived while it was connecting is delivered once it says hello (start-up race).
  e.onData(1, encodeHello(), 1000);
  assert.deepEqual(e.connectionIds, [1]);
  settle(e, 1000);
  assert.deepEqual(sink.records(1).map(recPort), [1]);
  assert.deepEqual([e.stats.delayed, e.stats.delayFlushed], [1, 1]);
  e.onPacket(p, p.length, 2000);
  settle(e, 2000);
  assert.equal(sink.records(1).length, 2);

  // Records held longer than the group window (3 s) are not delivered to a later copier.
  const late = makeEngine();
  late.e.onConnect(1, 1, 'probe', 0);
  late.e.onPacket(p, p.length, 0);
  late.e.onClosed(1, 'eof'); // never said hello
  late.e.onConnect(2, 1, 'copier', 4_000_000);
  late.e.onData(2, encodeHello(), 4_000_000);
  settle(late.e, 4_000_000);
  assert.equal(late.sink.writes.length, 0);
  assert.equal(late.e.stats.delayExpired, 1);

  // With no connection at all, records are discarded (stock behaviour; nothing stale is kept).
  const none = makeEngine();
  none.e.onPacket(p, p.length, 0);
  assert.equal(none.e.stats.discarded, 1);
  assert.equal(none.e.delayedCount, 0);
});

test('a SYN-ACK without a route waits for its CLIENT_ADD while some copier announces routes, even if a copier has not announced yet', () => {
  const { e, sink } = makeEngine();
  connect(e, 1, 0, 0x0a000001); // copier A: announces its routes
  connect(e, 2, 0, 0x0a000002); // copier B: connected, its first CLIENT_ADD still in flight
  e.onData(1, encodeClientAdd(C1, 1001, SERVER, SERVER_PORT), 0);
  const synack = response(C2, 2002, SYN | ACK, 91);
  e.onPacket(synack, synack.length, 10);
  settle(e, 10);
  assert.equal(sink.writes.length, 0, 'not hashed to B before B said it is route-aware');
  assert.equal(e.delayedCount, 1);
  e.onData(2, encodeClientAdd(C2, 2002, SERVER, SERVER_PORT), 20);
  settle(e, 20);
  assert.deepEqual(sink.records(2).map(recSeq), [91], 'delivered to its owner on its CLIENT_ADD');
  assert.deepEqual(sink.records(1), []);
  assert.equal(e.stats.hashed, 0);
});

test('stock single copiers only: an unrouted SYN-ACK is still hashed to one of them at once', () => {
  const { e, sink } = makeEngine();
  connect(e, 1, 0, 0x0a000001);
  connect(e, 2, 0, 0x0a000002);
  const synack = response(C1, 1001, SYN | ACK, 5);
  e.onPacket(synack, synack.length, 10);
  settle(e, 10);
  assert.equal(sink.records(1).length + sink.records(2).length, 1);
  assert.equal(e.stats.hashed, 1);
});

test('payload extension: only a copier that asked gets RECORD+PAYLOAD frames, after its ACK; others get stock frames', () => {
  const { e, sink } = makeEngine({ payloadForward: 65535 });
  connect(e, 1); // stock-like copier: hello only
  assert.ok(e.onConnect(2, 0x0a000009, '10.0.0.9:1', 0));
  e.onData(2, Buffer.concat([encodeHello(), encodeExtRequestFor(10)]), 0);
  e.onData(1, encodeClientAdd(C1, 1000, SERVER, SERVER_PORT), 0);
  e.onData(2, encodeClientAdd(C2, 2000, SERVER, SERVER_PORT), 0);
  const body = Buffer.from('HTTP/1.1 200 OK\r\n\r\nhello world');
  for (const [c, port] of [[C1, 1000], [C2, 2000]] as const) {
    const data = response(c, port, ACK | PSH, 5000, body);
    assert.equal(e.onPacket(data, data.length, 1), VERDICT_DROP);
    const fin = response(c, port, ACK, 6000);
    e.onPacket(fin, fin.length, 2);
  }
  settle(e, 100);
  assert.equal(sink.records(1).length, 2, 'the stock copier: two plain records, no extension bytes');
  assert.deepEqual(decodeExtStream(sink, 2), ['ack 10', `rec+payload ${body.subarray(0, 10).toString()}`, 'rec']);
});

test('payload extension: without --forward-payload the request is granted 0 and records stay plain', () => {
  const { e, sink } = makeEngine();
  assert.ok(e.onConnect(2, 0x0a000009, '10.0.0.9:1', 0));
  e.onData(2, Buffer.concat([encodeHello(), encodeExtRequestFor(0xffffffff)]), 0);
  const data = response(C2, 2000, ACK | PSH, 5000, Buffer.from('abc'));
  e.onPacket(data, data.length, 1);
  settle(e, 100);
  assert.deepEqual(decodeExtStream(sink, 2), ['ack 0', 'rec']);
});

test('payload extension: a burst of mixed records reaches the copier in arrival order, in one write at the end of the burst', () => {
  const { e, sink } = makeEngine({ payloadForward: 65535 });
  assert.ok(e.onConnect(2, 0x0a000009, '10.0.0.9:1', 0));
  e.onData(2, Buffer.concat([encodeHello(), encodeExtRequestFor(0xffffffff), encodeClientAdd(C2, 2000, SERVER, SERVER_PORT)]), 0);
  settle(e, 10);
  const writesBefore = sink.writes.length;
  const plain1 = response(C2, 2000, ACK, 100);
  const data1 = response(C2, 2000, ACK | PSH, 100, Buffer.from('one'));
  const plain2 = response(C2, 2000, ACK, 103);
  const data2 = response(C2, 2000, ACK | PSH, 103, Buffer.from('two'));
  for (const [i, p] of [plain1, data1, plain2, data2].entries()) e.onPacket(p, p.length, 20 + i);
  assert.equal(sink.writes.length, writesBefore, 'held while the burst goes on');
  settle(e, 100);
  assert.equal(sink.writes.length, writesBefore + 1, 'one write');
  assert.deepEqual(decodeExtStream(sink, 2).slice(1), ['rec', 'rec+payload one', 'rec', 'rec+payload two']);
});
