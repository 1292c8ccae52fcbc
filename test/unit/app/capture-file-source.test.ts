import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaptureFileOpenError, CaptureFileSource, type CaptureFileSourceOptions } from '../../../src/app/source/capture-file-source.js';
import type { FeedResult, PacketConsumer, SourceEvents, SourceProgress } from '../../../src/app/source/packet-source.js';
import { usToSecNsec } from '../../../src/core/capture/pcap-writer.js';
import { compileFilter } from '../../../src/core/filter/index.js';
import { fillIpv4Checksum, parseIpv4, TCP_ACK, TCP_PSH, TCP_SYN, verifyIpv4Checksum, verifyTcpChecksum } from '../../../src/core/packet/index.js';
import type { Transfer } from '../../../src/core/transfer.js';
import { PcapFileWriter } from '../../../src/io/pcap-file.js';
import { buildSegment } from '../../helpers/packet/build.js';
import { fixturesDir } from '../../helpers/paths.js';

function ip(s: string): number {
  const v = parseIpv4(s);
  if (v === null) throw new Error(`bad test address ${s}`);
  return v;
}

const CLIENT = ip('10.0.0.1');
const SERVER = ip('10.0.0.2');
const STRANGER = ip('10.0.0.9');
const T0 = 1_700_000_000_123_456; // capture epoch µs
const START = 5_000_000; // the copier's clock at start()
const ETH = 14;
const LOOP_SEQ_STEP = 0x9e3779b9n;

/** -x 443 (any address) then -x 10.0.0.2:80: the packets replayed here are transfer 1. */
const TRANSFERS: Transfer[] = [
  { onlineIp: null, onlinePort: 443, targetIp: ip('10.9.9.9'), targetPort: 443 },
  { onlineIp: SERVER, onlinePort: 80, targetIp: ip('10.9.9.9'), targetPort: 8080 },
];

function ether(ipPacket: Buffer, ethertype = 0x0800): Buffer {
  const h = Buffer.alloc(ETH);
  Buffer.from('020000000002020000000001', 'hex').copy(h);
  h.writeUInt16BE(ethertype, 12);
  return Buffer.concat([h, ipPacket]);
}

function tcp(o: { src?: number; dst?: number; sport?: number; dport?: number; seq: number; flags: number; payload?: string | Buffer }): Buffer {
  return ether(
    buildSegment({
      src: o.src ?? CLIENT,
      dst: o.dst ?? SERVER,
      srcPort: o.sport ?? 40000,
      dstPort: o.dport ?? 80,
      seq: o.seq,
      ack: 7000,
      flags: o.flags,
      window: 502,
      ipId: o.seq & 0xffff,
      payload: typeof o.payload === 'string' ? Buffer.from(o.payload) : o.payload,
    }),
  );
}

function udpTo53(): Buffer {
  const f = tcp({ dport: 53, seq: 1, flags: TCP_ACK });
  f[ETH + 9] = 17;
  fillIpv4Checksum(f, ETH);
  return f;
}

const ARP = ether(Buffer.alloc(28, 1), 0x0806);

interface Rec {
  /** µs after T0. */
  at: number;
  frame: Buffer;
  /** Bytes on the wire when more than the frame (a snap length cut it). */
  origLen?: number;
}

/**
 * The standard capture: 3 packets replayed (SYN, ACK, data with an odd-length payload), and one
 * packet for each reason not to: no IPv4, not TCP, TCP to no -x port, rejected by -F.
 */
const STANDARD: Rec[] = [
  { at: 0, frame: ARP },
  { at: 0, frame: tcp({ seq: 1000, flags: TCP_SYN }) },
  { at: 100, frame: udpTo53() },
  { at: 200, frame: tcp({ dport: 22, seq: 5, flags: TCP_ACK }) },
  { at: 1000, frame: tcp({ seq: 1001, flags: TCP_ACK }) },
  { at: 1500, frame: tcp({ src: STRANGER, seq: 9, flags: TCP_SYN }) },
  { at: 50_000, frame: tcp({ seq: 1001, flags: TCP_ACK | TCP_PSH, payload: 'GET / HTTP/1.0\r\n\r\n!' }) },
];
const STANDARD_USED = [1, 4, 6];
const FILTER = 'not src host 10.0.0.9';

function writeCapture(path: string, recs: readonly Rec[]): void {
  const w = new PcapFileWriter(path, { linkType: 1 });
  for (const r of recs) {
    const [sec, nsec] = usToSecNsec(T0 + r.at);
    w.write(sec, nsec, r.frame, r.origLen ?? r.frame.length);
  }
  w.close();
}

function tmpDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'capture-source-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What the consumer got: a copy of the IP packet (buf is only valid during the call). */
interface Got {
  ip: Buffer;
  ipOff: number;
  tsUs: number;
  idx: number;
}

class Consumer implements PacketConsumer {
  accepting = true;
  readonly got: Got[] = [];
  /** Stop accepting after this many packets (−1: never). */
  pauseAfter = -1;

  packet(buf: Buffer, ipOff: number, capLen: number, tsUs: number, transferIdx: number): void {
    this.got.push({ ip: Buffer.from(buf.subarray(ipOff, ipOff + capLen)), ipOff, tsUs, idx: transferIdx });
    if (this.got.length === this.pauseAfter) this.accepting = false;
  }

  seqs(): number[] {
    return this.got.map((g) => g.ip.readUInt32BE(((g.ip[0] as number) & 15) * 4 + 4));
  }
}

/** SourceEvents that count, and let a driver await the next event. */
class Events implements SourceEvents {
  wakes = 0;
  endedCalls = 0;
  readonly infos: string[] = [];
  readonly errors: string[] = [];
  /** Called inside info()/ended(), e.g. to sample progress at a run boundary. */
  onInfo: () => void = () => undefined;
  onEnded: () => void = () => undefined;
  private resolve: (() => void) | null = null;

  /** Resolves at the next wake, ended or error. */
  next(): Promise<void> {
    return new Promise((r) => (this.resolve = r));
  }
  wake(): void {
    this.wakes++;
    this.signal();
  }
  info(message: string): void {
    this.infos.push(message);
    this.onInfo();
  }
  ended(): void {
    this.endedCalls++;
    this.onEnded();
    this.signal();
  }
  error(message: string): void {
    this.errors.push(message);
    this.signal();
  }
  private signal(): void {
    const r = this.resolve;
    this.resolve = null;
    r?.();
  }
}

async function openSource(path: string, over: Partial<CaptureFileSourceOptions> = {}): Promise<{ src: CaptureFileSource; ev: Events }> {
  const ev = new Events();
  const src = await CaptureFileSource.open({
    path,
    transfers: TRANSFERS,
    filter: compileFilter(FILTER),
    pacing: { fastest: true },
    onWarning: () => undefined,
    events: ev,
    ...over,
  });
  return { src, ev };
}

/**
 * Feeds like the copier: again at once after 'more', at nextReleaseUs after 'wait' (a fake clock),
 * after the next event after 'io'; returns every result up to 'done'.
 */
async function drive(src: CaptureFileSource, ev: Events, c: Consumer, now = START, afterFeed: () => void = () => undefined): Promise<FeedResult[]> {
  const results: FeedResult[] = [];
  for (let guard = 0; guard < 100_000; guard++) {
    const signal = ev.next();
    const r = src.feed(now, c);
    afterFeed();
    results.push(r);
    if (r === 'done') return results;
    if (r === 'io') await signal;
    else if (r === 'wait') now = src.nextReleaseUs;
    else assert.notEqual(r, 'paused', 'the consumer was accepting');
  }
  throw new Error('the source never ended');
}

// ───────────── open ─────────────

test('open(): a missing file, a directory, an empty file and garbage are CaptureFileOpenErrors saying what is wrong', async (t) => {
  const dir = tmpDir(t);
  const missing = join(dir, 'nope.pcap');
  await assert.rejects(openSource(missing), (e: unknown) => e instanceof CaptureFileOpenError && e.message === `${missing}: ENOENT`);

  const sub = join(dir, 'sub.pcap');
  mkdirSync(sub);
  await assert.rejects(openSource(sub), (e: unknown) => e instanceof CaptureFileOpenError && e.message === `${sub}: not a regular file`);

  const empty = join(dir, 'empty.pcap');
  writeFileSync(empty, '');
  await assert.rejects(openSource(empty), (e: unknown) => e instanceof CaptureFileOpenError && /byte offset 0: empty file/.test(e.message));

  const garbage = join(dir, 'garbage.pcap');
  writeFileSync(garbage, 'this is not a capture file, just some text\n');
  await assert.rejects(
    openSource(garbage),
    (e: unknown) => e instanceof CaptureFileOpenError && e.message.startsWith(`${garbage}: byte offset 0: bad magic 0x74686973`),
  );

  // A good header with an impossible first record: the offset is the record's.
  const good = join(dir, 'good.pcap');
  writeCapture(good, STANDARD);
  const bytes = readFileSync(good);
  bytes.writeUInt32LE(0x7fffffff, 24 + 8);
  const bad = join(dir, 'bad-record.pcap');
  writeFileSync(bad, bytes);
  await assert.rejects(
    openSource(bad),
    (e: unknown) => e instanceof CaptureFileOpenError && e.message.startsWith(`${bad}: byte offset 24: impossible record length`),
  );
});

// ───────────── feed ─────────────

test('--rate: only the selected packets, with their transfer index and capture times, all due at once', async (t) => {
  const path = join(tmpDir(t), 'std.pcap');
  writeCapture(path, STANDARD);
  const { src, ev } = await openSource(path);
  assert.equal(src.description, `capture file ${path}`);
  assert.equal(src.pausable, true);
  assert.equal(src.ended, false);
  src.start(START);
  const c = new Consumer();
  const results = await drive(src, ev, c);
  assert.ok(!results.includes('wait'), `nothing waits with --rate: ${results.join(' ')}`);
  assert.deepEqual(
    c.got.map((g) => [g.idx, g.tsUs]),
    STANDARD_USED.map((i) => [1, T0 + (STANDARD[i] as Rec).at]),
  );
  // The packet handed over is exactly the captured IP packet (ipOff past the Ethernet header).
  STANDARD_USED.forEach((i, k) => assert.deepEqual(c.got[k]?.ip, (STANDARD[i] as Rec).frame.subarray(ETH)));
  assert.ok(c.got.every((g) => g.ipOff >= ETH));
  assert.deepEqual(c.seqs(), [1000, 1001, 1001]);
  assert.equal(ev.endedCalls, 1);
  assert.equal(src.ended, true);
  assert.deepEqual(ev.errors, []);
  assert.deepEqual(ev.infos, []);
});

test('-a 1: a packet not yet due gives wait, nextReleaseUs = start + its capture offset', async (t) => {
  const path = join(tmpDir(t), 'std.pcap');
  writeCapture(path, STANDARD);
  const { src, ev } = await openSource(path, { pacing: { acceleration: 1 } });
  src.start(START);
  const c = new Consumer();
  assert.equal(src.feed(START, c), 'wait');
  assert.deepEqual(c.seqs(), [1000]);
  assert.equal(src.nextReleaseUs, START + 1000);
  assert.equal(src.feed(START + 999, c), 'wait', 'one µs early is still early');
  assert.equal(c.got.length, 1);
  assert.equal(src.feed(START + 1000, c), 'wait');
  assert.deepEqual(c.seqs(), [1000, 1001]);
  assert.equal(src.nextReleaseUs, START + 50_000);
  // Late is fine: the packet goes, and its capture time is still its own.
  const rest = await drive(src, ev, c, START + 60_000);
  assert.deepEqual(c.seqs(), [1000, 1001, 1001]);
  assert.equal(c.got[2]?.tsUs, T0 + 50_000);
  assert.ok(!rest.includes('wait'));
  assert.equal(src.nextReleaseUs, Infinity);
  assert.equal(ev.endedCalls, 1);
});

test('-a 4: offsets are divided by the acceleration', async (t) => {
  const path = join(tmpDir(t), 'std.pcap');
  writeCapture(path, STANDARD);
  const { src } = await openSource(path, { pacing: { acceleration: 4 } });
  src.start(START);
  const c = new Consumer();
  assert.equal(src.feed(START, c), 'wait');
  assert.equal(src.nextReleaseUs, START + 250);
  assert.equal(src.feed(START + 250, c), 'wait');
  assert.equal(src.nextReleaseUs, START + 12_500);
  src.close();
});

test('a consumer that stops accepting gets paused, and nothing is lost or repeated afterwards', async (t) => {
  const path = join(tmpDir(t), 'std.pcap');
  writeCapture(path, STANDARD);
  const { src, ev } = await openSource(path);
  src.start(START);
  const c = new Consumer();
  c.pauseAfter = 1;
  assert.equal(src.feed(START, c), 'paused');
  assert.equal(src.feed(START, c), 'paused');
  assert.deepEqual(c.seqs(), [1000]);
  c.accepting = true;
  await drive(src, ev, c);
  assert.deepEqual(c.seqs(), [1000, 1001, 1001]);
  assert.equal(src.totals().packetsUsed, 3);
});

test('paused while a paced packet waits: it stays due at its time and is delivered once accepted', async (t) => {
  const path = join(tmpDir(t), 'std.pcap');
  writeCapture(path, STANDARD);
  const { src } = await openSource(path, { pacing: { acceleration: 1 } });
  src.start(START);
  const c = new Consumer();
  assert.equal(src.feed(START, c), 'wait');
  c.accepting = false;
  assert.equal(src.feed(START + 1000, c), 'paused');
  assert.equal(src.nextReleaseUs, START + 1000);
  assert.equal(c.got.length, 1);
  c.accepting = true;
  assert.equal(src.feed(START + 1000, c), 'wait');
  assert.deepEqual(c.seqs(), [1000, 1001]);
  src.close();
});

/** A file bigger than the reader's 1 MiB chunk: `n` data packets, seq = i. */
function writeBig(path: string, n: number): void {
  const payload = Buffer.alloc(1000, 0x61);
  writeCapture(
    path,
    Array.from({ length: n }, (_, i) => ({ at: i, frame: tcp({ seq: i, flags: TCP_ACK | TCP_PSH, payload }) })),
  );
}

test('io: an empty buffer gives io, the background read wakes the copier, ended comes exactly once', async (t) => {
  const path = join(tmpDir(t), 'big.pcap');
  const n = 2000;
  writeBig(path, n);
  assert.ok(statSync(path).size > 2 * 1024 * 1024, 'three reads of 1 MiB');
  const { src, ev } = await openSource(path);
  src.start(START);
  const c = new Consumer();
  const results = await drive(src, ev, c);
  assert.equal(c.got.length, n);
  assert.deepEqual(c.seqs(), Array.from({ length: n }, (_, i) => i));
  assert.ok(results.includes('more'), 'a full batch says more');
  assert.ok(results.filter((r) => r === 'io').length >= 2, `a chunk boundary and the end: ${results.join(' ')}`);
  assert.ok(ev.wakes >= 1);
  assert.equal(ev.endedCalls, 1);
  // Feeding after the end changes nothing and does not end it again.
  assert.equal(src.feed(START, c), 'done');
  await sleep(10);
  assert.equal(src.feed(START, c), 'done');
  assert.equal(ev.endedCalls, 1);
  assert.equal(c.got.length, n);
  assert.deepEqual(ev.errors, []);
});

// ───────────── -T runs ─────────────

test('-T 3: the same open file three times, later runs with their sequence space shifted and valid checksums', async (t) => {
  const path = join(tmpDir(t), 'std.pcap');
  writeCapture(path, STANDARD);
  const size = statSync(path).size;
  const { src, ev } = await openSource(path, { pacing: { fastest: true, loops: 3 } });
  const boundaries: SourceProgress[] = [];
  ev.onInfo = () => boundaries.push(src.progress());
  ev.onEnded = () => boundaries.push(src.progress());
  const p0 = src.progress();
  src.start(START);
  const c = new Consumer();
  const samples: SourceProgress[] = [p0];
  await drive(src, ev, c, START, () => samples.push(src.progress()));

  assert.deepEqual(ev.infos, [`run 1 of 3 done; replaying ${path} again`, `run 2 of 3 done; replaying ${path} again`]);
  assert.equal(ev.endedCalls, 1);
  const tot = src.totals();
  assert.equal(tot.runsDone, 3);
  assert.equal(tot.runs, 3);
  assert.equal(tot.packetsUsed, 3 * STANDARD_USED.length);
  assert.equal(tot.packetsRead, 3 * STANDARD.length);
  assert.equal(c.got.length, 9);

  const per = STANDARD_USED.length;
  for (let k = 0; k < 3; k++) {
    for (let j = 0; j < per; j++) {
      const base = c.got[j] as Got;
      const g = c.got[k * per + j] as Got;
      assert.equal(g.idx, 1);
      assert.equal(g.tsUs, base.tsUs, 'capture times are the capture times in every run');
      const seq0 = BigInt(base.ip.readUInt32BE(24));
      assert.equal(g.ip.readUInt32BE(24), Number((seq0 + BigInt(k) * LOOP_SEQ_STEP) % 2n ** 32n), `run ${k + 1} packet ${j}`);
      assert.ok(verifyTcpChecksum(g.ip, 0), `TCP checksum of run ${k + 1} packet ${j}`);
      assert.ok(verifyIpv4Checksum(g.ip, 0));
      // Only seq and the TCP checksum differ from run 1.
      const a = Buffer.from(g.ip);
      const b = Buffer.from(base.ip);
      for (const x of [a, b]) x.fill(0, 24, 28).fill(0, 36, 38);
      assert.deepEqual(a, b);
    }
  }
  assert.notEqual(c.got[per]?.ip.readUInt32BE(24), c.got[0]?.ip.readUInt32BE(24));

  // Progress over the runs: k/3 at each run boundary, 1 at the end, never backwards.
  assert.equal(p0.loop, 0);
  assert.equal(p0.loops, 3);
  assert.equal(p0.totalBytes, size);
  assert.ok(p0.bytes < size);
  assert.equal(p0.fraction, p0.bytes / (3 * size));
  assert.deepEqual(
    boundaries.map((p) => [p.fraction, p.loop, p.bytes]),
    [
      [1 / 3, 1, 0],
      [2 / 3, 2, 0],
      [1, 2, size],
    ],
  );
  const last = src.progress();
  assert.equal(last.fraction, 1);
  assert.equal(last.bytes, size);
  assert.equal(last.totalBytes, size);
  assert.equal(last.packets, 3 * STANDARD.length);
  assert.equal(last.packetsUsed, 9);
  assert.equal(last.drops, 0);
  const fr = samples.map((p) => p.fraction as number);
  for (let i = 1; i < fr.length; i++) assert.ok((fr[i] as number) >= (fr[i - 1] as number), `progress went back: ${fr.join(' ')}`);
});

test('-T 2 with -a 1: the second run is paced again after the first', async (t) => {
  const path = join(tmpDir(t), 'std.pcap');
  writeCapture(path, STANDARD);
  const { src, ev } = await openSource(path, { pacing: { acceleration: 1, loops: 2 } });
  src.start(START);
  const c = new Consumer();
  const due: number[] = [];
  let now = START;
  for (let guard = 0; guard < 1000 && !src.ended; guard++) {
    const signal = ev.next();
    const before = c.got.length;
    const r = src.feed(now, c);
    if (c.got.length > before) due.push(now);
    if (r === 'io') await signal;
    else if (r === 'wait') now = src.nextReleaseUs;
  }
  assert.equal(c.got.length, 6);
  // Run 2 starts where run 1 ended (its last release), then keeps the capture gaps.
  assert.deepEqual(due, [START, START + 1000, START + 50_000, START + 50_000, START + 51_000, START + 100_000]);
});

// ───────────── totals ─────────────

test('totals(): why packets were not replayed, where they went instead, truncated records', async (t) => {
  const path = join(tmpDir(t), 'mix.pcap');
  const recs: Rec[] = [
    ...STANDARD,
    { at: 60_000, frame: tcp({ dport: 22, seq: 6, flags: TCP_ACK }) },
    { at: 60_001, frame: tcp({ dport: 22, seq: 7, flags: TCP_ACK }) },
    { at: 60_002, frame: tcp({ dst: ip('10.0.0.3'), dport: 80, seq: 8, flags: TCP_ACK }) },
    // Cut by the snap length: one replayed, one not.
    { at: 70_000, frame: tcp({ seq: 1020, flags: TCP_ACK }), origLen: 1514 },
    { at: 70_001, frame: tcp({ dport: 25, seq: 1, flags: TCP_ACK }), origLen: 1514 },
  ];
  writeCapture(path, recs);
  const { src, ev } = await openSource(path);
  src.start(START);
  const c = new Consumer();
  await drive(src, ev, c);
  assert.deepEqual(src.totals(), {
    packetsRead: recs.length,
    packetsUsed: 4,
    nonIpv4: 1,
    filteredOut: 1,
    notMatched: 6,
    truncatedRecords: 1,
    drops: 0,
    runsDone: 1,
    runs: 1,
    unmatchedDestinations: [
      ['10.0.0.2:22', 3],
      ['10.0.0.3:80', 1],
      ['10.0.0.2:25', 1],
    ],
  });
  assert.deepEqual(c.seqs(), [1000, 1001, 1001, 1020]);
});

test('no -F: the packet -F rejected before is replayed', async (t) => {
  const path = join(tmpDir(t), 'std.pcap');
  writeCapture(path, STANDARD);
  const { src, ev } = await openSource(path, { filter: null });
  src.start(START);
  const c = new Consumer();
  await drive(src, ev, c);
  assert.deepEqual(c.seqs(), [1000, 1001, 9, 1001]);
  assert.equal(src.totals().filteredOut, 0);
});

// ───────────── close and failure ─────────────

test('close() while a packet waits: feed says done and delivers nothing more', async (t) => {
  const path = join(tmpDir(t), 'std.pcap');
  writeCapture(path, STANDARD);
  const { src, ev } = await openSource(path, { pacing: { acceleration: 1 } });
  src.start(START);
  const c = new Consumer();
  assert.equal(src.feed(START, c), 'wait');
  src.close();
  assert.equal(src.feed(START + 1e9, c), 'done');
  assert.equal(c.got.length, 1);
  assert.equal(ev.endedCalls, 0);
});

test('close() during a background read: no wake, no end, no error afterwards; feed says done', async (t) => {
  const path = join(tmpDir(t), 'big.pcap');
  writeBig(path, 1500);
  const { src, ev } = await openSource(path);
  src.start(START);
  const c = new Consumer();
  let r: FeedResult;
  do r = src.feed(START, c);
  while (r === 'more');
  assert.equal(r, 'io');
  const got = c.got.length;
  src.close();
  await sleep(50);
  assert.equal(ev.wakes, 0);
  assert.equal(ev.endedCalls, 0);
  assert.deepEqual(ev.errors, []);
  assert.equal(src.feed(START, c), 'done');
  assert.equal(c.got.length, got);
});

// feed() used to let the parser's CaptureError out, which crashed the copier's event loop.
test('a corrupt record in mid-file is reported through events.error (feed does not throw)', async (t) => {
  const dir = tmpDir(t);
  const good = join(dir, 'good.pcap');
  writeCapture(good, STANDARD);
  const bytes = readFileSync(good);
  // Record 3 (the UDP packet): header after the pcap header and records 1 and 2.
  const third = 24 + 16 + ARP.length + 16 + (STANDARD[1] as Rec).frame.length;
  bytes.writeUInt32LE(0x7fffffff, third + 8);
  const path = join(dir, 'corrupt.pcap');
  writeFileSync(path, bytes);
  const { src, ev } = await openSource(path);
  src.start(START);
  const c = new Consumer();
  let r: FeedResult | 'threw' = 'threw';
  try {
    r = src.feed(START, c);
  } catch (err) {
    assert.fail(`feed threw: ${(err as Error).message}`);
  }
  assert.equal(r, 'done');
  assert.deepEqual(c.seqs(), [1000]);
  assert.equal(ev.errors.length, 1);
  assert.ok((ev.errors[0] as string).startsWith(`${path}: byte offset ${third}: impossible record length`), ev.errors[0]);
  assert.equal(src.feed(START, c), 'done', 'a failed source stays failed');
  assert.equal(ev.errors.length, 1);
  assert.equal(ev.endedCalls, 0);
});

test('a pcapng file cut inside its last block: the read error goes to events.error once, never ended()', async (t) => {
  const whole = readFileSync(join(fixturesDir, 'capture', 'eth.pcapng'));
  const path = join(tmpDir(t), 'cut.pcapng');
  writeFileSync(path, whole.subarray(0, whole.length - 5));
  const { src, ev } = await openSource(path, { pacing: { fastest: true, loops: 2 } });
  src.start(START);
  const c = new Consumer();
  const results = await drive(src, ev, c);
  assert.deepEqual(results.slice(-2), ['io', 'done']);
  assert.equal(ev.errors.length, 1);
  assert.ok((ev.errors[0] as string).startsWith(`${path}: byte offset `), ev.errors[0]);
  assert.match(ev.errors[0] as string, /runs past the end of the file/);
  assert.equal(src.feed(START, c), 'done');
  await sleep(10);
  assert.equal(ev.errors.length, 1);
  assert.equal(ev.endedCalls, 0, 'a failed file is not a finished one');
  assert.equal(src.totals().runsDone, 0);
});
