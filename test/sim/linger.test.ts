import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpApp } from './apps.js';
import { captureSession, request, type Step } from './capture.js';
import { ONLINE_SERVER, Sim, ip } from './harness.js';

const CLIENT = ip('192.0.2.30');

function oneRequest(port: number, serverCloses: boolean): Sim {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 300, closeAfter: () => serverCloses }) } });
  const steps: Step[] = serverCloses ? [{ send: request('c') }, { recv: 300 }, { serverFin: true }, { fin: true }] : [{ send: request('c') }, { recv: 300 }, { fin: true }];
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: port, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  return sim;
}

test('a target that closed first and acknowledged our FIN (its TIME_WAIT) frees the session at once; the tuple stays reserved', () => {
  const sim = oneRequest(44001, true);
  sim.run(3_000_000);
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(sim.targetConnOf(sim.closed[0]!)!.closedFirst, true);
  assert.equal(sim.engine.stats.lingeringSessions, 0, 'nothing lingers');
  assert.deepEqual(sim.routes, [`add ${CLIENT}:44001`, `del ${CLIENT}:44001`], 'route deleted at the close, not 6 s later');
  assert.equal(sim.engine.stats.timeWaitTuples, 1, 'the tuple is held for TIME_WAIT');
});

test('a session we closed first lingers (6 s) to ACK a retransmitted FIN of the target', () => {
  const sim = oneRequest(44002, false);
  sim.run(3_000_000);
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(sim.engine.stats.lingeringSessions, 1);
  assert.deepEqual(sim.routes, [`add ${CLIENT}:44002`]);
  sim.run();
  assert.equal(sim.engine.stats.lingeringSessions, 0);
  assert.deepEqual(sim.routes, [`add ${CLIENT}:44002`, `del ${CLIENT}:44002`]);
});

test('a connection whose session retired at once still ignores late captured packets, and a new SYN on its tuple starts a new session', () => {
  const sim = oneRequest(44003, true);
  // The same connection captured again 1 s later (a second run of the capture): same ISN, new incarnation.
  const again = captureSession({ clientIp: CLIENT, clientPort: 44003, serverIp: ONLINE_SERVER, serverPort: 80, startUs: 2_000_000, steps: [{ send: request('d') }, { recv: 300 }, { serverFin: true }, { fin: true }] });
  const late = captureSession({ clientIp: CLIENT, clientPort: 44003, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: request('c') }, { recv: 300 }, { serverFin: true }, { fin: true }] });
  sim.feed([late[late.length - 1]!], sim.world.now + 500_000);
  sim.feed(again, sim.world.now + 1_000_000);
  sim.run();
  assert.equal(sim.engine.stats.capturedForUnknown >= 1, true, 'the late FIN was ignored');
  assert.deepEqual(sim.outcomes(), ['completed', 'completed']);
  assert.equal(sim.target.history.length, 2);
  assert.equal(sim.target.history[1]!.stream.toString(), request('d'));
});
