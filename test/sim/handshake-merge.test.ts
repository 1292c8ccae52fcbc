import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Buffer } from 'node:buffer';
import { TCP_ACK, TCP_SYN } from '../../src/core/packet/index.js';
import { httpApp } from './apps.js';
import { captureSession, request } from './capture.js';
import { ONLINE_SERVER, Sim, ip } from './harness.js';

// Load mode (mergeHandshakeAck): the third ACK of the handshake rides on the first request when
// that request may go at once; a server-first protocol still gets a bare ACK.

const CLIENT = ip('192.0.2.40');
const flagsOf = (p: Buffer): number => p[33] as number;
const payloadOf = (p: Buffer): number => p.readUInt16BE(2) - 20 - (((p[32] as number) >> 4) << 2);

function tap(into: { flags: number; payload: number }[], dropFirstData = false): (i: number, p: Buffer) => number[] {
  let dropped = false;
  return (_i, p) => {
    into.push({ flags: flagsOf(p), payload: payloadOf(p) });
    if (dropFirstData && !dropped && payloadOf(p) > 0) {
      dropped = true;
      return [];
    }
    return [0];
  };
}

const clientFirst = (port: number): ReturnType<typeof captureSession> =>
  captureSession({ clientIp: CLIENT, clientPort: port, serverIp: ONLINE_SERVER, serverPort: 80, rttUs: 300, steps: [{ send: request('one') }, { recv: 500 }, { fin: true }] });

for (const merge of [true, false]) {
  test(`client-first session, mergeHandshakeAck ${merge}: ${merge ? 'SYN then the request carrying the ACK' : 'SYN, bare ACK, request'}`, () => {
    const seen: { flags: number; payload: number }[] = [];
    const sim = new Sim({ engine: { mergeHandshakeAck: merge }, target: { app: httpApp({ responseSize: () => 500 }) }, toTarget: tap(seen) });
    sim.feed(clientFirst(41100));
    sim.run();
    assert.deepEqual(sim.outcomes(), ['completed']);
    assert.equal(sim.target.history[0]?.stream.toString(), request('one'));
    assert.equal(seen[0]?.flags, TCP_SYN);
    const second = seen[1];
    assert.ok(second !== undefined && (second.flags & TCP_ACK) !== 0);
    assert.equal(second.payload > 0, merge, 'the packet after the SYN carries the request only when merging');
    const bareAcksBeforeData = seen.slice(1, seen.findIndex((s) => s.payload > 0)).length;
    assert.equal(bareAcksBeforeData, merge ? 0 : 1);
  });
}

test('server-first session with mergeHandshakeAck: nothing to send at the SYN-ACK, so a bare ACK completes the handshake', () => {
  const seen: { flags: number; payload: number }[] = [];
  const sim = new Sim({
    engine: { mergeHandshakeAck: true },
    target: { app: httpApp({ responseSize: () => 50, greeting: 80 }) },
    toTarget: tap(seen),
  });
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 41101, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ recv: 80 }, { send: request('login') }, { recv: 50 }, { fin: true }] }));
  sim.run();
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(seen[1]?.flags, TCP_ACK);
  assert.equal(seen[1]?.payload, 0);
  assert.equal(sim.target.history[0]?.stream.toString(), request('login'));
});

test('mergeHandshakeAck: the merged request is lost; the target repeats its SYN-ACK, the request is retransmitted, the session completes', () => {
  const seen: { flags: number; payload: number }[] = [];
  const sim = new Sim({ engine: { mergeHandshakeAck: true }, target: { app: httpApp({ responseSize: () => 500 }) }, toTarget: tap(seen, true) });
  sim.feed(clientFirst(41102));
  sim.run();
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(sim.target.history[0]?.stream.toString(), request('one'));
  assert.ok(seen.filter((s) => s.payload > 0).length >= 2, 'the request went twice');
});

test('mergeHandshakeAck: a request captured long after the handshake does not hold the ACK back more than the delayed-ACK time', () => {
  const seen: { flags: number; payload: number; at: number }[] = [];
  let sim: Sim | null = null;
  sim = new Sim({
    engine: { mergeHandshakeAck: true, delayedAckUs: 1000 },
    target: { app: httpApp({ responseSize: () => 500 }) },
    toTarget: (_i, p) => {
      seen.push({ flags: flagsOf(p), payload: payloadOf(p), at: sim?.world.now ?? 0 });
      return [0];
    },
  });
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 41103, serverIp: ONLINE_SERVER, serverPort: 80, rttUs: 20_000, steps: [{ send: request('late') }, { recv: 500 }, { fin: true }] }));
  sim.run();
  assert.deepEqual(sim.outcomes(), ['completed']);
  const [syn, ack] = seen;
  assert.ok(syn !== undefined && ack !== undefined);
  assert.equal(ack.flags, TCP_ACK);
  assert.equal(ack.payload, 0);
  // SYN → target (50 µs) → SYN-ACK → engine (50 µs) → 1 ms delayed ACK.
  assert.ok(ack.at - syn.at >= 1000 && ack.at - syn.at < 2000, `bare ACK ${ack.at - syn.at} µs after the SYN`);
});
