// Cross-check against libpcap itself: packets built here go into a pcap; for each expression
// `tcpdump -r FILE -nn EXPR` lists the packets libpcap selects (identified by their timestamp),
// and our compiled predicate must select exactly the same set. tcpdump -r needs no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { PcapEncoder, LINKTYPE_ETHERNET } from '../../../src/core/capture/index.js';
import { compileFilter } from '../../../src/core/filter/index.js';
import { ETH_LEN, packetCorpus } from './packets.js';

const hasTcpdump = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).status === 0;

const EXPRESSIONS = [
  'host 10.0.0.1',
  'src host 10.0.0.1',
  'dst host 10.0.0.2',
  'host 10.0.0.1 or 1.2.3.4',
  'host 10.0.0.1 and 10.0.0.2',
  'net 10.1',
  'net 10.0.0.0/8',
  'net 10.1.0.0 mask 255.255.0.0',
  'src net 192.168.0.0/16',
  'dst net 172.16',
  'net 10',
  'port 80',
  'tcp port 80',
  'udp port 53',
  'port 80 or 443',
  'tcp port 80 or 443',
  'src port 80',
  'dst port 8080',
  'src or dst port 22',
  'src and dst port 80',
  'portrange 1000-1100',
  'tcp dst portrange 1000-1050',
  'udp src portrange 1100-1000',
  'sctp port 80',
  'tcp',
  'udp',
  'icmp',
  'ip',
  'not tcp',
  '! port 80',
  'tcp and not port 80',
  'host 10.0.0.1 and (port 80 or port 443)',
  'tcp port 80 or 443 and udp',
  'not host 10.0.0.1 and 10.0.0.2',
  '(tcp or udp) && !(src net 10.0.0.0/8 || dst port 53)',
  'ip proto 132',
  'proto 47',
  'src 10.1 or 10.2',
  'dst 5.6.7.8',
  'host 10.0.0.1 or not 5.6.7.8',
  'ip host 1.2.3.4',
  'src and dst net 10.0.0.0/8',
  'port http or domain',
  'port 0x50',
  'not (tcp or udp or icmp)',
];

test('our predicate selects exactly what tcpdump selects', { skip: hasTcpdump ? false : 'tcpdump is not installed' }, () => {
  const packets = packetCorpus();
  const enc = new PcapEncoder({ linkType: LINKTYPE_ETHERNET });
  const T0 = 1_700_000_000;
  const parts = [enc.header()];
  packets.forEach((p, i) => parts.push(enc.record(T0 + i, 0, p.frame.subarray(0, p.capLen), p.frame.length)));
  const dir = mkdtempSync(join(tmpdir(), 'filter-xcheck-'));
  try {
    const file = join(dir, 'corpus.pcap');
    writeFileSync(file, Buffer.concat(parts));
    const mismatches: string[] = [];
    let nonTrivial = 0;
    for (const expr of EXPRESSIONS) {
      const r = spawnSync('tcpdump', ['-r', file, '-nn', '-tt', expr], { encoding: 'utf8', timeout: 20_000 });
      // libpcap's optimiser refuses a filter it proves empty; that is an empty selection.
      const provedEmpty = /expression rejects all packets/.test(r.stderr);
      assert.ok(r.status === 0 || provedEmpty, `tcpdump failed on '${expr}': ${r.stderr}`);
      const theirs = new Set<number>();
      for (const line of r.stdout.split('\n')) {
        const m = /^(\d+)\.\d+ /.exec(line);
        if (m) theirs.add(Number(m[1]) - T0);
      }
      const f = compileFilter(expr);
      const ours = new Set<number>();
      packets.forEach((p, i) => {
        if (f.match(p.frame, ETH_LEN, p.capLen - ETH_LEN)) ours.add(i);
      });
      if (theirs.size > 0 && theirs.size < packets.length) nonTrivial++;
      const onlyOurs = [...ours].filter((i) => !theirs.has(i));
      const onlyTheirs = [...theirs].filter((i) => !ours.has(i));
      if (onlyOurs.length + onlyTheirs.length > 0) {
        const show = (xs: number[]): string => xs.map((i) => `#${i} ${packets[i]?.label ?? ''}`).join('; ');
        mismatches.push(`'${expr}': only ours [${show(onlyOurs)}] only tcpdump [${show(onlyTheirs)}]`);
      }
    }
    assert.deepEqual(mismatches, []);
    // The corpus must discriminate: most expressions select some but not all packets.
    assert.ok(nonTrivial >= EXPRESSIONS.length - 3, `only ${nonTrivial} expressions split the corpus`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
