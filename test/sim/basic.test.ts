import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpApp, state } from './apps.js';
import { captureSession, request } from './capture.js';
import { ONLINE_SERVER, Sim, ip } from './harness.js';

const CLIENT = ip('192.0.2.10');

test('short HTTP/1.0 connection: handshake, request, response, server closes first', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 500, closeAfter: () => true }) } });
  const req = request('a', 120);
  sim.feed(
    captureSession({
      clientIp: CLIENT,
      clientPort: 40000,
      serverIp: ONLINE_SERVER,
      serverPort: 80,
      steps: [{ send: req }, { recv: 500 }, { serverFin: true }, { fin: true }],
    }),
  );
  sim.run();
  assert.equal(sim.target.history.length, 1);
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), req);
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(c.state, 'timeWait');
  assert.equal(state(c).early, 0);
  assert.equal(sim.target.stats.badChecksum, 0);
  assert.equal(sim.target.stats.pawsDrops, 0);
  assert.equal(sim.target.stats.missingTs, 0);
  assert.equal(sim.engine.stats.sessionsFromSyn, 1);
  assert.equal(sim.engine.activeSessions, 0);
});
