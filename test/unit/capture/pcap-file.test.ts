import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir } from '../../helpers/paths.js';
import { CaptureFileReader, PcapFileWriter } from '../../../src/io/pcap-file.js';
import { CaptureError, type CaptureWarning } from '../../../src/core/capture/errors.js';

const eth = join(fixturesDir, 'capture', 'eth.pcap');

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'capture-file-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a CaptureError from the file adapter names the file and the byte offset', () =>
  withTmp(async (dir) => {
    const bytes = Buffer.from(readFileSync(eth));
    bytes.writeUInt32LE(400000, 24 + 8); // first record's caplen
    const path = join(dir, 'bad.pcap');
    writeFileSync(path, bytes);
    await assert.rejects(
      async () => {
        for await (const _ of CaptureFileReader.open(path)) void _;
      },
      (e: unknown) => e instanceof CaptureError && e.source === path && e.offset === 24 && e.message.startsWith(`${path}: byte offset 24: impossible record length`),
    );
    assert.throws(() => {
      for (const _ of CaptureFileReader.open(path)) void _;
    }, CaptureError);
  }));

test('a truncated file delivers every complete packet and reports the warning with its offset', () =>
  withTmp(async (dir) => {
    const bytes = readFileSync(eth);
    const path = join(dir, 'cut.pcap');
    writeFileSync(path, bytes.subarray(0, bytes.length - 7));
    const seen: CaptureWarning[] = [];
    const r = CaptureFileReader.open(path, { onWarning: (w) => seen.push(w) });
    let n = 0;
    let lastOffset = 0;
    for await (const rec of r) {
      n++;
      lastOffset = rec.fileOffset + 16 + rec.capLen;
    }
    assert.equal(n, 11);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.offset, lastOffset);
    assert.equal(seen[0]!.source, path);
    assert.deepEqual(r.warnings, seen);
  }));

test('leaving a for-await loop early closes the file; next() after EOF stays null', async () => {
  const r = CaptureFileReader.open(eth);
  for await (const rec of r) {
    assert.equal(rec.index, 1);
    break;
  }
  assert.equal(await r.next(), null);
  const s = CaptureFileReader.open(eth, { chunkSize: 4096 });
  let n = 0;
  while (s.nextSync() !== null) n++;
  assert.equal(n, 12);
  assert.equal(s.nextSync(), null);
  assert.equal(s.format, 'pcap');
});

test('opening a missing file or a directory fails with the path in the message', () => {
  assert.throws(() => CaptureFileReader.open('/nonexistent/x.pcap'), /\/nonexistent\/x\.pcap/);
  assert.throws(() => CaptureFileReader.open(fixturesDir), /is a directory/);
});

/** index + frame bytes of every record left in the reader (sync reads). */
function drainSync(r: CaptureFileReader): string[] {
  const out: string[] = [];
  for (let rec = r.nextSync(); rec !== null; rec = r.nextSync()) out.push(`${rec.index} ${Buffer.from(rec.data).toString('hex')}`);
  return out;
}

/** The same through the async fill() loop the copier's source uses. */
async function drainAsync(r: CaptureFileReader): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    for (let rec = r.nextBuffered(); rec !== null; rec = r.nextBuffered()) out.push(`${rec.index} ${Buffer.from(rec.data).toString('hex')}`);
    if (!(await r.fill())) return out;
  }
}

/** A pcap of `n` raw-IPv4 records of 200 bytes each (numbered), bigger than one 4 KiB chunk. */
function writeNumbered(path: string, n: number): void {
  const w = new PcapFileWriter(path, { linkType: 101 });
  for (let i = 0; i < n; i++) {
    const pkt = Buffer.alloc(200, i & 0xff);
    pkt[0] = 0x45;
    pkt.writeUInt16BE(200, 2);
    w.write(1000 + i, 0, pkt);
  }
  w.close();
}

test('rewindable: stays open at EOF, rewind() restarts at record 1 with the same records (same open file)', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'many.pcap');
    writeNumbered(path, 60);
    const r = CaptureFileReader.open(path, { chunkSize: 4096, rewindable: true });
    const first = drainSync(r);
    assert.equal(first.length, 60);
    assert.ok(first[0]!.startsWith('1 45'));
    assert.ok(first[59]!.startsWith('60 '));
    assert.equal(r.nextSync(), null, 'EOF stays EOF until rewind');
    assert.equal(await r.fill(), false);
    // The name is gone but the descriptor is not: the runs after the first read the open file.
    unlinkSync(path);
    r.rewind();
    assert.equal(r.bytesRead, 0);
    assert.deepEqual(await drainAsync(r), first);
    r.rewind();
    assert.deepEqual(drainSync(r), first);
    assert.equal(r.format, 'pcap');
    r.close();
    assert.throws(() => r.rewind(), /cannot rewind a closed capture file/);
  }));

test('rewindable: the fixture reads the same after a rewind, with the same file offsets', () => {
  const r = CaptureFileReader.open(eth, { rewindable: true });
  const offsets = (): number[] => {
    const o: number[] = [];
    for (let rec = r.nextSync(); rec !== null; rec = r.nextSync()) o.push(rec.fileOffset);
    return o;
  };
  const a = offsets();
  assert.equal(a.length, 12);
  assert.equal(a[0], 24);
  r.rewind();
  assert.deepEqual(offsets(), a);
  r.close();
});

test('not rewindable: the reader closes itself at EOF (rewind() then throws, naming the file)', () => {
  const r = CaptureFileReader.open(eth);
  assert.equal(drainSync(r).length, 12);
  assert.throws(
    () => r.rewind(),
    (e: unknown) => e instanceof Error && e.message === `${eth}: cannot rewind a closed capture file`,
  );
  assert.equal(r.nextSync(), null);
  const s = CaptureFileReader.open(eth, { rewindable: true });
  s.close();
  assert.throws(() => s.rewind(), /cannot rewind a closed capture file/);
});
