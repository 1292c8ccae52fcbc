import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { httpApp } from './apps.js';
import { captureSession, mergeCaptures, request, type Step } from './capture.js';
import { ONLINE_SERVER, Sim, ip } from './harness.js';

const CLIENT = ip('192.0.2.60');
const steps: Step[] = [{ send: request('i1') }, { recv: 4000 }, { send: request('i2') }, { recv: 4000 }, { fin: true }];

for (const style of ['stock-ip-options', 'payload'] as const) {
  test(`records in ${style} form are parsed (TCP at +20, payload length from Total Length)`, () => {
    const sim = new Sim({ recordStyle: style, target: { app: httpApp({ responseSize: () => 4000 }) } });
    sim.feed(captureSession({ clientIp: CLIENT, clientPort: 43000, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
    sim.run();
    assert.equal(sim.target.history[0]!.stream.toString(), request('i1') + request('i2'));
    assert.equal(sim.engine.stats.responseBytes, 8000);
    assert.equal(sim.engine.stats.quietReleases, 0);
    assert.deepEqual(sim.outcomes(), ['completed']);
  });
}

test('malformed and unmatched records and captured packets are counted, never thrown', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 10 }) } });
  const e = sim.engine;
  e.onResponse(Buffer.alloc(10), 0, sim.world.now);
  const rec = Buffer.alloc(64);
  rec[0] = 0x45;
  rec.writeUInt16BE(40, 2);
  rec[32] = 0x50;
  e.onResponse(rec, 0, sim.world.now);
  assert.equal(e.stats.responsesMalformed, 1);
  assert.equal(e.stats.responsesUnmatched, 1);
  e.onCaptured(Buffer.from([0x45, 0, 0]), 0, 3, sim.world.now);
  e.onCaptured(Buffer.alloc(60, 0x60), 0, 60, sim.world.now);
  assert.equal(e.stats.capturedInvalid, 2);
  // Traffic to a port with no -x entry.
  const other = captureSession({ clientIp: CLIENT, clientPort: 43001, serverIp: ONLINE_SERVER, serverPort: 81, steps });
  e.onCaptured(other[0]!.pkt, 0, other[0]!.pkt.length, sim.world.now);
  assert.equal(e.stats.capturedNoTransfer, 1);
});

test('routes: CLIENT_ADD before each SYN, CLIENT_DEL after the session lingered', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 4000 }) } });
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 43002, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run();
  assert.deepEqual(sim.routes, [`add ${CLIENT}:43002`, `del ${CLIENT}:43002`]);
});

test('-H replaces a 127.0.0.1 source; a 127.0.0.1 target only takes 127.0.0.1 sources', () => {
  const h = ip('10.7.7.7');
  const sim = new Sim({ engine: { localAddress: h }, target: { app: httpApp({ responseSize: () => 4000 }) } });
  sim.feed(captureSession({ clientIp: ip('127.0.0.1'), clientPort: 43003, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run();
  assert.equal(sim.target.history[0]!.clientIp, h);
  assert.deepEqual(sim.outcomes(), ['completed']);
  const lo = new Sim({ transfers: '80-127.0.0.1:8080', target: { ip: ip('127.0.0.1'), app: httpApp({ responseSize: () => 4000 }) } });
  lo.feed(captureSession({ clientIp: CLIENT, clientPort: 43004, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  lo.run();
  assert.equal(lo.engine.stats.capturedLocalhostSkipped > 0, true);
  assert.equal(lo.target.history.length, 0);
});

test('-g ramps the sample rate up by one percent per second from the first packet', () => {
  const sim = new Sim({ engine: { gradual: true }, target: { app: httpApp({ responseSize: () => 100 }) } });
  const caps = [];
  for (let i = 0; i < 300; i++) {
    caps.push(captureSession({ clientIp: CLIENT, clientPort: 10000 + i, serverIp: ONLINE_SERVER, serverPort: 80, startUs: 1_000_000 + i * 200_000, steps: [{ send: request('g') }, { recv: 100 }, { fin: true }] }));
  }
  sim.feed(mergeCaptures(...caps));
  sim.run();
  const kept = sim.closed.filter((c) => c.outcome === 'completed').map((c) => c.onlineClientPort - 10000);
  const early = kept.filter((i) => i < 100).length; // first 20 s: ≤ 20 %
  const late = kept.filter((i) => i >= 200).length; // 40–60 s: 41–60 %
  assert.ok(early < 30, `early ${early}`);
  assert.ok(late > early + 10, `late ${late} early ${early}`);
});
