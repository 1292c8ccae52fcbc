import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { TCP_SYN, SegmentView, newTcpOptions, parseTcpOptions, verifyTcpChecksum, verifyIpv4Checksum } from '../../src/core/packet/index.js';
import { clockIsn } from '../../src/core/session/engine.js';
import { httpApp, state } from './apps.js';
import { captureSession, mergeCaptures, request, type Step } from './capture.js';
import { ONLINE_SERVER, Sim, TARGET, TARGET_PORT, ip } from './harness.js';
import { World } from './world.js';

const CLIENT = ip('192.0.2.30');

function simpleSteps(n = 2, resp = 700): { steps: Step[]; stream: string } {
  const steps: Step[] = [];
  let stream = '';
  for (let i = 0; i < n; i++) {
    const r = request(`q${i}`, 180);
    stream += r;
    steps.push({ send: r }, { recv: resp }, { think: 300 });
  }
  steps.push({ fin: true });
  return { steps, stream };
}

test('session captured mid-stream (no SYN): fake handshake, data delivered, counted', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 700 }) } });
  const { steps, stream } = simpleSteps(3);
  const cap = captureSession({ clientIp: CLIENT, clientPort: 42000, serverIp: ONLINE_SERVER, serverPort: 80, steps }).filter(
    (p) => p.kind !== 'syn',
  );
  sim.feed(cap.slice(1)); // also without the handshake ACK
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), stream);
  assert.equal(sim.engine.stats.sessionsWithoutSyn, 1);
  assert.equal(sim.engine.stats.sessionsFromSyn, 0);
  assert.equal(c.tsOk, true, 'TS inferred from the data packets');
  assert.equal(sim.target.stats.missingTs + sim.target.stats.pawsDrops, 0);
  assert.deepEqual(sim.outcomes(), ['completed']);
  assert.equal(sim.closed[0]!.info.fromSyn, false);
});

test('-O: a connection without a captured SYN is not replayed', () => {
  const sim = new Sim({ engine: { onlyFromSyn: true }, target: { app: httpApp({ responseSize: () => 700 }) } });
  const { steps } = simpleSteps(1);
  const noSyn = captureSession({ clientIp: CLIENT, clientPort: 42001, serverIp: ONLINE_SERVER, serverPort: 80, steps }).filter((p) => p.kind !== 'syn');
  const withSyn = captureSession({ clientIp: CLIENT, clientPort: 42002, serverIp: ONLINE_SERVER, serverPort: 80, steps });
  sim.feed(mergeCaptures(noSyn, withSyn));
  sim.run();
  assert.equal(sim.target.history.length, 1);
  assert.equal(sim.closed.length, 1);
  assert.equal(sim.closed[0]!.onlineClientPort, 42002);
  assert.ok(sim.engine.stats.skippedNoSynPackets > 0);
});

test('sequence numbers wrap at 2^32 in both directions', () => {
  // Our ISN comes from the clock: pick a start time that puts it 100 bytes before the wrap.
  const port = 42003;
  const want = 2 ** 32 - 100;
  const h = (clockIsn(0, CLIENT, port, TARGET, TARGET_PORT) >>> 0) as number;
  const base = 1_700_000_000_000_000;
  const ticks = (((want - h) >>> 0) - (Math.floor(base / 4) % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const start = base + ticks * 4;
  assert.equal(clockIsn(start, CLIENT, port, TARGET, TARGET_PORT), want);
  const world = new World(start);
  const sim = new Sim({ world, target: { isn: () => 2 ** 32 - 300, app: httpApp({ responseSize: () => 5000, terminator: 'END' }) } });
  const body = Buffer.alloc(4000, 0x61).toString() + 'END';
  sim.feed(
    captureSession({
      clientIp: CLIENT,
      clientPort: port,
      serverIp: ONLINE_SERVER,
      serverPort: 80,
      isn: 2 ** 32 - 1000, // the captured client seq wraps too
      serverIsn: 2 ** 32 - 2000,
      steps: [{ send: body, seg: 1000 }, { recv: 5000 }, { send: 'againEND' }, { recv: 5000 }, { fin: true }],
    }),
  );
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.irs, want);
  assert.equal(c.stream.toString(), body + 'againEND');
  assert.equal(c.responseAcked, 10000);
  assert.equal(state(c).early, 0);
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('timestamps and window scale are negotiated and kept on every packet', () => {
  const sent: Buffer[] = [];
  const sim = new Sim({
    target: { wscale: 9, app: httpApp({ responseSize: () => 2_000_000 }) },
    toTarget: (_, p) => {
      sent.push(p);
      return [0];
    },
  });
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 42004, serverIp: ONLINE_SERVER, serverPort: 80, wscale: 5, mss: 1200, steps: [{ send: request('w') }, { recv: 2_000_000 }, { fin: true }] }));
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.tsOk, true);
  assert.equal(c.wscaleOk, true);
  assert.equal(c.peerWscale, 5, 'captured client wscale kept');
  assert.equal(c.peerMss, 1200, 'captured MSS kept (below -D)');
  assert.equal(sim.target.stats.pawsDrops + sim.target.stats.missingTs, 0);
  const v = new SegmentView();
  const o = newTcpOptions();
  let lastTs = 0;
  for (const p of sent) {
    assert.ok(verifyIpv4Checksum(p, 0) && verifyTcpChecksum(p, 0));
    v.wrap(p, 0);
    assert.equal(v.ip.df, true);
    assert.equal(v.ip.ttl, 64);
    parseTcpOptions(p, v.tcp.optionsOffset, v.tcp.optionsOffset + v.tcp.optionsLength, o);
    if ((v.tcp.flags & 0x04) === 0) assert.ok(o.hasTs, 'every non-RST packet carries TS');
    if (o.hasTs) {
      assert.ok(o.tsVal >= lastTs, 'TSval never goes backwards');
      lastTs = o.tsVal;
    }
  }
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('a target without timestamps or window scaling: none are sent after the SYN', () => {
  const sent: Buffer[] = [];
  const sim = new Sim({
    target: { ts: false, wscale: -1, app: httpApp({ responseSize: () => 3000 }) },
    toTarget: (_, p) => {
      sent.push(p);
      return [0];
    },
  });
  const { steps, stream } = simpleSteps(2, 3000);
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 42005, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run();
  assert.equal(sim.target.history[0]!.stream.toString(), stream);
  const o = newTcpOptions();
  for (const p of sent.slice(1)) {
    parseTcpOptions(p, 40, 20 + (((p[32] as number) >> 4) << 2), o);
    assert.equal(o.hasTs, false);
  }
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('-n 3 with a -c pool of one address: three distinct working sessions, no tuple collision', () => {
  const pool = ip('10.9.0.7');
  const sim = new Sim({ engine: { replicas: 3, clientPool: [pool] }, target: { app: httpApp({ responseSize: () => 900 }) } });
  const { steps, stream } = simpleSteps(3, 900);
  // Two real clients with the same port on different addresses: both map to the pool address.
  const a = captureSession({ clientIp: ip('192.0.2.31'), clientPort: 42006, serverIp: ONLINE_SERVER, serverPort: 80, steps });
  const b = captureSession({ clientIp: ip('192.0.2.32'), clientPort: 42006, serverIp: ONLINE_SERVER, serverPort: 80, steps, startUs: 1_000_500 });
  sim.feed(mergeCaptures(a, b));
  sim.run();
  assert.equal(sim.target.history.length, 6);
  const tuples = new Set(sim.target.history.map((c) => `${c.clientIp}:${c.clientPort}`));
  assert.equal(tuples.size, 6);
  for (const c of sim.target.history) {
    assert.equal(c.clientIp, pool);
    assert.equal(c.stream.toString(), stream);
    assert.equal(state(c).early, 0);
  }
  assert.deepEqual(sim.outcomes(), Array(6).fill('completed'));
  assert.equal(sim.target.stats.challengeAcks, 0);
});

test('-f port shift moves client ports; replicas of one connection use distinct ports', () => {
  const sim = new Sim({ engine: { portShift: 3, replicas: 2 }, target: { app: httpApp({ responseSize: () => 100 }) } });
  const { steps } = simpleSteps(1, 100);
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 42007, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run();
  const ports = sim.target.history.map((c) => c.clientPort);
  assert.equal(ports.length, 2);
  assert.ok(ports.every((p) => p !== 42007));
  assert.notEqual(ports[0], ports[1]);
  assert.deepEqual(sim.outcomes(), ['completed', 'completed']);
});

test('port reuse: the same client tuple again while the target holds the first in TIME_WAIT', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 300, closeAfter: () => true }) } });
  const mk = (start: number, tag: string): ReturnType<typeof captureSession> =>
    captureSession({
      clientIp: CLIENT,
      clientPort: 42008,
      serverIp: ONLINE_SERVER,
      serverPort: 80,
      startUs: start,
      isn: 7777,
      steps: [{ send: request(tag) }, { recv: 300 }, { serverFin: true }, { fin: true }],
    });
  sim.feed(mergeCaptures(mk(1_000_000, 'first'), mk(1_100_000, 'second')));
  sim.run();
  assert.equal(sim.target.history.length, 2);
  const [c1, c2] = sim.target.history;
  assert.ok(c1!.stream.toString().includes('first'));
  assert.ok(c2!.stream.toString().includes('second'));
  assert.notEqual(c1!.clientPort, c2!.clientPort, 'the allocator avoided the TIME_WAIT tuple');
  assert.equal(sim.engine.stats.portReassigned, 1);
  assert.deepEqual(sim.outcomes(), ['completed', 'completed']);
});

test('replaying the same capture twice in a row: new ISN/TS beat the target TIME_WAIT of the first run', () => {
  const world = new World();
  const app = httpApp({ responseSize: () => 300, closeAfter: () => true });
  const first = new Sim({ world, target: { app } });
  const cap = captureSession({
    clientIp: CLIENT,
    clientPort: 42009,
    serverIp: ONLINE_SERVER,
    serverPort: 80,
    steps: [{ send: request('again', 2000) }, { recv: 300 }, { serverFin: true }, { fin: true }],
  });
  first.feed(cap);
  first.run(20_000_000);
  assert.deepEqual(first.outcomes(), ['completed']);
  assert.equal(first.target.history[0]!.state, 'timeWait');
  // A second copier process (fresh engine, no memory of the first) against the same target.
  const second = new Sim({ world, target: { app }, fakeTarget: first.target });
  second.feed(cap, world.now + 2_000);
  second.run(20_000_000);
  assert.equal(first.target.history.length, 2);
  assert.equal(first.target.stats.synAcceptedTimeWait, 1);
  assert.equal(first.target.stats.synRejectedTimeWait, 0);
  assert.equal(first.target.history[1]!.stream.toString(), request('again', 2000));
});

test('-r 50 keeps about half the connections, the same half for the same seed', () => {
  const run = (seed: number): number[] => {
    const sim = new Sim({ engine: { samplePercent: 50, seed }, target: { app: httpApp({ responseSize: () => 100 }) } });
    const caps = [];
    for (let i = 0; i < 200; i++) {
      caps.push(captureSession({ clientIp: CLIENT, clientPort: 20000 + i, serverIp: ONLINE_SERVER, serverPort: 80, startUs: 1_000_000 + i * 100, steps: [{ send: request('s') }, { recv: 100 }, { fin: true }] }));
    }
    sim.feed(mergeCaptures(...caps));
    sim.run();
    assert.equal(sim.closed.length, 200);
    const kept = sim.closed.filter((c) => c.outcome === 'completed').map((c) => c.onlineClientPort);
    assert.equal(sim.closed.filter((c) => c.outcome === 'sampled-out').length, 200 - kept.length);
    assert.equal(sim.target.history.length, kept.length);
    return kept.sort();
  };
  const a = run(1);
  assert.ok(a.length >= 75 && a.length <= 125, `kept ${a.length} of 200`);
  assert.deepEqual(run(1), a);
  assert.notDeepEqual(run(2), a);
});

test('-a shrinks think time, never the wait for a response', () => {
  const steps: Step[] = [{ send: request('t1') }, { recv: 500 }, { think: 1_000_000 }, { send: request('t2') }, { recv: 500 }, { fin: true }];
  const arrivals: number[] = [];
  const app = httpApp({ responseSize: () => 500, delayUs: () => 50_000 });
  const sim2 = new Sim({
    engine: { acceleration: 10 },
    target: {
      app: (c) => {
        const h = app(c);
        return { ...h, onData: (conn, d) => (arrivals.push(sim2.world.now), h.onData?.(conn, d)) };
      },
    },
  });
  sim2.feed(captureSession({ clientIp: CLIENT, clientPort: 42010, serverIp: ONLINE_SERVER, serverPort: 80, rttUs: 1000, steps }), sim2.world.now, 10);
  sim2.run();
  assert.equal(arrivals.length, 2);
  const gap = arrivals[1]! - arrivals[0]!;
  // 50 ms response (not shrunk) + 1 s think / 10 = 100 ms.
  assert.ok(gap >= 150_000 && gap < 170_000, `gap ${gap}`);
  assert.deepEqual(sim2.outcomes(), ['completed']);
});

test('-W sends requests without waiting (the check above can fail)', () => {
  const sim = new Sim({ engine: { noWait: true }, target: { app: httpApp({ responseSize: () => 3000, delayUs: () => 20_000 }) } });
  const { steps, stream } = simpleSteps(5, 3000);
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 42011, serverIp: ONLINE_SERVER, serverPort: 80, steps }), sim.world.now, 5);
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), stream);
  assert.ok(state(c).early > 0);
});

test('a smaller test response ends by a quiet period; a missing one by the bounded wait', () => {
  const sim = new Sim({ engine: { responseWaitMaxUs: 500_000 }, target: { app: httpApp({ responseSize: (i) => (i === 0 ? 100 : 0) }) } });
  const steps: Step[] = [{ send: request('a') }, { recv: 5000 }, { send: request('b') }, { recv: 5000 }, { send: request('c') }, { recv: 10 }, { fin: true }];
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 42012, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run();
  assert.equal(state(sim.target.history[0]!).requests, 3);
  assert.equal(sim.engine.stats.quietReleases, 1);
  assert.equal(sim.engine.stats.responseWaitsExpired, 2);
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('timeouts: no SYN-ACK, no ACK for data, no response within -t, idle after the capture ends', () => {
  const steps: Step[] = [{ send: request('z') }, { recv: 100 }, { send: request('y') }, { recv: 100 }, { fin: true }];
  // No SYN-ACK: every SYN is lost.
  const a = new Sim({ engine: { synRetries: 3 }, target: { app: httpApp({ responseSize: () => 100 }) }, toTarget: () => [] });
  a.feed(captureSession({ clientIp: CLIENT, clientPort: 42013, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  a.run();
  assert.deepEqual(a.outcomes(), ['timeout-synack']);
  assert.equal(a.engine.stats.synRetransmits, 3);
  // Data never acknowledged: everything after the handshake is lost.
  const b = new Sim({ engine: { dataRetries: 4 }, target: { app: httpApp({ responseSize: () => 100 }) }, toTarget: (_, p) => (p.readUInt16BE(2) - 20 - ((p[32]! >> 4) << 2) > 0 ? [] : [0]) });
  b.feed(captureSession({ clientIp: CLIENT, clientPort: 42014, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  b.run();
  assert.deepEqual(b.outcomes(), ['timeout-ack']);
  // The target accepts requests but never answers, -t shorter than the response wait.
  const c = new Sim({ engine: { sessionTimeoutUs: 2_000_000, responseWaitMaxUs: 10_000_000 }, target: { app: () => ({}) } });
  c.feed(captureSession({ clientIp: CLIENT, clientPort: 42015, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  c.run();
  assert.deepEqual(c.outcomes(), ['timeout-response']);
  // Capture ends without a close: -k.
  const d = new Sim({ engine: { keepaliveTimeoutUs: 5_000_000 }, target: { app: httpApp({ responseSize: () => 100 }) } });
  d.feed(captureSession({ clientIp: CLIENT, clientPort: 42016, serverIp: ONLINE_SERVER, serverPort: 80, steps: steps.slice(0, 4) }));
  d.run();
  assert.deepEqual(d.outcomes(), ['idle-timeout']);
  assert.equal(d.closed[0]!.endUs - d.target.history[0]!.iss > 0, true);
  assert.equal(d.target.history[0]!.resetByPeer, true, 'the target is told with a RST');
});

test('-M segments big captured packets; every packet fits the MTU', () => {
  const sim = new Sim({ engine: { mtu: 576 }, target: { mtu: 576, app: httpApp({ responseSize: () => 100, terminator: 'END' }) } });
  const body = Buffer.alloc(9000, 0x62).toString() + 'END';
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 42017, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: body, seg: 4000 }, { recv: 100 }, { fin: true }] }));
  sim.run();
  assert.equal(sim.target.history[0]!.stream.toString(), body);
  assert.equal(sim.target.stats.overMtu, 0);
  assert.ok(sim.engine.stats.dataPacketsSent >= Math.ceil(9003 / (576 - 52)));
  assert.deepEqual(sim.outcomes(), ['completed']);
});

for (const mode of ['full', 'incremental'] as const) {
  test(`${mode} checksum mode handles captures with bad (offloaded) checksums`, () => {
    const sim = new Sim({ engine: { checksum: mode }, target: { app: httpApp({ responseSize: () => 100 }) } });
    const { steps, stream } = simpleSteps(2, 100);
    const cap = captureSession({ clientIp: CLIENT, clientPort: 42018, serverIp: ONLINE_SERVER, serverPort: 80, steps });
    for (const p of cap) p.pkt.writeUInt16BE(0x1234, 36);
    sim.feed(cap);
    sim.run();
    assert.equal(sim.target.history[0]!.stream.toString(), stream);
    assert.equal(sim.target.stats.badChecksum, 0);
    assert.equal(sim.engine.stats.capturedBadChecksumConns, mode === 'incremental' ? 1 : 0);
  });
}

test('buffer cap: a session over -U is dropped, counted, and the target is reset', () => {
  const sim = new Sim({ engine: { sessionBufferCap: 5000 }, target: { app: httpApp({ responseSize: () => 100, terminator: 'END' }) }, toTarget: (_, p) => ((p[33]! & TCP_SYN) !== 0 ? [] : [0]) });
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 42019, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: 'x'.repeat(8000) + 'END' }, { recv: 100 }] }));
  sim.run(5_000_000);
  assert.deepEqual(sim.outcomes(), ['buffer-overflow']);
  assert.equal(sim.engine.stats.bufferDrops, 1);
  assert.equal(sim.engine.stats.bufferedBytes, 0);
});

test('no interceptor: sessions never start (unless -L)', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 100 }) } });
  sim.engine.setInterceptorAvailable(false);
  const { steps } = simpleSteps(1, 100);
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 42020, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run();
  assert.deepEqual(sim.outcomes(), ['no-interceptor']);
  assert.equal(sim.target.history.length, 0);
  const lonely = new Sim({ engine: { lonely: true }, target: { app: httpApp({ responseSize: () => 100 }) } });
  lonely.engine.setInterceptorAvailable(false);
  lonely.feed(captureSession({ clientIp: CLIENT, clientPort: 42021, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  lonely.run();
  assert.deepEqual(lonely.outcomes(), ['completed']);
});

test('several -x targets: the same client tuple to two online ports makes two separate sessions', () => {
  const sim = new Sim({ transfers: '80-10.0.0.2:8080,81-10.0.0.2:8080', target: { app: httpApp({ responseSize: () => 100 }) } });
  const { steps } = simpleSteps(1, 100);
  const a = captureSession({ clientIp: CLIENT, clientPort: 42022, serverIp: ONLINE_SERVER, serverPort: 80, steps });
  const b = captureSession({ clientIp: CLIENT, clientPort: 42022, serverIp: ONLINE_SERVER, serverPort: 81, steps, startUs: 1_000_300 });
  sim.feed(mergeCaptures(a, b));
  sim.run();
  assert.equal(sim.target.history.length, 2);
  assert.notEqual(sim.target.history[0]!.clientPort, sim.target.history[1]!.clientPort);
  assert.deepEqual(sim.outcomes(), ['completed', 'completed']);
});

test('-D clamps the MSS of a captured SYN; -m caps the total buffered bytes', () => {
  const sim = new Sim({ engine: { mss: 1000 }, target: { app: httpApp({ responseSize: () => 100 }) } });
  const { steps } = simpleSteps(1, 100);
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 42030, serverIp: ONLINE_SERVER, serverPort: 80, mss: 1460, steps }));
  sim.run();
  assert.equal(sim.target.history[0]!.peerMss, 1000);
  // Two sessions whose SYNs go unanswered buffer 3000 bytes each; a 5000-byte total cap drops one.
  const capped = new Sim({ engine: { totalBufferCap: 5000 }, target: { app: httpApp({ responseSize: () => 100 }) }, toTarget: () => [] });
  const big: Step[] = [{ send: 'y'.repeat(3000) }, { recv: 100 }];
  capped.feed(
    mergeCaptures(
      captureSession({ clientIp: CLIENT, clientPort: 42031, serverIp: ONLINE_SERVER, serverPort: 80, steps: big }),
      captureSession({ clientIp: CLIENT, clientPort: 42032, serverIp: ONLINE_SERVER, serverPort: 80, steps: big, startUs: 1_000_100 }),
    ),
  );
  capped.run(100_000);
  assert.deepEqual(capped.outcomes(), ['buffer-overflow']);
  assert.equal(capped.closed[0]!.onlineClientPort, 42032);
});

test('a sampled-out connection is reported once, even with its SYN retransmitted in the capture', () => {
  const sim = new Sim({ engine: { samplePercent: 1, seed: 5 }, target: { app: httpApp({ responseSize: () => 100 }) } });
  const caps = [];
  for (let i = 0; i < 20; i++) {
    const c = captureSession({ clientIp: CLIENT, clientPort: 42100 + i, serverIp: ONLINE_SERVER, serverPort: 80, startUs: 1_000_000 + i * 1000, steps: [{ send: request('s') }, { recv: 100 }, { fin: true }] });
    caps.push([c[0]!, { ...c[0]!, tsUs: c[0]!.tsUs + 500 }, ...c.slice(1)]);
  }
  sim.feed(mergeCaptures(...caps));
  sim.run();
  assert.equal(sim.closed.length, 20);
  assert.equal(sim.closed.filter((c) => c.outcome === 'sampled-out').length, 20 - sim.target.history.length);
  assert.equal(sim.engine.stats.sessionsWithoutSyn, 0, 'later packets of sampled-out connections start nothing');
});
