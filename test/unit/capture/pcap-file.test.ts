import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir } from '../../helpers/paths.js';
import { CaptureFileReader } from '../../../src/io/pcap-file.js';
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
