import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { parseTransfers } from '../../src/core/config/copier.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../../src/core/packet/tcp.js';
import { SessionEngine } from '../../src/core/session/engine.js';
import { defaultEngineConfig } from '../../src/core/session/types.js';
import { buildRecord, newRecordInfo } from '../../src/core/wire/record.js';
import { buildSegment } from '../helpers/packet/build.js';
import { captureSession, request } from './capture.js';
import { ONLINE_SERVER, ip } from './harness.js';

/*
 * flushAcks: response data the copier does not ACK at once (no PSH, under two segments) is ACKed
 * at the end of the I/O turn that brought it, not a delayed-ACK timer later.
 */

const TARGET = ip('10.0.0.2');
const CLIENT = ip('192.0.2.77');

interface Sent {
  flags: number;
  seq: number;
  ack: number;
  at: number;
}

function setup(): { engine: SessionEngine; sent: Sent[]; clock: { now: number }; record: (flags: number, seq: number, payload: number) => void } {
  const sent: Sent[] = [];
  const clock = { now: 1_700_000_000_000_000 };
  const engine = new SessionEngine(defaultEngineConfig(parseTransfers('80-10.0.0.2:8080')), {
    send: (buf, _len, dstIp) => {
      assert.equal(dstIp, TARGET, 'the sink is told the target address');
      assert.equal(buf.readUInt32BE(16), dstIp);
      sent.push({ flags: buf[33] as number, seq: buf.readUInt32BE(24), ack: buf.readUInt32BE(28), at: clock.now });
    },
    routeAdd: () => true,
    routeDel: () => undefined,
    sessionClosed: () => undefined,
  });
  const rec = Buffer.alloc(64);
  const info = newRecordInfo();
  const record = (flags: number, seq: number, payload: number): void => {
    const syn = sent.find((p) => (p.flags & TCP_SYN) !== 0);
    assert.ok(syn !== undefined);
    const clientPort = 40000;
    const pkt = buildSegment({
      src: TARGET,
      dst: CLIENT,
      srcPort: 8080,
      dstPort: clientPort,
      seq,
      ack: (syn.seq + 1) >>> 0,
      flags,
      window: 65535,
      ipId: 1,
      payload: Buffer.alloc(payload, 0x61),
    });
    assert.equal(buildRecord(pkt, pkt.length, rec, 0, false, info), 'ok');
    engine.onResponse(rec, 0, clock.now, 64);
  };
  return { engine, sent, clock, record };
}

function startSession(t: ReturnType<typeof setup>): void {
  const caps = captureSession({ clientIp: CLIENT, clientPort: 40000, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: request('x', 100) }, { recv: 3000 }] });
  // SYN only: the handshake is completed by hand below.
  const syn = caps[0];
  assert.ok(syn !== undefined);
  t.engine.onCaptured(syn.pkt, 0, syn.pkt.length, t.clock.now, syn.tsUs);
  t.record(TCP_SYN | TCP_ACK, 5000, 0);
}

test('response data without PSH is ACKed by flushAcks in the same turn', () => {
  const t = setup();
  startSession(t);
  const before = t.sent.length;
  t.clock.now += 10;
  t.record(TCP_ACK, 5001, 1000);
  assert.equal(t.sent.length, before, 'not ACKed on its own (no PSH, under 2 × MSS)');
  t.engine.flushAcks(t.clock.now);
  assert.equal(t.sent.length, before + 1, 'one ACK at the end of the turn');
  const a = t.sent[t.sent.length - 1] as Sent;
  assert.equal(a.ack, 5001 + 1000);
  assert.equal(a.at, t.clock.now, 'in the same turn, not a timer later');
  t.engine.flushAcks(t.clock.now);
  assert.equal(t.sent.length, before + 1, 'nothing more to ACK');
});

test('several records in one turn: one ACK covers them all', () => {
  const t = setup();
  startSession(t);
  const before = t.sent.length;
  t.record(TCP_ACK, 5001, 500);
  t.record(TCP_ACK, 5501, 500);
  t.engine.flushAcks(t.clock.now);
  assert.equal(t.sent.length, before + 1);
  assert.equal((t.sent[t.sent.length - 1] as Sent).ack, 6001);
});

test('without flushAcks the delayed-ACK timer still ACKs (callers that never flush)', () => {
  const t = setup();
  startSession(t);
  const before = t.sent.length;
  t.record(TCP_ACK, 5001, 1000);
  const due = t.engine.nextDeadline();
  assert.ok(due > t.clock.now && due <= t.clock.now + 1000, `timer armed for the delayed ACK (${due - t.clock.now} µs)`);
  t.clock.now = due;
  t.engine.onTimer(due);
  assert.equal(t.sent.length, before + 1);
  assert.equal((t.sent[t.sent.length - 1] as Sent).ack, 6001);
  // A PSH segment's ACK is due at once: the next timer run sends it when nobody flushes.
  t.record(TCP_ACK | TCP_PSH, 6001, 10);
  assert.equal(t.engine.nextDeadline(), t.clock.now);
  t.engine.onTimer(t.clock.now);
  assert.equal(t.sent.length, before + 2);
  assert.equal((t.sent[t.sent.length - 1] as Sent).ack, 6011);
});

test('PSH data and the FIN read in one turn share one ACK, sent by flushAcks', () => {
  const t = setup();
  startSession(t);
  const before = t.sent.length;
  t.record(TCP_ACK | TCP_PSH, 5001, 155);
  t.record(TCP_ACK | TCP_FIN, 5156, 0);
  assert.equal(t.sent.length, before, 'no bare ACK per record');
  t.engine.flushAcks(t.clock.now);
  assert.equal(t.sent.length, before + 1);
  const a = t.sent[t.sent.length - 1] as Sent;
  assert.equal(a.flags, TCP_ACK);
  assert.equal(a.ack, 5157, 'covers the data and the FIN');
  t.engine.flushAcks(t.clock.now);
  assert.equal(t.sent.length, before + 1);
});

test('duplicate response data is ACKed at once (the target missed our ACK)', () => {
  const t = setup();
  startSession(t);
  t.record(TCP_ACK | TCP_PSH, 5001, 100);
  t.engine.flushAcks(t.clock.now);
  const before = t.sent.length;
  t.record(TCP_ACK | TCP_PSH, 5001, 100);
  assert.equal(t.sent.length, before + 1, 'no wait for the end of the turn');
  assert.equal((t.sent[t.sent.length - 1] as Sent).ack, 5101);
});

test('announceRoutes: every running session announces its route again (an interceptor came back)', () => {
  const routes: string[] = [];
  const engine = new SessionEngine(defaultEngineConfig(parseTransfers('80-10.0.0.2:8080')), {
    send: () => undefined,
    routeAdd: (cip, cport, tip, tport) => {
      routes.push(`${cip}:${cport}>${tip}:${tport}`);
      return true;
    },
    routeDel: () => undefined,
    sessionClosed: () => undefined,
  });
  const now = 1_700_000_000_000_000;
  for (const port of [40001, 40002]) {
    const syn = captureSession({ clientIp: CLIENT, clientPort: port, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: request('x', 100) }] })[0];
    assert.ok(syn !== undefined);
    engine.onCaptured(syn.pkt, 0, syn.pkt.length, now, syn.tsUs);
  }
  assert.equal(routes.length, 2);
  assert.equal(engine.announceRoutes(), 2);
  assert.deepEqual(routes.slice(2).sort(), routes.slice(0, 2).sort(), 'the same tuples again');
  engine.closeAll(now + 1, 'idle-timeout');
  assert.equal(engine.announceRoutes(), 0, 'closed sessions are not announced');
  assert.equal(routes.length, 4);
});
