// Codec checks against packets made by the real kernel: traffic recorded on a veth (not lo) with
// checksum offload off, so every checksum on the wire is real. tcpdump vouches for the checksums;
// then every packet is decoded with the capture reader and the packet views, both checksums are
// recomputed with the packet layer, and every header field is compared with tcpdump's own text
// (-nn -tt -vv -S) of the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { createLab, recordingPair, requireRoot, type Lab } from '../helpers/lab.js';
import { record, type Recording } from '../helpers/recorder.js';
import { tcpdumpRead } from '../helpers/servers.js';
import { CaptureFileReader } from '../../src/io/pcap-file.js';
import {
  Ipv4View,
  TcpView,
  classifyIpv4,
  ipToString,
  newTcpOptions,
  parseTcpOptions,
  verifyIpv4Checksum,
  verifyTcpChecksum,
  ipv4HeaderChecksum,
  tcpChecksum,
} from '../../src/core/packet/index.js';

const skip = requireRoot();
const noEditcap = ((): string | false => {
  try {
    execFileSync('editcap', ['-h'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'editcap (wireshark-common/tshark) is not installed';
  }
})();

/** Fields both tcpdump's text and our decoder give for every packet. */
interface PacketFields {
  tsSec: number;
  tsUsec: number;
  tos: number;
  ttl: number;
  id: number;
  fragOffset: number;
  df: boolean;
  ipLength: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  flags: number;
  cksum: number;
}

/** One packet as tcpdump -nn -tt -vv -S prints it (two lines: IP, then TCP). */
interface DumpPacket extends PacketFields {
  cksumVerdict: string;
  seq: number | null;
  ack: number | null;
  win: number;
  options: string | null;
  length: number;
}

// tcpdump's flag letters (print-tcp.c): F S R P . U E W for FIN SYN RST PSH ACK URG ECE CWR.
const FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, '.': 0x10, U: 0x20, E: 0x40, W: 0x80 };

function flagBits(text: string): number {
  if (text === 'none') return 0;
  let bits = 0;
  for (const ch of text) {
    const b = FLAG_BITS[ch];
    assert.ok(b !== undefined, `unknown tcpdump flag ${ch} in [${text}]`);
    bits |= b;
  }
  return bits;
}

const IP_RE = /^(\d+)\.(\d{6}) IP \(tos 0x([0-9a-f]+), ttl (\d+), id (\d+), offset (\d+), flags \[([^\]]*)\], proto TCP \(6\), length (\d+)\)$/;
const TCP_RE =
  /^\s+(\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): Flags \[([^\]]*)\], cksum 0x([0-9a-f]+) \(([^)]*)\), (?:seq (\d+)(?::\d+)?, )?(?:ack (\d+), )?win (\d+), (?:urg \d+, )?(?:options \[([^\]]*)\], )?length (\d+)/;

function parseDump(text: string): DumpPacket[] {
  const lines = text.split('\n');
  const out: DumpPacket[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!/^\d+\.\d+ IP /.test(line)) continue; // continuation lines (HTTP/RESP decodes)
    const ip = IP_RE.exec(line);
    assert.ok(ip, `unparsed tcpdump IP line: ${line}`);
    const tcpLine = lines[++i] ?? '';
    const tcp = TCP_RE.exec(tcpLine);
    assert.ok(tcp, `unparsed tcpdump TCP line: ${tcpLine}`);
    out.push({
      tsSec: Number(ip[1]),
      tsUsec: Number(ip[2]),
      tos: parseInt(ip[3] ?? '', 16),
      ttl: Number(ip[4]),
      id: Number(ip[5]),
      fragOffset: Number(ip[6]),
      df: (ip[7] ?? '').includes('DF'),
      ipLength: Number(ip[8]),
      src: tcp[1] ?? '',
      srcPort: Number(tcp[2]),
      dst: tcp[3] ?? '',
      dstPort: Number(tcp[4]),
      flags: flagBits(tcp[5] ?? ''),
      cksum: parseInt(tcp[6] ?? '', 16),
      cksumVerdict: tcp[7] ?? '',
      seq: tcp[8] === undefined ? null : Number(tcp[8]),
      ack: tcp[9] === undefined ? null : Number(tcp[9]),
      win: Number(tcp[10]),
      options: tcp[11] ?? null,
      length: Number(tcp[12]),
    });
  }
  return out;
}

/** Our parsed options rendered in tcpdump's vocabulary, for a direct comparison. */
interface OptSummary {
  mss: number;
  wscale: number;
  sackOk: boolean;
  ts: [number, number] | null;
  sack: [number, number][];
}

function parseDumpOptions(text: string | null): OptSummary {
  const o: OptSummary = { mss: -1, wscale: -1, sackOk: false, ts: null, sack: [] };
  if (text === null) return o;
  for (const item of text.split(',')) {
    let m: RegExpExecArray | null;
    if ((m = /^mss (\d+)$/.exec(item))) o.mss = Number(m[1]);
    else if ((m = /^wscale (\d+)$/.exec(item))) o.wscale = Number(m[1]);
    else if (item === 'sackOK') o.sackOk = true;
    else if ((m = /^TS val (\d+) ecr (\d+)$/.exec(item))) o.ts = [Number(m[1]), Number(m[2])];
    else if ((m = /^sack \d+ (.*)$/.exec(item))) {
      for (const b of (m[1] ?? '').matchAll(/\{(\d+):(\d+)\}/g)) o.sack.push([Number(b[1]), Number(b[2])]);
    } else assert.ok(item === 'nop' || item === 'eol', `unknown tcpdump option text: ${item}`);
  }
  return o;
}

interface Decoded extends PacketFields {
  seq: number;
  ack: number;
  win: number;
  options: OptSummary;
  length: number;
  ipOk: boolean;
  tcpOk: boolean;
  ipComputed: number;
  tcpComputed: number;
}

/** Decodes every packet of `file` with the capture reader and the packet views. */
function decodeFile(file: string): Decoded[] {
  const reader = CaptureFileReader.open(file);
  const ip = new Ipv4View();
  const tcp = new TcpView();
  const opts = newTcpOptions();
  const out: Decoded[] = [];
  for (const rec of reader) {
    assert.equal(rec.l3Kind, 'ipv4', `packet ${rec.index}: link layer decoded as ${rec.l3Kind}`);
    const ipOff = rec.ipBufOffset;
    const kind = classifyIpv4(rec.buf, ipOff, rec.capLen - rec.ipOffset);
    assert.equal(kind, 'tcp', `packet ${rec.index} classified ${kind}`);
    ip.wrap(rec.buf, ipOff);
    tcp.wrap(rec.buf, ipOff + ip.headerLength);
    parseTcpOptions(rec.buf, tcp.optionsOffset, tcp.optionsOffset + tcp.optionsLength, opts);
    assert.equal(opts.malformed, false, `packet ${rec.index}: options malformed`);
    const sack: [number, number][] = [];
    for (let i = 0; i < opts.sackBlocks; i++) sack.push([opts.sack[2 * i] ?? 0, opts.sack[2 * i + 1] ?? 0]);
    out.push({
      tsSec: rec.tsSec,
      tsUsec: Math.floor(rec.tsNsec / 1000),
      tos: ip.tos,
      ttl: ip.ttl,
      id: ip.id,
      fragOffset: ip.fragOffset,
      df: ip.df,
      ipLength: ip.totalLength,
      src: ipToString(ip.src),
      srcPort: tcp.srcPort,
      dst: ipToString(ip.dst),
      dstPort: tcp.dstPort,
      flags: tcp.flags,
      cksum: tcp.checksum,
      seq: tcp.seq,
      ack: tcp.ack,
      win: tcp.window,
      options: { mss: opts.mss, wscale: opts.wscale, sackOk: opts.sackOk, ts: opts.hasTs ? [opts.tsVal, opts.tsEcr] : null, sack },
      length: ip.totalLength - ip.headerLength - tcp.headerLength,
      ipOk: verifyIpv4Checksum(rec.buf, ipOff),
      tcpOk: verifyTcpChecksum(rec.buf, ipOff),
      ipComputed: ipv4HeaderChecksum(rec.buf, ipOff),
      tcpComputed: tcpChecksum(rec.buf, ipOff),
    });
  }
  assert.deepEqual(reader.warnings, [], 'the capture reader warned');
  return out;
}

let lab: Lab | undefined;
let rec: Recording | undefined;
let dump: DumpPacket[] = [];
let decoded: Decoded[] = [];

test('kernel-made packets: capture, tcpdump and the packet layer agree', { skip }, async (t) => {
  lab = await createLab({ name: 'kcodec' });
  t.after(() => lab?.destroy());
  rec = await record(lab, {
    aliases: 6,
    http: { connections: 12, requestsPerConn: [1, 3, 2], postEvery: 3, postBytes: 4000 },
    redis: { connections: 4, keys: 60, pipelineDepth: 10 },
    greeting: { connections: 3, linesPerConn: 2 },
    rate: 300,
  });
  assert.equal(rec.truth.errors, 0);
  const recording = rec;
  const checksumSkip = recording.pair.checksums ? false : `TX checksum offload could not be turned off (${recording.pair.offloadHow}): the capture holds partial checksums`;

  dump = parseDump(await tcpdumpRead(lab, recording.pcap, ['-nn', '-tt', '-vv', '-S']));
  decoded = decodeFile(recording.pcap);

  await t.test('every packet decodes, one for one with tcpdump', () => {
    assert.ok(decoded.length > 200, `only ${decoded.length} packets`);
    assert.equal(decoded.length, recording.captured);
    assert.equal(dump.length, decoded.length);
  });

  await t.test('tcpdump -vv reports no incorrect checksum', { skip: checksumSkip }, async () => {
    const text = await tcpdumpRead(lab as Lab, recording.pcap, ['-nn', '-vv']);
    assert.doesNotMatch(text, /incorrect|bad cksum/);
    assert.equal(dump.filter((p) => p.cksumVerdict === 'correct').length, dump.length);
  });

  await t.test('the packet layer recomputes and verifies both checksums', { skip: checksumSkip }, () => {
    for (const [i, d] of decoded.entries()) {
      assert.ok(d.ipOk, `packet ${i + 1}: IPv4 header checksum does not verify`);
      assert.ok(d.tcpOk, `packet ${i + 1}: TCP checksum does not verify`);
      assert.equal(d.tcpComputed, d.cksum, `packet ${i + 1}: recomputed TCP checksum`);
      assert.equal(d.tcpComputed, dump[i]?.cksum, `packet ${i + 1}: TCP checksum vs tcpdump`);
    }
  });

  await t.test('a flipped payload or header byte fails verification', { skip: checksumSkip }, () => {
    const reader = CaptureFileReader.open(recording.pcap);
    let checked = 0;
    for (const r of reader) {
      const frame = Buffer.from(r.data);
      const ipOff = r.ipOffset;
      const total = frame.readUInt16BE(ipOff + 2);
      const last = ipOff + total - 1;
      frame[last] = (frame[last] as number) ^ 0x40;
      assert.equal(verifyTcpChecksum(frame, ipOff), false, `packet ${r.index}: corrupted last byte still verifies`);
      frame[ipOff + 8] = (frame[ipOff + 8] as number) ^ 0x01; // TTL
      assert.equal(verifyIpv4Checksum(frame, ipOff), false, `packet ${r.index}: corrupted TTL still verifies`);
      if (++checked === 50) {
        reader.close();
        break;
      }
    }
    assert.equal(checked, 50);
  });

  await t.test('IP and TCP fields match tcpdump -nn -tt -vv -S', () => {
    const seen = { syn: 0, fin: 0, psh: 0, ts: 0, mss: 0, wscale: 0, sackOk: 0, data: 0 };
    for (const [i, d] of decoded.entries()) {
      const p = dump[i] as DumpPacket;
      const where = `packet ${i + 1} (${p.src}.${p.srcPort} > ${p.dst}.${p.dstPort})`;
      assert.deepEqual(
        [d.tsSec, d.tsUsec, d.tos, d.ttl, d.id, d.fragOffset, d.df, d.ipLength],
        [p.tsSec, p.tsUsec, p.tos, p.ttl, p.id, p.fragOffset, p.df, p.ipLength],
        `${where}: IP fields`,
      );
      assert.deepEqual([d.src, d.srcPort, d.dst, d.dstPort], [p.src, p.srcPort, p.dst, p.dstPort], `${where}: endpoints`);
      assert.equal(d.flags, p.flags, `${where}: flags`);
      if (p.seq !== null) assert.equal(d.seq, p.seq, `${where}: seq`);
      if (p.ack !== null) assert.equal(d.ack, p.ack, `${where}: ack`);
      assert.equal(p.ack !== null, (d.flags & 0x10) !== 0, `${where}: ack shown iff ACK set`);
      assert.equal(d.win, p.win, `${where}: window`);
      assert.equal(d.length, p.length, `${where}: payload length`);
      assert.deepEqual(d.options, parseDumpOptions(p.options), `${where}: options`);
      if (d.flags & 0x02) seen.syn++;
      if (d.flags & 0x01) seen.fin++;
      if (d.flags & 0x08) seen.psh++;
      if (d.options.ts) seen.ts++;
      if (d.options.mss >= 0) seen.mss++;
      if (d.options.wscale >= 0) seen.wscale++;
      if (d.options.sackOk) seen.sackOk++;
      if (d.length > 0) seen.data++;
    }
    // The comparison covered every kind of field, not just the easy ones.
    const conns = recording.truth.connections.length;
    assert.equal(seen.syn, 2 * conns, 'SYN + SYN-ACK per connection');
    assert.equal(seen.mss, 2 * conns);
    assert.equal(seen.wscale, 2 * conns);
    assert.equal(seen.sackOk, 2 * conns);
    assert.equal(seen.ts, decoded.length, 'Linux timestamps every segment');
    assert.ok(seen.fin >= 2 * conns && seen.psh > 0 && seen.data > 0);
  });

  await t.test('the same capture as pcapng decodes to the same packets', { skip: noEditcap }, async () => {
    const ng = join((lab as Lab).tmpDir, 'same.pcapng');
    await (lab as Lab).exec(null, 'editcap', ['-F', 'pcapng', recording.pcap, ng]);
    const again = decodeFile(ng);
    assert.deepEqual(again, decoded);
  });
});

test('kernel-made SACK blocks and retransmissions decode like tcpdump says', { skip }, async (t) => {
  const lossLab = await createLab({ name: 'ksack' });
  t.after(() => lossLab.destroy());
  const pair = await recordingPair(lossLab, { aliases: 4 });
  // Drop every 4th full-sized request segment after the capture point (taps run before
  // netfilter): the server sees later segments out of order and answers with SACK blocks.
  await lossLab.exec(pair.server, 'iptables', [
    '-A', 'INPUT', '-p', 'tcp', '--dport', '80', '-m', 'length', '--length', '1000:65535',
    '-m', 'statistic', '--mode', 'nth', '--every', '4', '--packet', '1', '-j', 'DROP',
  ]);
  const lossy = await record(lossLab, {
    pair,
    http: { connections: 8, requestsPerConn: [2], postEvery: 1, postBytes: 6000 },
    rate: 100,
    concurrency: 4,
  });
  assert.equal(lossy.truth.errors, 0, 'TCP recovered every request');
  assert.equal(lossy.nginx?.readAccessLog().length, 16);
  const d = decodeFile(lossy.pcap);
  const p = parseDump(await tcpdumpRead(lossLab, lossy.pcap, ['-nn', '-tt', '-vv', '-S']));
  assert.equal(d.length, p.length);
  let sacks = 0;
  for (const [i, x] of d.entries()) {
    const y = p[i] as DumpPacket;
    assert.deepEqual(x.options, parseDumpOptions(y.options), `packet ${i + 1}: options`);
    assert.deepEqual([x.seq, x.flags, x.win, x.length], [y.seq ?? x.seq, y.flags, y.win, y.length], `packet ${i + 1}`);
    if (pair.checksums) assert.ok(x.ipOk && x.tcpOk, `packet ${i + 1}: checksums`);
    if (x.options.sack.length > 0) sacks++;
  }
  assert.ok(sacks > 0, 'the loss produced SACK blocks to compare');
  // Retransmissions: some client data segment (same seq, same length) appears twice.
  const keys = d.filter((x) => x.dstPort === 80 && x.length > 0).map((x) => `${x.srcPort}/${x.seq}/${x.length}`);
  assert.ok(keys.length > new Set(keys).size, 'retransmitted segments are in the capture');
});
