// The raw IPv4 sink against a real kernel, with each backend (raw-socket, and the project's
// sendmmsg addon when built): handcrafted TCP SYNs from fake client addresses go from a copier
// namespace to a Node TCP server in a target namespace (docs/LAB.md, two-host topology).
//   1. N SYNs: the target's tcpdump sees exactly N, every checksum correct, and the target's
//      kernel answers each one (it drops segments with bad checksums silently); oversize packets
//      mixed in are refused as EMSGSIZE and do not kill the sink (raw-socket: it replaces its
//      socket; sendmmsg: the addon reads the error-queue entry and keeps the socket).
//   2. A burst of 50,000 packets: all of them reach the target (iptables counter), none refused.
//   3. A throttled device (tbf) and a small send buffer: the kernel pushes back (EAGAIN/ENOBUFS),
//      the sink queues and retries, and still every packet arrives.
// The sender runs inside the copier namespace: this file re-runs itself as a child there
// (RAW_SINK_CHILD holds the job), since a Node process cannot switch namespaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { labFor, requireRoot, twoHost, type Lab, type LabProcess, type TwoHost } from '../helpers/lab.js';
import { startNodeServer, tcpdumpRead } from '../helpers/servers.js';
import { RawSink } from '../../src/io/raw-sink.js';
import { RawBatchSink, type BatchSinkStats, type RawSendModule } from '../../src/io/raw-batch-sink.js';
import type { PacketSink, PacketSinkStats, RawSinkBackend } from '../../src/io/packet-sink.js';
import { loadAddon } from '../../src/io/native.js';
import { parseIpv4, TCP_SYN } from '../../src/core/packet/index.js';
import { writeSegment } from '../helpers/packet/build.js';

interface ChildJob {
  backend: RawSinkBackend;
  target: string;
  port: number;
  /** Fake client /24 base, e.g. "10.231.7". */
  fakeBase: string;
  count: number;
  payload: number;
  sendBufferBytes?: number;
  highWater?: number;
  pauseEvery?: number;
  /** Also send an oversize (2,000-byte) packet before every k-th SYN; it must be refused. */
  oversizeEvery?: number;
}

interface ChildReport {
  stats: PacketSinkStats & Partial<BatchSinkStats>;
  results: { sent: number; queued: number; refused: number };
  waitedForDrain: number;
  elapsedMs: number;
}

/** Child: send job.count SYNs built in ONE reused buffer, honouring back-pressure. */
async function childMain(job: ChildJob): Promise<void> {
  const dst = parseIpv4(job.target) as number;
  const fake = parseIpv4(`${job.fakeBase}.0`) as number;
  const opts = { sendBufferBytes: job.sendBufferBytes, highWater: job.highWater };
  const sink: PacketSink = job.backend === 'sendmmsg' ? RawBatchSink.open(opts) : RawSink.open(opts);
  // Exit code 13 = a top-level await never settled: say where the sink was stuck.
  process.on('exit', (code) => {
    if (code !== 0) process.stderr.write(`sink at exit: queue ${sink.queueLength}, writable ${sink.writable}, ${JSON.stringify(sink.stats)}\n`);
  });
  const scratch = Buffer.alloc(2048);
  const payload = Buffer.alloc(job.payload, 0x61);
  const results = { sent: 0, queued: 0, refused: 0 };
  const big = Buffer.alloc(2000);
  const bigLen = writeSegment(big, 0, { src: fake + 251, dst, srcPort: 9, dstPort: job.port, seq: 0, ack: 0, flags: TCP_SYN, window: 1, ipId: 0, payload: Buffer.alloc(1900) });
  let waitedForDrain = 0;
  const t0 = performance.now();
  for (let i = 0; i < job.count; i++) {
    if (!sink.writable) {
      waitedForDrain++;
      const [ev] = await Promise.race([once(sink, 'drain').then(() => ['drain']), once(sink, 'failed')]);
      if (ev !== 'drain') throw new Error(`sink failed: ${String(ev)}`);
    }
    // Optional pacing, so a capturing tcpdump keeps up (it is not what is being tested).
    if (job.pauseEvery !== undefined && i > 0 && i % job.pauseEvery === 0) await new Promise((r) => setTimeout(r, 1));
    if (job.oversizeEvery !== undefined && i % job.oversizeEvery === job.oversizeEvery - 1) {
      results[sink.send(big, 0, bigLen, dst)]++;
      // The error-queue entry it leaves is reported by the poll watcher on a later turn.
      await new Promise((r) => setTimeout(r, 2));
    }
    // Each packet gets a distinct (src, sport); the buffer is overwritten right after send().
    const len = writeSegment(scratch, 0, {
      src: fake + 1 + (i % 250),
      dst,
      srcPort: 10000 + Math.floor(i / 250),
      dstPort: job.port,
      seq: Math.imul(i, 2654435761) >>> 0,
      ack: 0,
      flags: TCP_SYN,
      window: 64240,
      ipId: i & 0xffff,
      payload: job.payload > 0 ? payload : undefined,
    });
    results[sink.send(scratch, 0, len, dst)]++;
  }
  await sink.flush();
  const report: ChildReport = { stats: sink.stats, results, waitedForDrain, elapsedMs: performance.now() - t0 };
  sink.close();
  process.stdout.write(JSON.stringify(report) + '\n');
}

const LISTENER = `
import net from 'node:net';
const server = net.createServer((s) => s.on('error', () => {}));
server.listen({ port: Number(process.argv[2]), backlog: 4096 }, () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
`;

const thisFile = fileURLToPath(import.meta.url);

async function runChild(lab: Lab, ns: string, job: ChildJob, timeoutMs: number): Promise<ChildReport> {
  const proc: LabProcess = lab.spawn(ns, process.execPath, [thisFile], { env: { RAW_SINK_CHILD: JSON.stringify(job) } });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.killSync();
      reject(new Error(`sender did not finish within ${timeoutMs} ms: ${proc.stderr.slice(-2000)}`));
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
}

async function setup(lab: Lab): Promise<Setup> {
  const th = await twoHost(lab);
  const fake = await lab.allocSubnet();
  // Answers to fake clients go back to the copier namespace, which drops them (not local, no forwarding).
  await lab.sysctl(th.target, { 'net.ipv4.tcp_syncookies': '2' });
  const port = 18080;
  await startNodeServer(lab, th.target, LISTENER, port);
  return { th, fakeBase: fake.base, port };
}

/** Packets counted by an iptables rule in the raw table (before conntrack, so cheap at high rate). */
async function addCounter(lab: Lab, ns: string, fakeBase: string, port: number): Promise<() => Promise<number>> {
  const rule = ['-s', `${fakeBase}.0/24`, '-p', 'tcp', '--dport', String(port), '-j', 'DROP'];
  await lab.exec(ns, 'iptables', ['-w', '-t', 'raw', '-I', 'PREROUTING', ...rule]);
  return async () => {
    const out = (await lab.exec(ns, 'iptables', ['-w', '-t', 'raw', '-nvxL', 'PREROUTING'])).stdout;
    const line = out.split('\n').find((l) => l.includes(`${fakeBase}.0/24`) && l.includes('DROP'));
    if (line === undefined) throw new Error(`counter rule not found:\n${out}`);
    return Number(line.trim().split(/\s+/)[0]);
  };
}

const rootSkip = process.env.RAW_SINK_CHILD !== undefined ? 'child mode' : requireRoot();

function addonSkip(): string | false {
  try {
    loadAddon<RawSendModule>('rawsend');
    return false;
  } catch {
    return 'rawsend addon not built (npm run build:native)';
  }
}

if (process.env.RAW_SINK_CHILD !== undefined) {
  await childMain(JSON.parse(process.env.RAW_SINK_CHILD) as ChildJob);
} else {
  for (const backend of ['raw-socket', 'sendmmsg'] as const) {
    const skip = rootSkip || (backend === 'sendmmsg' ? addonSkip() : false);
    test(`[${backend}] N handcrafted SYNs from fake clients: tcpdump sees exactly N, checksums correct, each answered`, { skip, timeout: 120_000 }, async (t) => {
      const lab = await labFor(t, { name: 'rawsink' });
      const { th, fakeBase, port } = await setup(lab);
      const N = 2000;
      const file = join(lab.mkdir('cap'), 'target.pcap');
      // As servers.ts's startTcpdump, plus a 32 MiB ring (-B) so the burst is not dropped by the capture.
      const dumpProc = lab.spawn(th.target, 'tcpdump', ['-i', th.targetIf, '-n', '-U', '--immediate-mode', '-B', '32768', '-s', '0', '-Z', 'root', '-w', file, `tcp port ${port}`]);
      await dumpProc.waitFor(/listening on/, 'stderr', 10_000);
      const dump = { stop: async (): Promise<string> => (await dumpProc.stop('SIGINT', 5000), dumpProc.stderr) };
      const rep = await runChild(lab, th.copier, { backend, target: th.targetIp, port, fakeBase, count: N, payload: 0, pauseEvery: 20, oversizeEvery: 500 }, 60_000);
      // Let the SYN-ACKs of the last SYNs leave before stopping the capture.
      await new Promise((r) => setTimeout(r, 300));
      const summary = await dump.stop();
      assert.match(summary, /^0 packets dropped by kernel/m, summary);
      assert.equal(rep.stats.sent, N);
      // The four oversize packets are refused with their reason; the sink survives the error-queue
      // entry they leave (IP_RECVERR): raw-socket by replacing its socket, the addon by reading it.
      assert.deepEqual(rep.stats.refusedBy, { EMSGSIZE: N / 500 });
      if (backend === 'raw-socket') {
        assert.equal(rep.results.refused, N / 500);
        assert.ok(rep.stats.reopens >= 1, `no socket replacement: ${JSON.stringify(rep.stats)}`);
      } else {
        assert.equal(rep.stats.reopens, 0);
        assert.ok((rep.stats.errQueueBy?.EMSGSIZE ?? 0) >= N / 500, `error queue not read: ${JSON.stringify(rep.stats)}`);
      }

      const text = await tcpdumpRead(lab, file, ['-nn', '-tt', '-vv']);
      // -vv prints two lines per packet: the IP header (with ", bad cksum" when wrong), then the TCP
      // part (with "cksum 0x… (correct)" or "(incorrect -> 0x…)"). The target's own SYN-ACKs leave
      // with checksum offload (partial sums), so only the fake clients' packets are judged.
      const lines = text.split('\n');
      const syns = new Set<string>();
      const synAcks = new Set<string>();
      let synLines = 0;
      const fakeRe = fakeBase.replace(/\./g, '\\.');
      const fromFake = new RegExp(`^\\s+(${fakeRe}\\.\\d+\\.\\d+) > (\\S+): Flags \\[(\\S+)\\], cksum 0x[0-9a-f]+ \\((correct|incorrect)`);
      const toFake = new RegExp(`^\\s+\\S+ > (${fakeRe}\\.\\d+\\.\\d+): Flags \\[S\\.\\]`);
      const bad: string[] = [];
      lines.forEach((l, k) => {
        const m = fromFake.exec(l);
        if (m) {
          if (m[3] !== 'S' || m[4] !== 'correct' || m[2] !== `${th.targetIp}.${port}` || /bad cksum/.test(lines[k - 1] ?? '')) {
            bad.push(`${lines[k - 1] ?? ''} / ${l}`);
          } else {
            synLines++;
            syns.add(m[1] as string);
          }
        }
        const a = toFake.exec(l);
        if (a) synAcks.add(a[1] as string);
      });
      assert.deepEqual(bad.slice(0, 5), [], `${bad.length} packets from fake clients with a wrong checksum or header`);
      assert.equal(synLines, N, 'SYN segments from fake clients with a correct checksum');
      assert.equal(syns.size, N, 'each SYN once, with its own source address and port');
      // The reused buffer did not leak later bytes into earlier packets: every tuple the child
      // generated is present.
      for (const probe of [0, 1, 249, 250, N - 1]) {
        assert.ok(syns.has(`${fakeBase}.${1 + (probe % 250)}.${10000 + Math.floor(probe / 250)}`), `packet ${probe}`);
      }
      assert.equal(synAcks.size, N, 'the target kernel answered every SYN (bad checksums are dropped silently)');
      t.diagnostic(`${N} SYNs in ${rep.elapsedMs.toFixed(0)} ms; queued ${rep.stats.queued}, eagain ${rep.stats.eagain}, enobufs ${rep.stats.enobufs}, socket reopens ${rep.stats.reopens}`);
    });

    test(`[${backend}] a burst of 50,000 packets all reaches the target, none refused`, { skip, timeout: 180_000 }, async (t) => {
      const lab = await labFor(t, { name: 'rawburst' });
      const { th, fakeBase, port } = await setup(lab);
      const count = await addCounter(lab, th.target, fakeBase, port);
      const N = 50_000;
      const rep = await runChild(lab, th.copier, { backend, target: th.targetIp, port, fakeBase, count: N, payload: 0 }, 120_000);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(rep.stats.refused, 0, JSON.stringify(rep.stats.refusedBy));
      assert.equal(rep.stats.sent, N);
      assert.equal(rep.results.sent + rep.results.queued, N);
      assert.equal(await count(), N, 'packets counted at the target');
      t.diagnostic(
        `${N} packets in ${rep.elapsedMs.toFixed(0)} ms (${Math.round(N / (rep.elapsedMs / 1000))}/s); queued ${rep.stats.queued}, eagain ${rep.stats.eagain}, ` +
          `enobufs ${rep.stats.enobufs}, batches ${rep.stats.batches}, crossings ${rep.stats.crossings}`,
      );
    });

    for (const v of [
      { name: 'small send buffer (EAGAIN)', sndbuf: 16_384, tbfLimit: '256kb' },
      { name: 'tiny device queue (ENOBUFS)', sndbuf: 4 * 1024 * 1024, tbfLimit: '4kb' },
    ]) {
      test(`[${backend}] kernel push-back on a throttled device, ${v.name}: queued, retried, nothing lost`, { skip, timeout: 180_000 }, async (t) => {
        const lab = await labFor(t, { name: 'rawslow' });
        const { th, fakeBase, port } = await setup(lab);
        const tc = await lab.exec(th.copier, 'tc', ['qdisc', 'add', 'dev', th.copierIf, 'root', 'tbf', 'rate', '40mbit', 'burst', '16kb', 'limit', v.tbfLimit], { check: false });
        if (tc.code !== 0) {
          t.skip(`tc tbf is not available here: ${tc.stderr.trim()}`);
          return;
        }
        const count = await addCounter(lab, th.target, fakeBase, port);
        const N = 10_000;
        // 10,000 × 240 bytes at 40 Mbit/s ≈ 0.5 s of wire time: the sender is far faster.
        const rep = await runChild(lab, th.copier, { backend, target: th.targetIp, port, fakeBase, count: N, payload: 200, sendBufferBytes: v.sndbuf, highWater: 256 }, 120_000);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(rep.stats.refused, 0, JSON.stringify(rep.stats.refusedBy));
        assert.equal(rep.stats.sent, N);
        assert.ok(rep.stats.eagain + rep.stats.enobufs > 0, `no push-back seen: ${JSON.stringify(rep.stats)}`);
        assert.ok(rep.stats.queued > 0 && rep.waitedForDrain > 0, `the queue and drain path were not used: ${JSON.stringify(rep)}`);
        assert.ok(rep.stats.maxQueueDepth <= 256, `queue exceeded highWater: ${rep.stats.maxQueueDepth}`);
        assert.equal(await count(), N, 'packets counted at the target');
        t.diagnostic(`${N} packets in ${rep.elapsedMs.toFixed(0)} ms; queued ${rep.stats.queued}, eagain ${rep.stats.eagain}, enobufs ${rep.stats.enobufs}, drains ${rep.stats.drains}`);
      });
    }
  }
}
