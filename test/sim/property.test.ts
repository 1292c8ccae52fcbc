import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpApp } from './apps.js';
import { captureSession, mergeCaptures, request, type CapturedPacket, type Step } from './capture.js';
import { ONLINE_SERVER, Sim, ip } from './harness.js';
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
    conns.push({ port, stream, sizes, serverCloses });
    caps.push(cap);
  }
  return { conns, cap: mergeCaptures(...caps) };
}

test('property: under random loss, duplication and reordering of packets and records, every completed session delivered exactly the captured stream', () => {
  let completed = 0;
  let total = 0;
  for (let seed = 1; seed <= 80; seed++) {
    const { conns, cap } = scenario(seed);
    const byPort = new Map(conns.map((c) => [c.port, c]));
    const r = rng(seed * 7919);
    const app = (c: import('./fake-target.js').TargetConn): import('./fake-target.js').AppHandler => {
      const spec = byPort.get(c.clientPort)!;
      return httpApp({ responseSize: (i) => spec.sizes[i] ?? 0, closeAfter: (i) => spec.serverCloses && i === spec.sizes.length - 1 })(c);
    };
    const sim = new Sim({
      engine: { seed, minRtoUs: 20_000, initialRtoUs: 200_000, dataRetries: 15, synRetries: 8 },
      target: { app, rtoUs: 50_000 },
      toTarget: lossy(r, 0.08, 0.03, 0.1),
      toEngine: lossy(r, 0.08, 0.03, 0.1),
    });
    sim.feed(cap);
    sim.run(3_600_000_000);
    assert.equal(sim.closed.length, conns.length, `seed ${seed}: every session has an outcome`);
    for (const cl of sim.closed) {
      total++;
      const spec = byPort.get(cl.onlineClientPort)!;
      const tc = sim.target.history.filter((t) => t.clientPort === cl.clientPort);
      const got = tc.map((t) => t.stream.toString()).join('');
      if (cl.outcome === 'completed') {
        completed++;
        assert.equal(got, spec.stream, `seed ${seed} port ${spec.port}: stream differs`);
      } else {
        if (process.env.SIM_DEBUG) console.log(seed, spec.port, cl.outcome, got.length, spec.stream.length, spec.sizes, spec.serverCloses);
        assert.ok(spec.stream.startsWith(got), `seed ${seed} port ${spec.port} (${cl.outcome}): not a prefix`);
      }
    }
    assert.equal(sim.target.stats.badChecksum, 0);
    // (PAWS drops can happen here: the link itself reorders old packets behind newer ones.)
  }
  assert.ok(completed / total >= 0.99, `completed ${completed} of ${total}`);
  if (process.env.SIM_DEBUG) console.log(`completed ${completed} of ${total}`);
});
