import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/core/packet/index.js';
import { httpApp, state } from './apps.js';
import { captureSession, request, type CapturedPacket, type Step } from './capture.js';
import { ONLINE_SERVER, Sim, ip } from './harness.js';
import type { LinkFaults } from './world.js';

const CLIENT = ip('192.0.2.20');

const flagsOf = (p: Buffer): number => p[33] as number;
const payloadOf = (p: Buffer): number => p.readUInt16BE(2) - 20 - (((p[32] as number) >> 4) << 2);

/** Drop the first packet matching `pred` (once). */
function dropFirst(pred: (p: Buffer) => boolean): LinkFaults & { dropped: number } {
  const f = ((_: number, p: Buffer) => {
    if (f.dropped === 0 && pred(p)) {
      f.dropped++;
      return [];
    }
    return [0];
  }) as LinkFaults & { dropped: number };
  f.dropped = 0;
  return f;
}

function twoRequests(port: number): { cap: CapturedPacket[]; stream: string } {
  const r1 = request('one', 300);
  const r2 = request('two', 200);
  const steps: Step[] = [{ send: r1 }, { recv: 1000 }, { think: 500 }, { send: r2 }, { recv: 1000 }, { fin: true }];
  return { cap: captureSession({ clientIp: CLIENT, clientPort: port, serverIp: ONLINE_SERVER, serverPort: 80, steps }), stream: r1 + r2 };
}

test('client RST is replayed after the data it followed; outcome reset-as-captured', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 400 }) } });
  const r = request('x');
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 41000, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: r }, { recv: 400 }, { rst: true }] }));
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), r);
  assert.equal(c.resetByPeer, true);
  assert.deepEqual(sim.outcomes(), ['reset-as-captured']);
});

test('target RST ends the session as reset-by-target', () => {
  const app = httpApp({ responseSize: () => 100 });
  const sim = new Sim({
    target: {
      app: (c) => {
        const h = app(c);
        return { ...h, onData: (conn, d) => (state(conn).requests === 0 && conn.receivedBytes > 0 ? conn.reset() : h.onData?.(conn, d)) };
      },
    },
  });
  const { cap } = twoRequests(41001);
  sim.feed(cap);
  sim.run();
  assert.deepEqual(sim.outcomes(), ['reset-by-target']);
  assert.equal(sim.engine.activeSessions, 0);
});

test('captured retransmissions and overlaps are delivered once', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 100, terminator: 'END' }) } });
  const body = 'A'.repeat(3000) + 'END';
  const cap = captureSession({
    clientIp: CLIENT,
    clientPort: 41002,
    serverIp: ONLINE_SERVER,
    serverPort: 80,
    steps: [{ send: body, seg: 1000 }, { recv: 100 }, { fin: true }],
  });
  // Duplicate every data packet: a retransmission captured right after the original.
  const dups: CapturedPacket[] = [];
  for (const p of cap) {
    dups.push(p);
    if (p.kind === 'data') dups.push({ ...p, tsUs: p.tsUs + 1 });
  }
  sim.feed(dups);
  sim.run();
  const c = sim.target.history[0]!;
  assert.equal(c.stream.toString(), body);
  assert.equal(sim.target.stats.dupData, 0);
  assert.ok(sim.engine.stats.clientRetransmitsSkipped >= 4);
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('captured packets out of order (capture gap filled later) are reordered', () => {
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 100, terminator: 'END' }) } });
  const body = 'B'.repeat(2000) + 'END';
  const cap = captureSession({ clientIp: CLIENT, clientPort: 41003, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: body, seg: 500 }, { recv: 100 }, { fin: true }] });
  const data = cap.filter((p) => p.kind === 'data');
  // Swap the 2nd and 3rd data packets.
  const i = cap.indexOf(data[1]!);
  const j = cap.indexOf(data[2]!);
  [cap[i], cap[j]] = [cap[j]!, cap[i]!];
  sim.feed(cap);
  sim.run();
  assert.equal(sim.target.history[0]!.stream.toString(), body);
  assert.deepEqual(sim.outcomes(), ['completed']);
});

const phases: [string, (p: Buffer) => boolean][] = [
  ['SYN', (p) => (flagsOf(p) & TCP_SYN) !== 0],
  ['third ACK', (p) => flagsOf(p) === TCP_ACK && payloadOf(p) === 0],
  ['data', (p) => payloadOf(p) > 0],
  ['second request', (p) => payloadOf(p) > 0 && p.includes('two')],
  ['FIN', (p) => (flagsOf(p) & TCP_FIN) !== 0],
];
for (const [name, pred] of phases) {
  test(`loss of the copier's ${name} is recovered by retransmission`, () => {
    const drop = dropFirst(pred);
    const sim = new Sim({ target: { app: httpApp({ responseSize: () => 1000 }) }, toTarget: drop });
    const { cap, stream } = twoRequests(41010);
    sim.feed(cap);
    sim.run();
    assert.equal(drop.dropped, 1);
    const c = sim.target.history[0]!;
    assert.equal(c.stream.toString(), stream);
    assert.deepEqual(sim.outcomes(), ['completed']);
    assert.equal(state(c).early, 0);
    assert.equal(c.state === 'closed' || !sim.target.conns.has(`${c.clientIp}:${c.clientPort}`), true);
  });
}

const recordLosses: [string, (p: Buffer) => boolean][] = [
  ['SYN-ACK', (p) => (flagsOf(p) & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)],
  ['first response', (p) => payloadOf(p) > 0],
  ['FIN', (p) => (flagsOf(p) & TCP_FIN) !== 0],
  ['ACK of the first request', (p) => flagsOf(p) === TCP_ACK && payloadOf(p) === 0],
];
for (const [name, pred] of recordLosses) {
  test(`loss of the interceptor record of the target's ${name} is recovered`, () => {
    const drop = dropFirst(pred);
    const sim = new Sim({ target: { app: httpApp({ responseSize: () => 1000 }) }, toEngine: drop });
    const { cap, stream } = twoRequests(41020);
    sim.feed(cap);
    sim.run();
    assert.equal(drop.dropped, 1);
    assert.equal(sim.target.history[0]!.stream.toString(), stream);
    assert.deepEqual(sim.outcomes(), ['completed']);
    assert.equal(state(sim.target.history[0]!).early, 0);
  });
}

test('RST and PSH flags reach the target as captured', () => {
  const seen: number[] = [];
  const sim = new Sim({
    target: { app: httpApp({ responseSize: () => 10 }) },
    toTarget: (_, p) => {
      seen.push(flagsOf(p));
      return [0];
    },
  });
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 41030, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: request('r') }, { recv: 10 }, { rst: true }] }));
  sim.run();
  assert.ok(seen.some((f) => (f & TCP_PSH) !== 0));
  assert.ok(seen.some((f) => (f & TCP_RST) !== 0));
});

test('fast retransmit: a lost segment inside a window is resent on three duplicate ACKs, long before the RTO', () => {
  let dataSeen = 0;
  const sim = new Sim({
    engine: { minRtoUs: 1_000_000, initialRtoUs: 1_000_000 },
    target: { app: httpApp({ responseSize: () => 100, terminator: 'END' }) },
    toTarget: (_, p) => (payloadOf(p) > 0 && ++dataSeen === 3 ? [] : [0]),
  });
  const body = 'F'.repeat(20_000) + 'END';
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 41040, serverIp: ONLINE_SERVER, serverPort: 80, steps: [{ send: body }, { recv: 100 }, { fin: true }] }));
  const t0 = sim.world.now;
  sim.run();
  assert.equal(sim.target.history[0]!.stream.toString(), body);
  assert.equal(sim.engine.stats.fastRetransmits, 1);
  assert.ok(sim.closed[0]!.endUs - t0 < 500_000, 'recovered without waiting for the 1 s RTO');
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('-R fixes the RTT: the RTO is 3 × R (not the 1 s initial RTO) from the first SYN on', () => {
  const synTimes: number[] = [];
  const sim = new Sim({
    engine: { fixedRttUs: 150_000 },
    target: { app: httpApp({ responseSize: () => 100 }) },
    toTarget: (_, p) => {
      if ((flagsOf(p) & TCP_SYN) !== 0) synTimes.push(sim.world.now);
      return (flagsOf(p) & TCP_SYN) !== 0 && synTimes.length === 1 ? [] : [0];
    },
  });
  sim.feed(twoRequests(41041).cap);
  sim.run();
  assert.equal(synTimes.length, 2);
  assert.equal(synTimes[1]! - synTimes[0]!, 450_000);
  assert.deepEqual(sim.outcomes(), ['completed']);
});

test('a target with measured handshakes gets SYN and first data retries after the minimum RTO, an unknown one after the 1 s initial RTO', () => {
  const synTimes: number[] = [];
  const lastDataTimes: number[] = [];
  const sim = new Sim({
    target: { app: httpApp({ responseSize: () => 100 }) },
    toTarget: (_, p) => {
      if (payloadOf(p) > 0 && p.readUInt16BE(20) === 41065) {
        lastDataTimes.push(sim.world.now);
        // The request of the last session (whose SYN was retried) is lost once too.
        return lastDataTimes.length === 1 ? [] : [0];
      }
      if ((flagsOf(p) & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return [0];
      synTimes.push(sim.world.now);
      // The first SYN of the first and of the sixth session is lost.
      if (synTimes.length === 1 || synTimes.length === 7) return [];
      return [0];
    },
  });
  // Six connections 3 s apart, so each handshake is measured before the next one starts.
  const cap = [0, 1, 2, 3, 4, 5].flatMap((i) =>
    captureSession({ clientIp: CLIENT, clientPort: 41060 + i, serverIp: ONLINE_SERVER, serverPort: 80, startUs: 1_000_000 + i * 3_000_000, steps: [{ send: request(`h${i}`) }, { recv: 100 }, { fin: true }] }),
  );
  sim.feed(cap.sort((a, b) => a.tsUs - b.tsUs));
  sim.run();
  assert.equal(synTimes.length, 8);
  // Nothing known yet: RFC 6298's 1 s.
  assert.equal(synTimes[1]! - synTimes[0]!, 1_000_000);
  // Five handshakes later the target's RTT is known (well under 1 ms here): the minimum RTO.
  assert.equal(synTimes[7]! - synTimes[6]!, 200_000);
  // Its own handshake gave no RTT sample (Karn): the target's stands in, not the 1 s initial RTO.
  assert.equal(lastDataTimes.length, 2);
  assert.equal(lastDataTimes[1]! - lastDataTimes[0]!, 200_000);
  assert.deepEqual(sim.outcomes(), Array(6).fill('completed'));
});

test('the target closes a keep-alive connection early (2 requests each): the rest continue on new connections', () => {
  const reqs = [0, 1, 2, 3, 4].map((i) => request(`k${i}`, 150));
  const steps: Step[] = [];
  for (const r of reqs) steps.push({ send: r }, { recv: 500 }, { think: 1000 });
  steps.push({ fin: true });
  const sim = new Sim({ target: { app: httpApp({ responseSize: () => 500, closeAfter: (i) => i === 1 }) } });
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 41050, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run();
  const conns = sim.target.history;
  assert.equal(conns.length, 3);
  assert.deepEqual(conns.map((c) => c.stream.toString()), [reqs[0]! + reqs[1]!, reqs[2]! + reqs[3]!, reqs[4]!]);
  assert.deepEqual(sim.outcomes(), ['reconnected', 'reconnected', 'completed']);
  assert.equal(sim.engine.stats.reconnects, 2);
  assert.equal(sim.target.stats.abortOnData, 0, 'no request was sent into a closed connection');
  assert.equal(new Set(conns.map((c) => c.clientPort)).size, 3);
});

test('the target resets a connection with a request in flight: that request and the rest go on a new connection', () => {
  const reqs = [0, 1, 2, 3].map((i) => request(`z${i}`, 150));
  const steps: Step[] = [];
  for (const r of reqs) steps.push({ send: r }, { recv: 500 });
  steps.push({ fin: true });
  let resets = 0;
  const app = httpApp({ responseSize: () => 500 });
  const sim = new Sim({
    target: {
      app: (c) => {
        const h = app(c);
        return {
          ...h,
          onData: (conn, d) => {
            // The first connection dies when its third request arrives.
            if (resets === 0 && state(conn).requests === 2) {
              resets++;
              conn.reset();
              return;
            }
            h.onData?.(conn, d);
          },
        };
      },
    },
  });
  sim.feed(captureSession({ clientIp: CLIENT, clientPort: 41051, serverIp: ONLINE_SERVER, serverPort: 80, steps }));
  sim.run();
  const conns = sim.target.history;
  assert.equal(conns.length, 2);
  assert.equal(conns[1]!.stream.toString(), reqs[2]! + reqs[3]!);
  assert.equal(state(conns[1]!).requests, 2);
  assert.deepEqual(sim.outcomes(), ['reconnected', 'completed']);
  assert.equal(sim.closed[1]!.info.fromSyn, false);
});
