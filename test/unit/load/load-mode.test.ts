import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { SessionStoreBuilder, type SessionStore } from '../../../src/core/load/session-store.js';
import { loadCapacity, UserScheduler, type LoadPlan } from '../../../src/core/load/user-scheduler.js';
import { verifyIpv4Checksum, verifyTcpChecksum } from '../../../src/core/packet/checksum.js';
import { TCP_ACK, TCP_FIN } from '../../../src/core/packet/tcp.js';
import { buildAck, buildData, buildSyn } from '../../helpers/packet/build.js';

// Load mode's pure parts: the session store (grouping, dedup, comet, rewriting) and the users'
// scheduler (ramp, pacing, ports, next session on an outcome, -T and --duration ends).

const SRV = 0x0a000001;
const C1 = 0x0a000064;
const C2 = 0x0a000065;
const GET = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');

function base(src: number, sport: number, seq: number, ack: number): { src: number; dst: number; srcPort: number; dstPort: number; seq: number; ack: number; window: number; ipId: number } {
  return { src, dst: SRV, srcPort: sport, dstPort: 80, seq, ack, window: 500, ipId: 1 };
}

/** Two captured sessions (C1 and C2), each SYN, ACK, GET, (1 s) GET, FIN; interleaved in time. */
function twoSessions(comet = false): { store: SessionStore; b: SessionStoreBuilder } {
  const b = new SessionStoreBuilder({ comet, onlyFromSyn: false });
  const add = (pkt: Buffer, ts: number): void => b.add(pkt, 0, pkt.length, ts, 0);
  for (const [c, t0] of [[C1, 1_000_000], [C2, 1_500_000]] as const) {
    add(buildSyn(base(c, 40000, 100, 0)), t0);
    add(buildAck(base(c, 40000, 101, 5001)), t0 + 100);
    add(buildData({ ...base(c, 40000, 101, 5001), payload: GET }), t0 + 200);
  }
  for (const [c, t0] of [[C1, 2_000_000], [C2, 2_500_000]] as const) {
    add(buildData({ ...base(c, 40000, 101 + GET.length, 5101), payload: GET }), t0 + 200);
    add(buildAck({ ...base(c, 40000, 101 + 2 * GET.length, 5201), flags: TCP_FIN }), t0 + 300);
  }
  // A pure ACK of a connection whose start was not captured: nothing to start from.
  add(buildAck(base(0x0a000099, 41000, 7, 7)), 3_000_000);
  return { store: b.finish(), b };
}

test('session store: sessions grouped by connection, timestamps per session, payloads stored once, requests marked', () => {
  const { store } = twoSessions();
  assert.equal(store.sessions, 2);
  assert.equal(store.packets, 10);
  assert.equal(store.p.skips.beforeStart, 1);
  assert.deepEqual(store.clientIps, [C1, C2]);
  const first = store.firstPacket(1);
  assert.equal(store.endPacket(1) - first, 5);
  assert.deepEqual([0, 1, 2, 3, 4].map((k) => store.offsetUs(first + k)), [0, 100, 200, 1_000_200, 1_000_300]);
  // Four GETs captured, one payload kept.
  assert.deepEqual(store.payloadBytes, { seen: 4 * GET.length, unique: GET.length });
  assert.deepEqual([0, 1, 2, 3, 4].map((k) => store.startsRequest(first + k)), [false, false, true, true, false]);
  assert.ok(store.memoryBytes > GET.length);
});

test('session store: a packet is written for any client address and port with valid checksums', () => {
  const { store } = twoSessions();
  const out = Buffer.alloc(2048);
  const p = store.firstPacket(0) + 2;
  const len = store.write(p, out, 0x0ac96401, 12345);
  assert.equal(len, 40 + GET.length);
  assert.equal(out.readUInt32BE(12), 0x0ac96401);
  assert.equal(out.readUInt16BE(20), 12345);
  assert.ok(verifyIpv4Checksum(out, 0));
  assert.ok(verifyTcpChecksum(out, 0));
  assert.deepEqual(out.subarray(40, len), GET);
  // Sequence spaces renumbered from 65536 (small integers for the engine), offsets kept.
  assert.equal(out.readUInt32BE(24), 65536 + 1, 'seq: captured ISN 100 → 65536');
  assert.equal(out.readUInt32BE(28), 65536, 'ack: the first captured ack 5001 → 65536');
  store.write(store.firstPacket(0) + 3, out, 0x0ac96401, 12345);
  assert.equal(out.readUInt32BE(24), 65536 + 1 + GET.length);
  assert.equal(out.readUInt32BE(28), 65536 + 100);
  assert.ok(verifyTcpChecksum(out, 0));
});

test('session store --comet: the client FIN is not stored', () => {
  const { store } = twoSessions(true);
  assert.equal(store.packets, 8);
  assert.equal(store.p.skips.clientClose, 2);
  const out = Buffer.alloc(2048);
  for (let p = 0; p < store.packets; p++) {
    store.write(p, out, C1, 1000);
    assert.equal((out[33] as number) & TCP_FIN, 0);
    assert.ok(verifyTcpChecksum(out, 0));
  }
  // A FIN carrying data keeps the data without the FIN.
  const b = new SessionStoreBuilder({ comet: true, onlyFromSyn: false });
  const fin = buildData({ ...base(C1, 1, 10, 10), payload: GET, flags: TCP_FIN | TCP_ACK });
  b.add(fin, 0, fin.length, 0, 0);
  const s = b.finish();
  assert.equal(s.packets, 1);
  s.write(0, out, C1, 1);
  assert.equal((out[33] as number) & TCP_FIN, 0);
  assert.ok(verifyTcpChecksum(out, 0));
});

function plan(o: Partial<LoadPlan>): LoadPlan {
  return { users: 4, addresses: [0x0ac96401, 0x0ac96402], rampUs: 0, durationUs: Infinity, maxSessions: Infinity, acceleration: 1, replicas: 1, ...o };
}

test('users: each releases its session at the captured offsets from its own address and port lane', () => {
  const { store } = twoSessions();
  const sch = new UserScheduler(plan({}), store);
  sch.begin(1e9);
  const seen: string[] = [];
  for (let p = sch.take(1e9); p >= 0; p = sch.take(1e9)) seen.push(`${sch.curUser}:${sch.curIp.toString(16)}:${sch.curPort}:${p}`);
  // At t=0 every user sends its first packet (SYN); users alternate addresses, lanes split ports.
  assert.deepEqual(seen.sort(), ['0:ac96401:1024:0', '1:ac96402:1024:5', '2:ac96401:33280:0', '3:ac96402:33280:5']);
  assert.equal(sch.counters.usersActive, 4);
  assert.equal(sch.nextReleaseUs(), 1e9 + 100);
  let n = 0;
  while (sch.take(1e9 + 1_000_300) >= 0) n++;
  assert.equal(n, 16);
  assert.equal(sch.counters.requestsReleased, 8);
  assert.equal(sch.nextReleaseUs(), Infinity);
});

test("users: an outcome for a user's tuple starts its next session on the next port of its lane; stale or unknown tuples are ignored", () => {
  const { store } = twoSessions();
  const sch = new UserScheduler(plan({ users: 2, addresses: [0x0ac96401] }), store);
  sch.begin(0);
  while (sch.take(0) >= 0);
  assert.equal(sch.sessionEnded(0x0ac96401, 1024, false, false, 10), true);
  assert.equal(sch.sessionEnded(0x0ac96401, 1024, false, false, 10), false, 'stale: the user is on its next session');
  assert.equal(sch.sessionEnded(0x0a000001, 1024, false, false, 10), false, 'not a user address');
  assert.equal(sch.sessionEnded(0x0ac96401, 33280, true, false, 10), false, 'reconnected: the session continues');
  assert.equal(sch.take(10), store.firstPacket(0), 'user 0 restarts with the next captured session (cycling)');
  assert.equal(sch.curPort, 1025);
  assert.equal(sch.counters.sessionsStarted, 3);
  assert.equal(sch.counters.usersPeak, 2);
});

test('users: --ramp spreads the starts, -T ends after its passes, --duration stops releasing', () => {
  const { store } = twoSessions();
  const ramped = new UserScheduler(plan({ rampUs: 4_000_000 }), store);
  ramped.begin(0);
  assert.ok(ramped.take(0) >= 0);
  assert.equal(ramped.take(0), -1);
  assert.equal(ramped.nextReleaseUs(), 100);
  assert.ok(ramped.take(1_000_000) >= 0);
  assert.equal(ramped.counters.usersActive, 2);

  const passes = new UserScheduler(plan({ users: 2, addresses: [1], maxSessions: 2 }), store);
  passes.begin(0);
  while (passes.take(0) >= 0);
  passes.sessionEnded(1, 1024, false, false, 5);
  assert.equal(passes.ended, false);
  passes.sessionEnded(1, 33280, false, false, 6);
  assert.equal(passes.ended, true);
  assert.equal(passes.counters.sessionsStarted, 2);

  const timed = new UserScheduler(plan({ durationUs: 500 }), store);
  timed.begin(0);
  assert.equal(timed.nextReleaseUs(), 0);
  while (timed.take(0) >= 0);
  assert.equal(timed.take(600), -1);
  assert.equal(timed.ended, true);
});

test('users: replicas (-n) end a user session after every replica reported; capacity counts them', () => {
  const { store } = twoSessions();
  const sch = new UserScheduler(plan({ users: 1, addresses: [1], replicas: 2 }), store);
  sch.begin(0);
  while (sch.take(0) >= 0);
  assert.equal(sch.sessionEnded(1, 1024, false, false, 1), false);
  assert.equal(sch.sessionEnded(1, 1024, false, false, 1), true);
  assert.equal(loadCapacity(254, 1), 254 * 64512);
  assert.equal(loadCapacity(1, 2), 32256);
});
