import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpApp, state } from './apps.js';
import { captureSession, mergeCaptures, request, type CapturedPacket, type Step } from './capture.js';
import { ONLINE_SERVER, Sim, ip } from './harness.js';

test('the stock failure case: 2,000 conn/s HTTP keep-alive capture at -a 5, streaming responses — every request arrives, none early', () => {
  const conns = 400; // 0.2 s of capture at 2,000 new connections/s
  const perConn = 5;
  const caps: CapturedPacket[][] = [];
  const streams = new Map<number, string>();
  for (let k = 0; k < conns; k++) {
    const steps: Step[] = [];
    let stream = '';
    for (let i = 0; i < perConn; i++) {
      const q = request(`c${k}r${i}`, 200);
      stream += q;
      steps.push({ send: q }, { recv: 30_000 }, { think: 2000 });
    }
    steps.push({ fin: true });
    const port = 20000 + k;
    streams.set(port, stream);
    caps.push(
      captureSession({
        clientIp: ip('192.0.2.70'),
        clientPort: port,
        serverIp: ONLINE_SERVER,
        serverPort: 80,
        startUs: 1_000_000 + k * 500,
        rttUs: 1000,
        steps,
      }),
    );
  }
  // The test server answers more slowly than production and streams each 30 kB response over
  // several round trips (a 10 kB congestion window, 1 ms each way).
  const sim = new Sim({
    engine: { acceleration: 5 },
    linkDelayUs: 1000,
    target: { cwnd: 10_000, app: httpApp({ responseSize: () => 30_000, delayUs: () => 3000 }) },
  });
  sim.feed(mergeCaptures(...caps), sim.world.now, 5);
  sim.run();
  assert.equal(sim.closed.length, conns);
  assert.deepEqual(new Set(sim.outcomes()), new Set(['completed']));
  let requests = 0;
  let early = 0;
  for (const c of sim.target.history) {
    assert.equal(c.stream.toString(), streams.get(c.clientPort));
    requests += state(c).requests;
    early += state(c).early;
    assert.equal(c.resetByPeer, false);
  }
  assert.equal(requests, conns * perConn);
  assert.equal(early, 0);
  assert.equal(sim.target.stats.rstsSent, 0);
});
