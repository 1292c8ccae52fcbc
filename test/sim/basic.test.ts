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
  // The FIN waited for exactly the response and the target's FIN (no fallback needed).
  assert.equal(sim.engine.stats.quietReleases + sim.engine.stats.responseWaitsExpired, 0);
  assert.equal(sim.engine.stats.turns, 1);
});

function keepAliveSteps(n: number, size: number, think = 1000): { steps: import('./capture.js').Step[]; stream: string } {
  const steps: import('./capture.js').Step[] = [];
  let stream = '';
  for (let i = 0; i < n; i++) {
    const r = request(`r${i}`, 150 + (i % 7));
    stream += r;
    steps.push({ send: r }, { recv: size }, { think });
  }
  steps.push({ fin: true });
  return { steps, stream };
}

test('keep-alive with 50 requests at -a 5 against a slower test server: every request, in order, none early', () => {
  const sim = new Sim({
    target: { app: httpApp({ responseSize: () => 3000, delayUs: () => 20_000 }) },
  });
  const { steps, stream } = keepAliveSteps(50, 3000);
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 40001, serverIp: ONLINE_SERVER, serverPort: 80, steps }), sim.world.now, 5);
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), stream);
  assert.equal(state(c).requests, 50);
  assert.equal(state(c).early, 0, 'no request may start while the previous response is pending');
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(sim.engine.stats.turns, 50, 'each request after the first and the FIN is a turn');
});

test('pipelined requests stay pipelined (sent back to back, before any response)', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 800, delayUs: () => 5000 }) } });
  const reqs = [request('p1'), request('p2'), request('p3')];
  sim.feed(
    captureSession({
      clientIp: CLIENT,
      clientPort: 40002,
      serverIp: ONLINE_SERVER,
      serverPort: 80,
      steps: [{ send: reqs[0]! }, { send: reqs[1]! }, { send: reqs[2]! }, { recv: 2400 }, { fin: true }],
    }),
  );
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), reqs.join(''));
  // All three arrived before the first response was written (pipelined, not paced).
  assert.equal(state(c).early, 2);
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('large upload: many segments, limited by a small target window, nothing beyond the window', () => {
  const body = Buffer.alloc(300_000, 0x41);
  for (let i = 0; i < body.length; i++) body[i] = 0x41 + (i % 26);
  const sim = new Sim({ target: { rcvWindow: 8192, wscale: 0, app: httpApp({ responseSize: () => 200, terminator: 'EOF' }) } });
  const payload = Buffer.concat([body, Buffer.from('EOF')]);
  sim.feed(
    captureSession({
      clientIp: CLIENT,
      clientPort: 40003,
      serverIp: ONLINE_SERVER,
      serverPort: 80,
      steps: [{ send: payload }, { recv: 200 }, { fin: true }],
    }),
  );
  sim.run();
  const c = sim.target.history[0]!;
  assert.ok(c.stream.equals(payload));
  assert.equal(sim.target.stats.beyondWindow, 0);
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(sim.engine.stats.retransmits, 0);
});

test('large download: the target never stalls on its window (prompt ACKs)', () => {
  const size = 20_000_000;
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => size }) }, linkDelayUs: 100 });
  const req = request('big');
  sim.feed(
    captureSession({
      clientIp: CLIENT,
      clientPort: 40004,
      serverIp: ONLINE_SERVER,
      serverPort: 80,
      wscale: 2,
      steps: [{ send: req }, { recv: size }, { fin: true }],
    }),
  );
  const t0 = sim.world.now;
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), req);
  assert.equal(c.responseAcked, size);
  assert.equal(sim.target.stats.retransmits, 0, 'the target never had to retransmit');
  assert.deepEqual(sim.outcomes(), ['completed']);
  // Window 65535<<2 per 200 µs round trip ≈ 1.3 GB/s; 20 MB must take well under a second.
  const done = sim.closed[0]!.endUs - t0;
  assert.ok(done < 1_000_000, `download took ${done} µs`);
});

test('server-first greeting: the first request goes as soon as the greeting arrives, which is ACKed at once', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 50, greeting: 120, terminator: '\r\n' }) } });
  sim.feed(
    captureSession({
      clientIp: CLIENT,
      clientPort: 40005,
      serverIp: ONLINE_SERVER,
      serverPort: 80,
      steps: [{ recv: 120 }, { send: 'HELO x\r\n' }, { recv: 50 }, { send: 'QUIT\r\n' }, { recv: 50 }, { fin: true }],
    }),
  );
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), 'HELO x\r\nQUIT\r\n');
  assert.equal(state(c).early, 0);
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(sim.target.stats.retransmits, 0, 'greeting ACKed before the target had to retransmit it');
  assert.equal(sim.engine.stats.quietReleases + sim.engine.stats.responseWaitsExpired, 0);
});

test('a test response larger than the captured one: the next request waits for its end (PSH), not just the captured size', () => {
  const sim = new Sim({ target: { cwnd: 20_000, app: httpApp({ responseSize: () => 400_000 }) }, linkDelayUs: 2000 });
  const { steps, stream } = keepAliveSteps(4, 1000);
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 40006, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), stream);
  assert.equal(state(c).early, 0);
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('upload into a slow reader: zero windows are waited out (persist probes), nothing lost or duplicated', () => {
  const body = Buffer.alloc(200_000);
  for (let i = 0; i < body.length; i++) body[i] = 0x61 + (i % 26);
  const payload = Buffer.concat([body, Buffer.from('EOF')]);
  const sim = new Sim({ target: { rcvWindow: 16_384, wscale: 0, readDelayUs: 300_000, app: httpApp({ responseSize: () => 100, terminator: 'EOF' }) } });
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 40007, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: payload }, { recv: 100 }, { fin: true }] }));
  sim.run();
  const c = sim.target.history[0]!;
  assert.ok(c.stream.equals(payload));
  assert.ok(sim.engine.stats.persistProbes > 0, 'the window closed and was probed');
  assert.ok(sim.target.stats.beyondWindow <= sim.engine.stats.persistProbes + sim.engine.stats.retransmits);
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('a test greeting shorter than the captured one releases the first request at its push, not after a quiet period', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 50, greeting: 80, terminator: '\r\n' }) } });
  sim.feed(
    captureSession({
      clientIp: CLIENT,
      clientPort: 40008,
      serverIp: ONLINE_SERVER,
      serverPort: 80,
      steps: [{ recv: 120 }, { send: 'HELO x\r\n' }, { recv: 50 }, { fin: true }],
    }),
  );
  sim.run();
  assert.equal(sim.target.history[0]!.stream.toString(), 'HELO x\r\n');
  assert.equal(sim.engine.stats.quietReleases, 0);
  assert.deepEqual(sim.outcomes(), ['completed']);
});
