// The engine's count of opening sessions (handshake or first request not yet answered by the
// target), which --max-opening bounds: it must rise and fall with the target's answers, never
// count a session that only waits for the capture, and come back to zero whatever the ending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Buffer } from 'node:buffer';
import { httpApp } from './apps.js';
import { captureSession, mergeCaptures, request, type Step } from './capture.js';
import { ONLINE_SERVER, Sim, ip } from './harness.js';
import type { LinkFaults } from './world.js';

const CLIENT = ip('192.0.2.40');

test('opening: from the SYN until the answer to the first request, even while the target takes its time', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 500, delayUs: () => 50_000 }) } });
  // A capture RTT of 10 µs: the request is in (as with --rate) before the SYN-ACK comes back.
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 45001, serverIp: ONLINE_SERVER, serverPort: 80, rttUs: 10, steps: [{ send: request('a') }, { recv: 500 }, { fin: true }] }));
  assert.equal(sim.engine.openingSessions, 0);
  sim.run(5); // the SYN is out, no SYN-ACK yet (link delay 50 µs each way)
  assert.equal(sim.engine.openingSessions, 1, 'SYN sent');
  sim.run(20_000); // handshake done, request sent, the target still working on it
  assert.equal(sim.target.history.length, 1);
  assert.ok(sim.target.history[0]!.stream.length > 0, 'the request reached the target');
  assert.equal(sim.engine.openingSessions, 1, 'request unanswered');
  sim.run(60_000);
  assert.equal(sim.engine.openingSessions, 0, 'answered');
  sim.run();
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(sim.engine.openingSessions, 0);
});

test('opening: a session with nothing to send at the SYN-ACK (its request is further on in the capture) stops counting', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 500, delayUs: () => 50_000 }) } });
  const steps: Step[] = [{ think: 2_000_000 }, { send: request('late') }, { recv: 500 }, { fin: true }];
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 45002, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run(500_000);
  assert.equal(sim.engine.stats.connectionsEstablished, 1);
  assert.equal(sim.engine.openingSessions, 0, 'waiting for the capture, not for the target');
  sim.run(2_000_000); // the request went out: an established session is not counted again
  assert.equal(sim.engine.openingSessions, 0);
  sim.run();
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('opening: lost SYNs, resets and timeouts all bring the count back to zero', () => {
  let n = 0;
  // Every 5th packet towards the target is lost (SYNs, requests and FINs are retried), and every
  // packet of the sessions from ports 46005, 46014, ... (the target never answers those 4).
  const lossy: LinkFaults = (_i: number, p: Buffer) => ((p.readUInt16BE(20) - 46000) % 9 === 5 || ++n % 5 === 0 ? [] : [0]);
  const sim = new Sim({
    target: { app: httpApp({ responseSize: (i) => 300 + i * 700, delayUs: () => 5000 }) },
    toTarget: lossy,
  });
  const caps = [];
  for (let k = 0; k < 40; k++) {
    const steps: Step[] = k % 7 === 3 ? [{ send: request(`r${k}`) }, { rst: true }] : [{ send: request(`a${k}`) }, { recv: 300 }, { send: request(`b${k}`) }, { recv: 1000 }, { fin: true }];
    caps.push(captureSession({ clientIp: CLIENT, clientPort: 46000 + k, serverIp: ONLINE_SERVER, serverPort: 80, startUs: 1_000_000 + k * 300, steps }));
  }
  sim.feed(mergeCaptures(...caps));
  let peak = 0;
  for (let t = 0; t < 200; t++) {
    sim.run(1000);
    peak = Math.max(peak, sim.engine.openingSessions);
    assert.ok(sim.engine.openingSessions <= sim.engine.activeSessions, 'never more than the active sessions');
  }
  sim.run();
  assert.ok(peak >= 5, `sessions overlapped while opening (peak ${peak})`);
  assert.equal(sim.closed.length, 40);
  assert.equal(sim.outcomes().filter((o) => o === 'timeout-synack').length, 4, sim.outcomes().join(' '));
  assert.equal(sim.engine.activeSessions, 0);
  assert.equal(sim.engine.openingSessions, 0);
});
