import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { fixturesDir } from '../../helpers/paths.js';
import { CaptureFileReader } from '../../../src/io/pcap-file.js';
import { parseAll, type RecordSnapshot } from './helpers.js';

// Expected values come from independent tools, written next to each fixture by
// make-fixtures.sh: `tcpdump -tt -nn -e --nano -r F` (F.tcpdump.txt) and, for the multi-section
// file libpcap cannot read, tshark fields (multi.pcapng.tshark.txt).
const dir = join(fixturesDir, 'capture');

interface Expected {
  tsSec: number;
  tsNsec: number;
  kind: string | null; // null: not checked (tshark fields)
  ports: [number, number] | null;
  addrs: [string, string] | null;
  vlans: number[];
  interfaceId: number | null;
}

function parseTimestamp(t: string): [number, number] {
  const [s, f = ''] = t.split('.');
  return [Number(s), Number(f.padEnd(9, '0'))];
}

const PORTS = /(\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): /;
const IPV4 = /\d+\.\d+\.\d+\.\d+(\.\d+)? > \d+\.\d+\.\d+\.\d+(\.\d+)?: /;

function tcpdumpExpectations(file: string): Expected[] {
  const lines = readFileSync(join(dir, `${file}.tcpdump.txt`), 'utf8').split('\n').filter((l) => l !== '');
  return lines.map((line) => {
    const [tsSec, tsNsec] = parseTimestamp(line.slice(0, line.indexOf(' ')));
    const m = PORTS.exec(line);
    const kind = /ARP/.test(line) ? 'arp' : IPV4.test(line) ? 'ipv4' : 'other';
    const vlans = [...line.matchAll(/vlan (\d+), p/g)].map((v) => Number(v[1]));
    return {
      tsSec,
      tsNsec,
      kind,
      ports: m ? [Number(m[2]), Number(m[4])] : null,
      addrs: m ? [m[1]!, m[3]!] : null,
      vlans,
      interfaceId: 0,
    };
  });
}

function tsharkExpectations(file: string): Expected[] {
  const lines = readFileSync(join(dir, `${file}.tshark.txt`), 'utf8').split('\n').filter((l) => l !== '');
  return lines.map((line) => {
    const [ts = '', ifId = '', sp = '', dp = ''] = line.split(' ');
    // A simple packet block has no timestamp: tshark prints none, the reader reports 0.
    const [tsSec, tsNsec] = ts === '' ? [0, 0] : parseTimestamp(ts);
    return {
      tsSec,
      tsNsec,
      kind: null,
      ports: sp === '' ? null : [Number(sp), Number(dp)],
      addrs: null,
      vlans: [],
      interfaceId: Number(ifId),
    };
  });
}

const ip = (b: Buffer, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

function checkAgainst(name: string, recs: RecordSnapshot[], exp: Expected[]): void {
  assert.equal(recs.length, exp.length, `${name}: packet count`);
  recs.forEach((r, i) => {
    const e = exp[i]!;
    const where = `${name} packet ${i + 1}`;
    assert.equal(r.tsSec, e.tsSec, `${where}: tsSec`);
    assert.equal(r.tsNsec, e.tsNsec, `${where}: tsNsec`);
    assert.equal(r.tsUs, e.tsSec * 1e6 + Math.floor(e.tsNsec / 1000), `${where}: tsUs`);
    if (e.kind !== null) assert.equal(r.l3Kind, e.kind, `${where}: l3Kind`);
    if (e.interfaceId !== null) assert.equal(r.interfaceId, e.interfaceId, `${where}: interfaceId`);
    assert.deepEqual(r.vlans, e.vlans, `${where}: VLAN ids`);
    if (e.ports !== null) {
      const data = Buffer.from(r.data, 'hex');
      assert.ok(r.ipOffset >= 0, `${where}: ipOffset`);
      assert.equal(data[r.ipOffset]! >> 4, 4, `${where}: IPv4 version at ipOffset`);
      assert.equal(data[r.ipOffset + 9], 6, `${where}: protocol TCP`);
      const tcp = r.ipOffset + (data[r.ipOffset]! & 0x0f) * 4;
      assert.deepEqual([data.readUInt16BE(tcp), data.readUInt16BE(tcp + 2)], e.ports, `${where}: TCP ports`);
      if (e.addrs !== null) assert.deepEqual([ip(data, r.ipOffset + 12), ip(data, r.ipOffset + 16)], e.addrs, `${where}: addresses`);
    }
  });
}

interface FixtureSpec {
  file: string;
  format: 'pcap' | 'pcapng';
  linkTypes: number[]; // per packet when mixed; one value = all packets
  nanoFile: boolean; // whether the file stores sub-microsecond digits
  ipOffset: number | null; // expected for IPv4 packets (null: varies)
}

const FIXTURES: FixtureSpec[] = [
  { file: 'eth.pcap', format: 'pcap', linkTypes: [1], nanoFile: false, ipOffset: 14 },
  { file: 'eth-nano.pcap', format: 'pcap', linkTypes: [1], nanoFile: true, ipOffset: 14 },
  { file: 'eth-swapped.pcap', format: 'pcap', linkTypes: [1], nanoFile: false, ipOffset: 14 },
  { file: 'sll.pcap', format: 'pcap', linkTypes: [113], nanoFile: false, ipOffset: 16 },
  { file: 'sll2.pcap', format: 'pcap', linkTypes: [276], nanoFile: false, ipOffset: 20 },
  { file: 'vlan.pcap', format: 'pcap', linkTypes: [1], nanoFile: false, ipOffset: 18 },
  { file: 'qinq.pcap', format: 'pcap', linkTypes: [1], nanoFile: false, ipOffset: 22 },
  { file: 'raw.pcap', format: 'pcap', linkTypes: [101], nanoFile: false, ipOffset: 0 },
  { file: 'raw-ipv4.pcap', format: 'pcap', linkTypes: [228], nanoFile: false, ipOffset: 0 },
  { file: 'null.pcap', format: 'pcap', linkTypes: [0], nanoFile: false, ipOffset: 4 },
  { file: 'loop.pcap', format: 'pcap', linkTypes: [108], nanoFile: false, ipOffset: 4 },
  { file: 'eth.pcapng', format: 'pcapng', linkTypes: [1], nanoFile: false, ipOffset: 14 },
  { file: 'eth-nano.pcapng', format: 'pcapng', linkTypes: [1], nanoFile: true, ipOffset: 14 },
  { file: 'eth-be.pcapng', format: 'pcapng', linkTypes: [1], nanoFile: true, ipOffset: 14 },
  // Section 1 (LE): Ethernet; section 2 (BE): SLL2 (if 0, 2^-20 s) and raw IPv4 (if 1, ns), then an SPB.
  { file: 'multi.pcapng', format: 'pcapng', linkTypes: [1, 1, 1, 1, 1, 1, 276, 228, 276, 228, 276, 228, 276, 228, 276], nanoFile: true, ipOffset: null },
];

export const FIXTURE_FILES = FIXTURES.map((f) => f.file);

for (const f of FIXTURES) {
  test(`fixture ${f.file}: matches ${f.file === 'multi.pcapng' ? 'tshark' : 'tcpdump'} packet by packet`, () => {
    const bytes = readFileSync(join(dir, f.file));
    const { records, warnings } = parseAll(bytes, bytes.length, f.file);
    assert.deepEqual(warnings, []);
    const exp = f.file === 'multi.pcapng' ? tsharkExpectations(f.file) : tcpdumpExpectations(f.file);
    assert.ok(exp.length >= 10, 'fixture has packets');
    checkAgainst(f.file, records, exp);
    records.forEach((r, i) => {
      const lt = f.linkTypes.length === 1 ? f.linkTypes[0] : f.linkTypes[i];
      assert.equal(r.linkType, lt, `${f.file} packet ${i + 1}: link type`);
      if (f.ipOffset !== null && r.l3Kind === 'ipv4') assert.equal(r.ipOffset, f.ipOffset, `${f.file} packet ${i + 1}: ipOffset`);
      assert.equal(r.index, i + 1);
    });
    if (!f.nanoFile) assert.ok(records.every((r) => r.tsNsec % 1000 === 0), 'microsecond file');
    else assert.ok(records.some((r) => r.tsNsec % 1000 !== 0), 'nanosecond digits present');
    // Record offsets are strictly increasing and start after the file header.
    for (let i = 1; i < records.length; i++) assert.ok(records[i]!.fileOffset > records[i - 1]!.fileOffset);
    if (f.format === 'pcap') assert.equal(records[0]!.fileOffset, 24);
  });

  test(`fixture ${f.file}: identical records for chunk sizes 1, 2, 3, 7, 64, 4096`, () => {
    const bytes = readFileSync(join(dir, f.file));
    const whole = parseAll(bytes);
    for (const chunk of [1, 2, 3, 7, 64, 4096]) assert.deepEqual(parseAll(bytes, chunk), whole, `chunk ${chunk}`);
  });

  test(`fixture ${f.file}: the file adapter (sync and async) yields the same records`, async () => {
    const whole = parseAll(readFileSync(join(dir, f.file)));
    const sync: number[][] = [];
    for (const r of CaptureFileReader.open(join(dir, f.file), { chunkSize: 4096 })) sync.push([r.tsSec, r.tsNsec, r.capLen, r.fileOffset, r.ipOffset]);
    const asyncRecs: number[][] = [];
    for await (const r of CaptureFileReader.open(join(dir, f.file))) asyncRecs.push([r.tsSec, r.tsNsec, r.capLen, r.fileOffset, r.ipOffset]);
    const expected = whole.records.map((r) => [r.tsSec, r.tsNsec, r.capLen, r.fileOffset, r.ipOffset]);
    assert.deepEqual(sync, expected);
    assert.deepEqual(asyncRecs, expected);
  });
}
