/**
 * Decode benchmark: the capture reader + IPv4/TCP header decoding vs `tcpdump -r FILE -w
 * /dev/null 'tcp'` on the same file. Run through scripts/bench/decode (builds first).
 *
 *   node dist/scripts/bench/decode.js [--packets N] [--runs R] [--file F] [--keep] [--small]
 *
 * Without --file it generates a synthetic Ethernet capture in /tmp (removed unless --keep):
 * 1,000 interleaved TCP connections (SYN, data both ways, pure ACKs, FIN) of mixed segment sizes,
 * plus ~10% UDP and ARP that the 'tcp' filter must reject (--small: all TCP segments 66 bytes). Each reader runs R times on a warm
 * page cache; the best run counts.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { CaptureFileReader, PcapFileWriter } from '../../src/io/pcap-file.js';
import { classifyIpv4 } from '../../src/core/packet/classify.js';
import { Ipv4View } from '../../src/core/packet/ipv4.js';
import { TcpView, TCP_SYN } from '../../src/core/packet/tcp.js';

interface Args {
  packets: number;
  runs: number;
  file: string | null;
  keep: boolean;
  small: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { packets: 1_200_000, runs: 3, file: null, keep: false, small: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === '--packets' && v !== undefined) {
      a.packets = Number(v);
      i++;
    } else if (k === '--runs' && v !== undefined) {
      a.runs = Number(v);
      i++;
    } else if (k === '--file' && v !== undefined) {
      a.file = v;
      i++;
    } else if (k === '--keep') a.keep = true;
    else if (k === '--small') a.small = true;
    else throw new Error(`unknown argument ${k}; accepted: --packets N, --runs R, --file PATH, --keep, --small`);
  }
  if (!Number.isInteger(a.packets) || a.packets < 1) throw new Error('--packets takes a positive integer');
  return a;
}

// ---- synthetic capture ----

function frame(size: number, proto: number): Buffer {
  const f = Buffer.alloc(size);
  f.writeUInt16BE(proto === 0 ? 0x0806 : 0x0800, 12);
  if (proto === 0) return f; // ARP: contents do not matter to either reader
  f[14] = 0x45;
  f.writeUInt16BE(size - 14, 16);
  f[22] = 64;
  f[23] = proto;
  f.writeUInt32BE(0x0a000001, 26);
  f.writeUInt32BE(0x0a000002, 30);
  if (proto === 6) {
    f[46] = 0x80; // data offset 8 words: 12 bytes of options (NOP NOP TS)
    f.set([1, 1, 8, 10], 54);
  }
  return f;
}

interface Generated {
  tcp: number;
  syn: number;
}

function generate(path: string, packets: number, small: boolean): Generated {
  const w = new PcapFileWriter(path, { linkType: 1, bufferSize: 1 << 20 });
  // ACKs, full segments, small writes; --small: only 66-byte segments (per-packet cost dominates).
  const sizes = small ? [66] : [66, 66, 66, 66, 1514, 1514, 1514, 314, 590];
  const templates = sizes.map((s) => frame(s, 6));
  const udp = frame(90, 17);
  const arp = frame(60, 0);
  const flows = 1000;
  const seqs = new Uint32Array(flows);
  let tcp = 0;
  let syn = 0;
  let sec = 1795364886;
  let nsec = 0;
  for (let i = 0; i < packets; i++) {
    nsec += 7919;
    if (nsec >= 1e9) {
      nsec -= 1e9;
      sec++;
    }
    const r = i % 10;
    if (r === 9) {
      w.write(sec, nsec, i % 20 === 9 ? arp : udp);
      continue;
    }
    const flow = (i * 7) % flows;
    const t = templates[(i >>> 3) % templates.length]!;
    const toServer = (i & 1) === 0;
    t.writeUInt32BE(toServer ? 0x0a000001 : 0x0a000002, 26);
    t.writeUInt32BE(toServer ? 0x0a000002 : 0x0a000001, 30);
    t.writeUInt16BE(toServer ? 10000 + flow : 80, 34);
    t.writeUInt16BE(toServer ? 80 : 10000 + flow, 36);
    t.writeUInt32BE(seqs[flow]!, 38);
    seqs[flow] = (seqs[flow]! + t.length - 66) >>> 0;
    const isSyn = seqs[flow] === 0 || i % 997 === 0;
    t[47] = isSyn ? TCP_SYN : 0x18;
    if (isSyn) syn++;
    tcp++;
    w.write(sec, nsec, t);
  }
  w.close();
  return { tcp, syn };
}

// ---- readers ----

interface Result {
  packets: number;
  tcp: number;
  syn: number;
  portSum: number;
  seconds: number;
}

const ip = new Ipv4View();
const tcpView = new TcpView();

/** Per packet: link decode (in the reader), classify, then read the IPv4 and TCP fields. */
function readAll(path: string, mode: 'sync' | 'fill'): Promise<Result> | Result {
  const res: Result = { packets: 0, tcp: 0, syn: 0, portSum: 0, seconds: 0 };
  const reader = CaptureFileReader.open(path);
  const t0 = process.hrtime.bigint();
  const drain = (): void => {
    for (let r = reader.nextBuffered(); r !== null; r = reader.nextBuffered()) {
      res.packets++;
      if (r.l3Kind !== 'ipv4') continue;
      const ipOff = r.dataOffset + r.ipOffset;
      if (classifyIpv4(r.buf, ipOff, r.capLen - r.ipOffset) !== 'tcp') continue;
      ip.wrap(r.buf, ipOff);
      tcpView.wrap(r.buf, ipOff + ip.headerLength);
      res.tcp++;
      res.portSum += tcpView.srcPort + tcpView.dstPort + (ip.src & 1) + (ip.totalLength & 1);
      if ((tcpView.flags & TCP_SYN) !== 0 && tcpView.seq >= 0 && tcpView.ack >= 0) res.syn++;
    }
  };
  const finish = (): Result => {
    res.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return res;
  };
  if (mode === 'sync') {
    do drain();
    while (reader.fillSync());
    return finish();
  }
  return (async () => {
    do drain();
    while (await reader.fill());
    return finish();
  })();
}

/** Same decoding with direct byte reads instead of classify + views, to show what the views cost. */
function readDirect(path: string): Result {
  const res: Result = { packets: 0, tcp: 0, syn: 0, portSum: 0, seconds: 0 };
  const reader = CaptureFileReader.open(path);
  const t0 = process.hrtime.bigint();
  do {
    for (let r = reader.nextBuffered(); r !== null; r = reader.nextBuffered()) {
      res.packets++;
      if (r.l3Kind !== 'ipv4') continue;
      const b = r.buf;
      const o = r.dataOffset + r.ipOffset;
      const avail = r.capLen - r.ipOffset;
      const hl = (b[o]! & 0x0f) << 2;
      // The checks classifyIpv4 makes that matter for this file: TCP, unfragmented, header present.
      if (avail < hl + 20 || b[o + 9] !== 6 || (((b[o + 6]! << 8) | b[o + 7]!) & 0x3fff) !== 0) continue;
      const t = o + hl;
      res.tcp++;
      res.portSum += ((b[t]! << 8) | b[t + 1]!) + ((b[t + 2]! << 8) | b[t + 3]!) + (b[o + 15]! & 1) + (b[o + 3]! & 1);
      if ((b[t + 13]! & TCP_SYN) !== 0) res.syn++;
    }
  } while (reader.fillSync());
  res.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return res;
}

/** The reader alone (record framing + link-layer decode), to separate it from header decoding. */
function readOnly(path: string): Result {
  const res: Result = { packets: 0, tcp: 0, syn: 0, portSum: 0, seconds: 0 };
  const reader = CaptureFileReader.open(path);
  const t0 = process.hrtime.bigint();
  do {
    for (let r = reader.nextBuffered(); r !== null; r = reader.nextBuffered()) {
      res.packets++;
      res.portSum += r.ipOffset;
    }
  } while (reader.fillSync());
  res.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return res;
}

async function readAsyncIterator(path: string): Promise<Result> {
  const res: Result = { packets: 0, tcp: 0, syn: 0, portSum: 0, seconds: 0 };
  const t0 = process.hrtime.bigint();
  for await (const r of CaptureFileReader.open(path)) {
    res.packets++;
    if (r.l3Kind !== 'ipv4') continue;
    const ipOff = r.dataOffset + r.ipOffset;
    if (classifyIpv4(r.buf, ipOff, r.capLen - r.ipOffset) !== 'tcp') continue;
    tcpView.wrap(r.buf, ipOff + ip.wrap(r.buf, ipOff).headerLength);
    res.tcp++;
    res.portSum += tcpView.srcPort + tcpView.dstPort;
    if ((tcpView.flags & TCP_SYN) !== 0) res.syn++;
  }
  res.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return res;
}

function tcpdump(path: string): number | string {
  const probe = spawnSync('tcpdump', ['--version']);
  if (probe.error !== undefined) return 'tcpdump not installed';
  const t0 = process.hrtime.bigint();
  const r = spawnSync('tcpdump', ['-r', path, '-w', '/dev/null', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) return `tcpdump failed: ${String(r.stderr).trim()}`;
  return s;
}

async function best<T extends { seconds: number }>(runs: number, f: () => Promise<T> | T): Promise<T> {
  let b: T | null = null;
  for (let i = 0; i < runs; i++) {
    const r = await f();
    if (b === null || r.seconds < b.seconds) b = r;
  }
  return b!;
}

function row(cells: string[]): string {
  const widths = [62, 10, 9, 13, 9, 7];
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const path = args.file ?? join(tmpdir(), `tcpcopy-decode-bench-${process.pid}.pcap`);
  let expected: Generated | null = null;
  try {
    if (args.file === null) {
      const t0 = process.hrtime.bigint();
      expected = generate(path, args.packets, args.small);
      process.stderr.write(`generated ${args.packets} packets in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s: ${path}\n`);
    }
    const size = statSync(path).size;
    spawnSync('cat', [path], { stdio: 'ignore' }); // warm the page cache for both readers
    const results: [string, Result][] = [
      ['tcpcopy-ts: CaptureFileReader sync fill + classify + views', await best(args.runs, () => readAll(path, 'sync'))],
      ['tcpcopy-ts: CaptureFileReader async fill + classify + views', await best(args.runs, () => readAll(path, 'fill'))],
      ['tcpcopy-ts: for await (rec of reader) + classify + views', await best(args.runs, () => readAsyncIterator(path))],
      ['tcpcopy-ts: reader sync fill + direct byte reads (no views)', await best(args.runs, () => readDirect(path))],
      ['tcpcopy-ts: reader sync fill, link decode only (no IPv4/TCP)', await best(args.runs, () => readOnly(path))],
    ];
    const first = results[0]![1];
    for (const [name, r] of results) {
      if (name.includes('link decode only')) continue;
      if (r.packets !== first.packets || (r.tcp !== first.tcp && !name.includes('link decode only'))) throw new Error(`${name}: decoded ${r.packets}/${r.tcp}, expected ${first.packets}/${first.tcp}`);
    }
    if (expected !== null && (first.tcp !== expected.tcp || first.syn !== expected.syn)) {
      throw new Error(`decoded ${first.tcp} TCP / ${first.syn} SYN, generator wrote ${expected.tcp} / ${expected.syn}`);
    }
    const mb = size / 1048576;
    console.log(`file: ${path} (${mb.toFixed(1)} MiB, ${first.packets} packets, ${first.tcp} IPv4/TCP); best of ${args.runs} runs, warm cache`);
    console.log(row(['reader', 'packets', 'seconds', 'packets/s', 'MB/s', 'ratio']));
    let tdSeconds = Infinity;
    let tdNote = '';
    for (let i = 0; i < args.runs; i++) {
      const t = tcpdump(path);
      if (typeof t === 'string') {
        tdNote = t;
        break;
      }
      tdSeconds = Math.min(tdSeconds, t);
    }
    for (const [name, r] of results) {
      const ratio = Number.isFinite(tdSeconds) ? `${(tdSeconds / r.seconds).toFixed(2)}x` : '-';
      console.log(row([name, String(r.packets), r.seconds.toFixed(3), Math.round(r.packets / r.seconds).toLocaleString('en-US'), (mb / r.seconds).toFixed(0), ratio]));
    }
    if (Number.isFinite(tdSeconds)) {
      console.log(row(["tcpdump -r FILE -w /dev/null 'tcp' (process wall time)", String(first.packets), tdSeconds.toFixed(3), Math.round(first.packets / tdSeconds).toLocaleString('en-US'), (mb / tdSeconds).toFixed(0), '1.00x']));
      console.log('ratio = tcpdump seconds / our seconds (> 1: faster than tcpdump)');
    } else {
      console.log(`tcpdump: ${tdNote}`);
    }
  } finally {
    if (args.file === null && !args.keep) rmSync(path, { force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
