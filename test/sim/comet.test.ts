import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpApp } from './apps.js';
import { captureSession, request } from './capture.js';
import { ONLINE_SERVER, Sim, ip } from './harness.js';

// Load mode --comet: the captured client close is left out, so a held connection ends only when
// the target closes it; the engine (closeWithTarget) then closes its side as a client would.

function heldCapture(): ReturnType<typeof captureSession> {
  return captureSession({
    clientIp: ip('192.0.2.30'),
    clientPort: 41000,
    serverIp: ONLINE_SERVER,
    serverPort: 80,
    steps: [{ send: request('poll', 120) }, { recv: 300 }],
  });
}

test('comet: the target answers and closes a held connection; closeWithTarget closes ours too: completed, target in TIME_WAIT', () => {
  const sim = new Sim({
    engine: { closeWithTarget: true, keepaliveTimeoutUs: Infinity },
    target: { app: httpApp({ responseSize: () => 300, delayUs: () => 2_000_000, closeAfter: () => true }) },
  });
  sim.feed(heldCapture());
  sim.run();
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(sim.target.history[0]?.state, 'timeWait');
  assert.equal(sim.engine.activeSessions, 0);
});

test('comet: without closeWithTarget the half-closed session stays open (nothing captured closes it)', () => {
  const sim = new Sim({
    engine: { closeWithTarget: false, keepaliveTimeoutUs: Infinity },
    target: { app: httpApp({ responseSize: () => 300, delayUs: () => 2_000_000, closeAfter: () => true }) },
  });
  sim.feed(heldCapture());
  sim.run();
  assert.deepEqual(sim.outcomes(), []);
  assert.equal(sim.engine.activeSessions, 1);
});
