import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { PcapFileWriter, CaptureFileReader } from '../../../src/io/pcap-file.js';
import type { PcapWriterOptions } from '../../../src/core/capture/pcap-writer.js';
import { parseAll, tcpFrame } from './helpers.js';

const tcpdumpMissing = spawnSync('tcpdump', ['--version']).error !== undefined ? 'tcpdump is not installed' : false;

interface Case {
  opts: PcapWriterOptions;
  frame: (i: number) => Buffer;
}

const CASES: Case[] = [
  { opts: { linkType: 1 }, frame: (i) => tcpFrame(30000 + i, 80, i) },
  { opts: { linkType: 1, precision: 'ns', byteOrder: 'be', snaplen: 65535 }, frame: (i) => tcpFrame(30000 + i, 443, i) },
  { opts: { linkType: 228, precision: 'ns' }, frame: (i) => tcpFrame(30000 + i, 8080, i).subarray(14) },
  { opts: { linkType: 0, byteOrder: 'be' }, frame: (i) => Buffer.concat([Buffer.from([0, 0, 0, 2]), tcpFrame(30000 + i, 22, i).subarray(14)]) },
];

function withTmp(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'capture-writer-'));
  return Promise.resolve(fn(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const ts = (i: number): [number, number] => [1795364886 + i, (i * 123456789) % 1000000000];

for (const c of CASES) {
  const name = `linktype ${c.opts.linkType} ${c.opts.precision ?? 'us'} ${c.opts.byteOrder ?? 'le'}`;

  test(`pcap writer (${name}) → reader round trip through a file`, () =>
    withTmp(async (dir) => {
      const path = join(dir, 'w.pcap');
      const w = new PcapFileWriter(path, { ...c.opts, bufferSize: 65536 });
      // Enough packets to force several flushes of the write buffer.
      for (let i = 0; i < 3000; i++) w.write(...ts(i), c.frame(i % 50));
      w.close();
      assert.equal(w.packetsWritten, 3000);
      let i = 0;
      for await (const r of CaptureFileReader.open(path)) {
        const [sec, nsec] = ts(i);
        assert.equal(r.tsSec, sec);
        assert.equal(r.tsNsec, c.opts.precision === 'ns' ? nsec : Math.floor(nsec / 1000) * 1000);
        assert.equal(r.linkType, c.opts.linkType);
        assert.ok(r.data.equals(c.frame(i % 50)));
        assert.equal(r.l3Kind, 'ipv4');
        i++;
      }
      assert.equal(i, 3000);
      assert.deepEqual(parseAll(readFileSync(path)).records.length, 3000);
    }));

  test(`pcap writer (${name}) → tcpdump -r reads the same packets`, { skip: tcpdumpMissing }, () =>
    withTmp((dir) => {
      const path = join(dir, 'w.pcap');
      const w = new PcapFileWriter(path, c.opts);
      for (let i = 0; i < 20; i++) w.write(...ts(i), c.frame(i));
      w.close();
      const out = spawnSync('tcpdump', ['-tt', '-nn', '--nano', '-r', path], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const lines = out.stdout.trim().split('\n');
      assert.equal(lines.length, 20);
      lines.forEach((line, i) => {
        const [sec, nsec] = ts(i);
        const frac = c.opts.precision === 'ns' ? nsec : Math.floor(nsec / 1000) * 1000;
        assert.ok(line.startsWith(`${sec}.${String(frac).padStart(9, '0')} `), line);
        const port = c.frame(i).readUInt16BE(c.opts.linkType === 1 ? 36 : c.opts.linkType === 0 ? 26 : 22);
        assert.match(line, new RegExp(`10\\.0\\.0\\.1\\.${30000 + i} > 10\\.0\\.0\\.2\\.${port}: Flags`));
      });
    }));
}
