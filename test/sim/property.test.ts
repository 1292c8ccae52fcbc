import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpApp } from './apps.js';
import { captureSession, mergeCaptures, request, type CapturedPacket, type Step } from './capture.js';
import { ONLINE_SERVER, Sim, TARGET, TARGET_PORT, ip } from './harness.js';
import { rng, type LinkFaults } from './world.js';

/** Random loss, duplication and reordering (by extra delay) on a link. */
export function lossy(r: () => number, drop: number, dup: number, reorder: number): LinkFaults {
  return () => {
    if (r() < drop) return [];
    const copies = [r() < reorder ? Math.floor(r() * 3000) : 0];
    if (r() < dup) copies.push(Math.floor(r() * 2000));
    return copies;
  };
}

interface Conn {
  port: number;
  stream: string;
  sizes: number[];
  serverCloses: boolean;
  /** The test server closes after this request (keep-alive limit), forcing a reconnect. */
  closeAfter: number;
  answered?: number;
}

export function scenario(seed: number): { conns: Conn[]; cap: CapturedPacket[] } {
  const r = rng(seed);
  const n = 3 + Math.floor(r() * 8);
  const conns: Conn[] = [];
  const caps: CapturedPacket[][] = [];
  for (let k = 0; k < n; k++) {
    const port = 30000 + k;
    const reqs = 1 + Math.floor(r() * 6);
    const serverCloses = r() < 0.3;
    const steps: Step[] = [];
    const sizes: number[] = [];
    let stream = '';
    const pipelined = r() < 0.2;
    for (let i = 0; i < reqs; i++) {
      const q = request(`s${seed}c${k}r${i}`, 60 + Math.floor(r() * (r() < 0.2 ? 20000 : 1500)));
      const size = Math.floor(r() * (r() < 0.2 ? 200_000 : 5000));
      sizes.push(size);
      stream += q;
      steps.push({ send: q, seg: 200 + Math.floor(r() * 1300) });
      if (!pipelined) steps.push({ recv: size }, { think: Math.floor(r() * 20_000) });
    }
    if (pipelined) steps.push({ recv: sizes.reduce((a, b) => a + b, 0) });
    if (serverCloses) steps.push({ serverFin: true });
    steps.push({ fin: true });
    let cap = captureSession({
      clientIp: ip('192.0.2.50'),
      clientPort: port,
      serverIp: ONLINE_SERVER,
      serverPort: 80,
      isn: Math.floor(r() * 2 ** 32),
      serverIsn: Math.floor(r() * 2 ** 32),
      startUs: 1_000_000 + Math.floor(r() * 50_000),
      rttUs: 500 + Math.floor(r() * 5000),
      ts: r() < 0.8,
      steps,
    });
    // The capture itself: a few duplicated (captured retransmissions) and swapped packets.
    if (r() < 0.3) cap = cap.flatMap((p) => (p.kind === 'data' && r() < 0.2 ? [p, { ...p, tsUs: p.tsUs + 5 }] : [p]));
    if (r() < 0.3) {
      for (let i = 2; i + 1 < cap.length; i++) {
        if (cap[i]!.kind === 'data' && cap[i + 1]!.kind === 'data' && r() < 0.3) {
          const a = cap[i]!;
          cap[i] = { ...cap[i + 1]!, tsUs: a.tsUs };
          cap[i + 1] = { ...a, tsUs: cap[i + 1]!.tsUs };
        }
      }
    }
    const closeAfter = r() < 0.2 && reqs > 1 && !pipelined ? Math.floor(r() * (reqs - 1)) : -1;
    conns.push({ port, stream, sizes, serverCloses, closeAfter });
    caps.push(cap);
  }
  return { conns, cap: mergeCaptures(...caps) };
}

test('property: under random loss, duplication and reordering of packets and records, every completed session delivered exactly the captured stream', () => {
  let completed = 0;
  let total = 0;
  let reconnected = 0;
  for (let seed = 1; seed <= 80; seed++) {
    const { conns, cap } = scenario(seed);
    const byPort = new Map(conns.map((c) => [c.port, c]));
    const r = rng(seed * 7919);
    const app = (c: import('./fake-target.js').TargetConn): import('./fake-target.js').AppHandler => {
      // Which captured connection this is: ask the engine (reconnects use other ports).
      const info = sim.engine.sessionFor(c.clientIp, c.clientPort, TARGET, TARGET_PORT);
      const spec = byPort.get(info?.onlineClientPort ?? -1)!;
      // Each new connection of a captured one counts its requests from 0: offset by what the
      // earlier connections of the same capture already answered.
      const answered = spec.answered ?? 0;
      return httpApp({
        responseSize: (i) => spec.sizes[answered + i] ?? 0,
        closeAfter: (i) => {
          spec.answered = answered + i + 1;
          return (spec.serverCloses && answered + i === spec.sizes.length - 1) || answered + i === spec.closeAfter;
        },
      })(c);
    };
    const sim: Sim = new Sim({
      engine: { seed, minRtoUs: 20_000, initialRtoUs: 200_000, dataRetries: 15, synRetries: 8 },
      target: { app, rtoUs: 50_000 },
      toTarget: lossy(r, 0.08, 0.03, 0.1),
      toEngine: lossy(r, 0.08, 0.03, 0.1),
    });
    sim.feed(cap);
    sim.run(3_600_000_000);
    for (const spec of conns) {
      // All sessions of this captured connection, in order (reconnects continue it).
      const mine = sim.closed.filter((c) => c.onlineClientPort === spec.port).sort((a, b) => a.info.id - b.info.id);
      assert.ok(mine.length >= 1, `seed ${seed} port ${spec.port}: no outcome`);
      const got = mine.map((cl) => sim.targetConnOf(cl)?.stream.toString() ?? '').join('');
      const last = mine[mine.length - 1]!;
      total++;
      for (const cl of mine.slice(0, -1)) assert.equal(cl.outcome, 'reconnected', `seed ${seed} port ${spec.port}`);
      if (last.outcome === 'completed') {
        completed++;
        assert.equal(got, spec.stream, `seed ${seed} port ${spec.port}: stream differs`);
      } else {
        if (process.env.SIM_DEBUG) console.log(seed, spec.port, last.outcome, got.length, spec.stream.length, spec.sizes, spec.serverCloses);
        assert.ok(spec.stream.startsWith(got), `seed ${seed} port ${spec.port} (${last.outcome}): not a prefix`);
      }
      if (spec.closeAfter >= 0 && last.outcome === 'completed') reconnected++;
    }
    // (PAWS drops can happen here: the link itself reorders old packets behind newer ones.)
  }
  assert.ok(completed / total >= 0.99, `completed ${completed} of ${total}`);
  if (process.env.SIM_DEBUG) console.log(`completed ${completed} of ${total}, ${reconnected} across reconnects`);
  assert.ok(reconnected > 10, 'the early-close path was exercised');
});
