import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAck, buildData, buildRst, buildSyn } from '../../helpers/packet/build.js';
import { rewriteAck, rewriteDstAddr, rewriteDstPort, rewriteSeq, rewriteTimestamps } from '../../helpers/packet/rewrite.js';
import { timestampOffset } from '../../../src/core/packet/options.js';
import { TCP_ACK, TCP_FIN } from '../../../src/core/packet/tcp.js';
import { kernelPackets } from './fixtures.js';

// Independent check of our checksums and option encoding: tcpdump reads a pcap of packets built
// and rewritten here and must call every checksum correct. tcpdump -r needs no root.
const LINKTYPE_IPV4 = 228;

/** A classic little-endian pcap: 24-byte global header, then 16-byte record header per packet. */
function pcapFile(packets: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(65535, 16); // snaplen
  g.writeUInt32LE(LINKTYPE_IPV4, 20);
  parts.push(g);
  packets.forEach((p, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1_700_000_000 + i, 0);
    r.writeUInt32LE(p.length, 8);
    r.writeUInt32LE(p.length, 12);
    parts.push(r, p);
  });
  return Buffer.concat(parts);
}

const hasTcpdump = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).status === 0;

const base = { src: 0x0a000001, dst: 0x0a000002, srcPort: 40000, dstPort: 80, window: 502, ipId: 4660 };

test('tcpdump -vv finds every checksum of built and rewritten packets correct', { skip: hasTcpdump ? false : 'tcpdump is not installed' }, () => {
  const packets: Buffer[] = [
    buildSyn({ ...base, seq: 4294967000, ack: 0, options: { mss: 1460, sackOk: true, ts: { val: 123, ecr: 0 }, wscale: 7 } }),
    buildSyn({ ...base, seq: 1, ack: 4294967001, flags: TCP_ACK, options: { mss: 1400, wscale: 0 } }),
    buildAck({ ...base, seq: 4294967001, ack: 2, options: { ts: { val: 124, ecr: 99 } } }),
    buildData({ ...base, seq: 4294967001, ack: 2, options: { ts: { val: 125, ecr: 99 } }, payload: Buffer.from('GET / HTTP/1.0\r\n\r\n!') }),
    buildAck({ ...base, seq: 4294967020, ack: 2, options: { ts: { val: 126, ecr: 100 }, sack: [[1000, 2000], [3000, 4000]] } }),
    buildAck({ ...base, seq: 7, ack: 8, flags: TCP_FIN }),
    buildRst({ ...base, seq: 7, ack: 0, window: 0 }),
  ];
  // Kernel packets rewritten incrementally (dst, port, seq, ack, timestamps), as the copier will.
  for (const orig of kernelPackets().slice(0, 12)) {
    const p = Buffer.from(orig);
    rewriteDstAddr(p, 0, 0x0a000063);
    rewriteDstPort(p, 0, 18080);
    rewriteSeq(p, 0, p.readUInt32BE(24) + 0x9e3779b9);
    rewriteAck(p, 0, p.readUInt32BE(28) - 12345);
    const ts = timestampOffset(p, 40, 20 + ((p[32]! >>> 4) << 2));
    rewriteTimestamps(p, 0, ts, 0xfffffffe, 3);
    packets.push(p);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pkt-tcpdump-'));
  try {
    const file = join(dir, 'built.pcap');
    writeFileSync(file, pcapFile(packets));
    const r = spawnSync('tcpdump', ['-nn', '-vv', '-S', '-r', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout;
    assert.doesNotMatch(out, /incorrect|bad cksum|bad opt|\[\|tcp\]/, out);
    assert.equal(out.match(/cksum 0x[0-9a-f]{4} \(correct\)/g)?.length, packets.length, out);
    // Spot-check that tcpdump decodes what we meant to write.
    assert.match(out, /10\.0\.0\.1\.40000 > 10\.0\.0\.2\.80: Flags \[S\], cksum 0x[0-9a-f]+ \(correct\), seq 4294967000, win 502, options \[mss 1460,sackOK,TS val 123 ecr 0,nop,wscale 7\], length 0/);
    assert.match(out, /Flags \[S\.\], .*ack 4294967001, win 502, options \[mss 1400,nop,wscale 0\]/);
    assert.match(out, /Flags \[P\.\], .*seq 4294967001:4294967020, ack 2, .*options \[nop,nop,TS val 125 ecr 99\], length 19/);
    assert.match(out, /options \[nop,nop,TS val 126 ecr 100,nop,nop,sack 2 \{1000:2000\}\{3000:4000\}\]/);
    assert.match(out, /Flags \[F\.\], .*seq 7, ack 8/);
    assert.match(out, /Flags \[R\], .*seq 7, win 0/);
    assert.match(out, /id 4660, offset 0, flags \[DF\], proto TCP \(6\), length 60\)/);
    assert.equal(out.match(/> 10\.0\.0\.99\.18080: .*TS val 4294967294 ecr 3[\],]/g)?.length, 12, 'rewritten kernel packets');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
