// The sendmmsg sink (src/io/raw-batch-sink.ts on src/native/rawsend) against a real kernel, in a
// copier namespace sending to a target namespace over a veth (docs/LAB.md, two-host topology).
// What the backend-neutral raw-sink.test.ts does not cover:
//   1. Batches: 1,000 packets sent in one turn to two destinations go out as 4 sendmmsg calls, and
//      the target's tcpdump sees them in the order sent, each at its own destination.
//   2. Refusals by errno inside one batch: EMSGSIZE (oversize, DF clear: raw packets are never
//      fragmented), ENETUNREACH (no route in the copier namespace), EPERM (an iptables DROP in
//      OUTPUT); the other packets arrive, the error queue is read, and the socket keeps working.
//   3. Back-pressure on a slow device with a tiny send buffer: EAGAIN, 'drain', everything
//      delivered — and the process sleeps while it waits (CPU far below wall time: no spinning).
//   4. close() while waiting for writability releases the watcher (the process ends on its own),
//      and an idle sink never keeps the process alive.
//   5. tcpcopy logs the backend it runs on; --raw-backend picks one.
// The sender runs inside the copier namespace: this file re-runs itself as a child there
// (RAW_BATCH_CHILD holds the job), since a Node process cannot switch namespaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { labFor, requireRoot, twoHost, type Lab, type TwoHost } from '../helpers/lab.js';
import { startTcpdump, tcpdumpDropped, tcpdumpRead } from '../helpers/servers.js';
import { RawBatchSink, type BatchSinkStats, type RawSendModule } from '../../src/io/raw-batch-sink.js';
import { loadAddon } from '../../src/io/native.js';
import { parseIpv4, TCP_SYN } from '../../src/core/packet/index.js';
import { writeSegment } from '../helpers/packet/build.js';
import { cliPath, fixturesDir } from '../helpers/paths.js';

type Kind = 'order' | 'refusals' | 'pushback' | 'close' | 'idle';

interface ChildJob {
  kind: Kind;
  target: string;
  /** A second address of the target (order: every other packet goes there). */
  target2?: string;
  port: number;
  /** Fake client /24 base, e.g. "10.231.7". */
  fakeBase: string;
  count: number;
  payload: number;
  sendBufferBytes?: number;
  highWater?: number;
  /** refusals: a destination with no route, and a port the copier's OUTPUT chain drops. */
  unroutable?: string;
  blockedPort?: number;
}

interface ChildReport {
  stats: BatchSinkStats;
  results: { sent: number; queued: number; refused: number };
  waitedForDrain: number;
  elapsedMs: number;
  /** This process's user + system CPU over elapsedMs, µs. */
  cpuUs: number;
  queueAtClose?: number;
}

async function childMain(job: ChildJob): Promise<void> {
  const sink = RawBatchSink.open({ sendBufferBytes: job.sendBufferBytes, highWater: job.highWater });
  const dst = parseIpv4(job.target) as number;
  const dst2 = job.target2 === undefined ? dst : (parseIpv4(job.target2) as number);
  const fake = parseIpv4(`${job.fakeBase}.0`) as number;
  const scratch = Buffer.alloc(4096);
  const payload = Buffer.alloc(job.payload, 0x61);
  const big = Buffer.alloc(1960, 0x62);
  const results = { sent: 0, queued: 0, refused: 0 };
  let waitedForDrain = 0;
  // One reused buffer, rewritten after every send(); seq carries the packet's index.
  const send = (i: number, o: { to?: number; dstPort?: number; oversize?: boolean } = {}): void => {
    const to = o.to ?? dst;
    const len = writeSegment(scratch, 0, {
      src: fake + 1 + (i % 250),
      dst: to,
      srcPort: 10000 + (i % 50000),
      dstPort: o.dstPort ?? job.port,
      seq: i,
      ack: 0,
      flags: TCP_SYN,
      window: 1,
      ipId: i & 0xffff,
      df: o.oversize === true ? false : undefined,
      payload: o.oversize === true ? big : job.payload > 0 ? payload : undefined,
    });
    results[sink.send(scratch, 0, len, to)]++;
  };
  const report = (extra: Partial<ChildReport> = {}): void => {
    const r: ChildReport = { stats: sink.stats, results, waitedForDrain, elapsedMs: performance.now() - t0, cpuUs: cpuOf(process.cpuUsage(c0)), ...extra };
    process.stdout.write(JSON.stringify(r) + '\n');
  };
  const cpuOf = (u: NodeJS.CpuUsage): number => u.user + u.system;
  const c0 = process.cpuUsage();
  const t0 = performance.now();

  if (job.kind === 'order') {
    // All in one turn: the sink cuts them into batches of 256, sent as they fill.
    for (let i = 0; i < job.count; i++) send(i, { to: i % 2 === 0 ? dst : dst2 });
    await sink.flush();
  } else if (job.kind === 'refusals') {
    const unroutable = parseIpv4(job.unroutable ?? '') as number;
    for (let i = 0; i < job.count; i++) {
      const k = i % 10;
      if (k === 3) send(i, { oversize: true });
      else if (k === 5) send(i, { to: unroutable });
      else if (k === 7) send(i, { dstPort: job.blockedPort });
      else send(i);
    }
    await sink.flush();
    // The socket still works on later turns (its error-queue entries were read, not fatal).
    await new Promise((r) => setTimeout(r, 20));
    for (let i = job.count; i < job.count + 10; i++) send(i);
    await sink.flush();
  } else if (job.kind === 'pushback') {
    for (let i = 0; i < job.count; i++) {
      if (!sink.writable) {
        waitedForDrain++;
        const [ev] = await Promise.race([once(sink, 'drain').then(() => ['drain']), once(sink, 'failed')]);
        if (ev !== 'drain') throw new Error(`sink failed: ${String(ev)}`);
      }
      send(i);
    }
    await sink.flush();
  } else if (job.kind === 'close') {
    // Push back, then close while the watcher is armed; the process must still end by itself.
    for (let i = 0; i < job.count && sink.queueLength === 0; i++) send(i);
    const queueAtClose = sink.queueLength;
    sink.close();
    report({ queueAtClose });
    return;
  } else {
    // idle: sent and flushed, never closed.
    for (let i = 0; i < job.count; i++) send(i);
    await sink.flush();
    report();
    return;
  }
  report();
  sink.close();
}

const thisFile = fileURLToPath(import.meta.url);

async function runChild(lab: Lab, ns: string, job: ChildJob, timeoutMs: number): Promise<ChildReport> {
  const proc = lab.spawn(ns, process.execPath, [thisFile], { env: { RAW_BATCH_CHILD: JSON.stringify(job) } });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.killSync();
      reject(new Error(`sender did not end within ${timeoutMs} ms: ${proc.stdout.slice(-1000)} ${proc.stderr.slice(-2000)}`));
    }, timeoutMs);
  });
  try {
    const exit = await Promise.race([proc.exited, timedOut]);
    assert.equal(exit.code, 0, `sender failed: ${proc.stderr.slice(-3000)}`);
  } finally {
    clearTimeout(timer);
  }
  const line = proc.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as ChildReport;
}

interface Setup {
  th: TwoHost;
  fakeBase: string;
  port: number;
  /** Packets from the fake clients to the port, counted (and dropped) at the target. */
  count: () => Promise<number>;
}

async function setup(lab: Lab): Promise<Setup> {
  const th = await twoHost(lab);
  const fake = await lab.allocSubnet();
  const port = 18080;
  // raw PREROUTING: counted before conntrack, and dropped so the target does not answer.
  const rule = ['-s', `${fake.base}.0/24`, '-p', 'tcp', '--dport', String(port), '-j', 'DROP'];
  await lab.exec(th.target, 'iptables', ['-w', '-t', 'raw', '-I', 'PREROUTING', ...rule]);
  const count = async (): Promise<number> => {
    const out = (await lab.exec(th.target, 'iptables', ['-w', '-t', 'raw', '-nvxL', 'PREROUTING'])).stdout;
    const line = out.split('\n').find((l) => l.includes(`${fake.base}.0/24`) && l.includes('DROP'));
    if (line === undefined) throw new Error(`counter rule not found:\n${out}`);
    return Number(line.trim().split(/\s+/)[0]);
  };
  return { th, fakeBase: fake.base, port, count };
}

/** Slows the copier's side of the veth: tc tbf; returns why not when tc cannot. */
async function throttle(lab: Lab, th: TwoHost, rate: string, burst = '4kb'): Promise<string | null> {
  const tc = await lab.exec(th.copier, 'tc', ['qdisc', 'add', 'dev', th.copierIf, 'root', 'tbf', 'rate', rate, 'burst', burst, 'limit', '256kb'], { check: false });
  return tc.code === 0 ? null : tc.stderr.trim();
}

function addonSkip(): string | false {
  try {
    loadAddon<RawSendModule>('rawsend');
    return false;
  } catch {
    return 'rawsend addon not built (npm run build:native)';
  }
}

const skip = process.env.RAW_BATCH_CHILD !== undefined ? 'child mode' : requireRoot() || addonSkip();

if (process.env.RAW_BATCH_CHILD !== undefined) {
  await childMain(JSON.parse(process.env.RAW_BATCH_CHILD) as ChildJob);
} else {
  test('1,000 packets in one turn: 4 sendmmsg calls, delivered in order, each to its own destination', { skip, timeout: 60_000 }, async (t) => {
    const lab = await labFor(t, { name: 'rbatchorder' });
    const { th, fakeBase, port, count } = await setup(lab);
    const target2 = th.subnet.host(3);
    await lab.addAddress(th.target, th.targetIf, `${target2}/24`);
    const dump = await startTcpdump(lab, th.target, th.targetIf, `tcp dst port ${port}`, join(lab.mkdir('cap'), 'order.pcap'));
    const N = 1000;
    const rep = await runChild(lab, th.copier, { kind: 'order', target: th.targetIp, target2, port, fakeBase, count: N, payload: 0 }, 30_000);
    await new Promise((r) => setTimeout(r, 200));
    const summary = await dump.stop();
    assert.equal(tcpdumpDropped(summary), 0, summary);
    assert.equal(rep.stats.sent, N);
    assert.equal(rep.stats.refused, 0, JSON.stringify(rep.stats.refusedBy));
    assert.equal(rep.stats.batches, 4, 'batches of 256, 256, 256, 232');
    assert.equal(rep.stats.crossings, 4, 'one JS→native call per batch');
    assert.equal(rep.stats.sendCalls, 4, 'one sendmmsg per batch');
    assert.equal(await count(), N);
    const text = await tcpdumpRead(lab, dump.file);
    const seen: { seq: number; to: string }[] = [];
    for (const m of text.matchAll(/ > (\d+\.\d+\.\d+\.\d+)\.\d+: Flags \[S\], seq (\d+),/g)) seen.push({ to: m[1] as string, seq: Number(m[2]) });
    assert.equal(seen.length, N, 'every packet captured');
    assert.deepEqual(
      seen.map((s) => s.seq),
      Array.from({ length: N }, (_, i) => i),
      'the order sent',
    );
    const wrong = seen.filter((s) => s.to !== (s.seq % 2 === 0 ? th.targetIp : target2));
    assert.deepEqual(wrong.slice(0, 5), [], 'each packet at the destination given with it');
  });

  test('refusals inside a batch are counted by errno (EMSGSIZE, ENETUNREACH, EPERM); the rest arrives; the socket lives on', { skip, timeout: 60_000 }, async (t) => {
    const lab = await labFor(t, { name: 'rbatchrefuse' });
    const { th, fakeBase, port, count } = await setup(lab);
    const blockedPort = 9;
    await lab.exec(th.copier, 'iptables', ['-w', '-I', 'OUTPUT', '-p', 'tcp', '--dport', String(blockedPort), '-j', 'DROP']);
    const unroutable = '198.51.100.7'; // TEST-NET-2: the copier namespace has no default route
    const N = 100;
    const rep = await runChild(lab, th.copier, { kind: 'refusals', target: th.targetIp, port, fakeBase, count: N, payload: 0, unroutable, blockedPort }, 30_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(rep.stats.refusedBy, { EMSGSIZE: 10, ENETUNREACH: 10, EPERM: 10 });
    assert.equal(rep.results.refused, 0, 'refused by the kernel, after send() took them into the batch');
    assert.equal(rep.stats.sent, 70 + 10);
    assert.equal(await count(), 80, 'the packets that were not refused, and the 10 sent after the refusals');
    assert.ok((rep.stats.errQueueBy.EMSGSIZE ?? 0) >= 10, `error queue: ${JSON.stringify(rep.stats)}`);
    // The watcher woke for the entries (POLLERR) and read them all at once: no wake-up per entry, no spinning.
    assert.ok(rep.stats.pollErrors >= 1 && rep.stats.pollWakeups <= 5, `watcher: ${rep.stats.pollWakeups} wake-ups, ${rep.stats.pollErrors} for errors`);
    assert.equal(rep.stats.batches, 2);
    assert.ok(rep.stats.sendCalls > rep.stats.batches, 'sendmmsg asked again from each refused packet');
    assert.equal(rep.stats.crossings, 2, 'but still one JS→native call per batch');
    t.diagnostic(`sendmmsg calls ${rep.stats.sendCalls}, error queue ${JSON.stringify(rep.stats.errQueueBy)}, watcher wake-ups ${rep.stats.pollWakeups}`);
  });

  test("back-pressure: slow device, tiny send buffer: EAGAIN, 'drain', everything delivered, and no spinning while waiting", { skip, timeout: 90_000 }, async (t) => {
    const lab = await labFor(t, { name: 'rbatchslow' });
    const { th, fakeBase, port, count } = await setup(lab);
    const why = await throttle(lab, th, '400kbit');
    if (why !== null) {
      t.skip(`tc tbf is not available here: ${why}`);
      return;
    }
    // 600 × ~154-byte frames at 400 kbit/s ≈ 1.8 s, most of it spent waiting for writability.
    const N = 600;
    const rep = await runChild(lab, th.copier, { kind: 'pushback', target: th.targetIp, port, fakeBase, count: N, payload: 100, sendBufferBytes: 4096, highWater: 64 }, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rep.stats.refused, 0, JSON.stringify(rep.stats.refusedBy));
    assert.equal(rep.stats.sent, N);
    assert.equal(await count(), N, 'packets counted at the target');
    assert.ok(rep.stats.eagain > 0, `no EAGAIN: ${JSON.stringify(rep.stats)}`);
    assert.ok(rep.stats.drains > 0 && rep.waitedForDrain > 0, `the drain path was not used: ${JSON.stringify(rep)}`);
    assert.ok(rep.stats.maxQueueDepth <= 64, `queue exceeded highWater: ${rep.stats.maxQueueDepth}`);
    assert.ok(rep.elapsedMs > 1000, `the device did not slow the sender down (${rep.elapsedMs.toFixed(0)} ms)`);
    // A sender that spun on EAGAIN would burn a whole core for the whole wait.
    const share = rep.cpuUs / 1000 / rep.elapsedMs;
    assert.ok(share < 0.25, `CPU ${(share * 100).toFixed(1)} % of wall time while waiting`);
    assert.ok(rep.stats.sendCalls <= 3 * N, `${rep.stats.sendCalls} sendmmsg calls for ${N} packets`);
    t.diagnostic(
      `${N} packets in ${rep.elapsedMs.toFixed(0)} ms, CPU ${(rep.cpuUs / 1000).toFixed(0)} ms (${(share * 100).toFixed(1)} %); ` +
        `eagain ${rep.stats.eagain}, drains ${rep.stats.drains}, sendmmsg ${rep.stats.sendCalls}, crossings ${rep.stats.crossings}, watcher wake-ups ${rep.stats.pollWakeups}`,
    );
  });

  test('close() while waiting for writability releases the watcher: the process ends by itself; an idle sink does not hold it either', { skip, timeout: 60_000 }, async (t) => {
    const lab = await labFor(t, { name: 'rbatchclose' });
    const { th, fakeBase, port } = await setup(lab);
    // 1 byte/s after a 2 KB burst: the device stalls for good, so writability never comes back
    // and only close() can release the armed watcher.
    const why = await throttle(lab, th, '8bit', '2kb');
    if (why !== null) {
      t.skip(`tc tbf is not available here: ${why}`);
      return;
    }
    const job = { target: th.targetIp, port, fakeBase, payload: 100, sendBufferBytes: 4096 };
    const closed = await runChild(lab, th.copier, { kind: 'close', count: 1000, ...job }, 10_000);
    assert.ok((closed.queueAtClose ?? 0) > 0, `never pushed back: ${JSON.stringify(closed)}`);
    assert.equal(closed.stats.refusedBy.closed, closed.queueAtClose, 'what waited is refused as closed');
    const idle = await runChild(lab, th.copier, { kind: 'idle', count: 5, ...job }, 10_000);
    assert.equal(idle.stats.sent, 5);
  });

  test('tcpcopy logs its raw backend: sendmmsg by default, raw-socket with --raw-backend raw-socket', { skip, timeout: 60_000 }, async (t) => {
    const lab = await labFor(t, { name: 'rbatchcli' });
    const th = await twoHost(lab);
    // No interceptor (-L): one captured connection is sent and the run ends after --end-grace.
    const args = ['-x', `8080-${th.targetIp}:8080`, '-s', th.targetIp, '-i', join(fixturesDir, 'capture', 'eth.pcap'), '-L', '--end-grace', '100', '--quiet'];
    for (const [extra, line] of [
      [[], /raw socket: sendmmsg backend\n/],
      [['--raw-backend', 'raw-socket'], /raw socket: raw-socket backend \(--raw-backend raw-socket\)/],
    ] as const) {
      const p = lab.spawn(th.copier, process.execPath, [cliPath('tcpcopy'), ...args, ...extra]);
      const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
      assert.ok(exit !== null, `tcpcopy did not end: ${p.stderr.slice(-2000)}`);
      assert.match(p.stderr, line, p.stderr.slice(-2000));
      assert.match(p.stderr, /packets sent \((sendmmsg|raw-socket): \d+ batches, \d+ JS→native calls\)/, p.stderr.slice(-2000));
      for (const l of p.stderr.split('\n').filter((x) => /raw socket:|event loop:/.test(x))) t.diagnostic(l);
    }
  });
}
