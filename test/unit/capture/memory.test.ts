import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Buffer } from 'node:buffer';
import { PcapEncoder } from '../../../src/core/capture/pcap-writer.js';
import { CaptureParser } from '../../../src/core/capture/reader.js';
import { tcpFrame } from './helpers.js';

// Exposes gc() without a command-line flag so the baseline and samples are comparable.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test('streaming ~200 MB of pcap keeps memory bounded (nothing is retained per packet)', { timeout: 30_000 }, () => {
  // A period of records of varied sizes, repeated; chunk boundaries never line up with records.
  const enc = new PcapEncoder({ linkType: 1 });
  const period = Buffer.concat(Array.from({ length: 97 }, (_, i) => enc.record(1795364886 + i, i * 1000, tcpFrame(1024 + i, 80, (i * 131) % 1400))));
  const header = enc.header();
  const total = 200 * 1024 * 1024;
  const chunk = Buffer.allocUnsafe(65536 + 13);

  gc();
  const before = used();
  let peak = 0;
  const p = new CaptureParser({ source: 'synthetic' });
  p.push(header);
  while (p.next() !== null);
  let produced = header.length;
  let periodPos = 0;
  let packets = 0;
  let bytes = 0;
  let n = 0;
  while (produced < total) {
    // Fill the reused chunk from the endless repetition of `period`.
    let filled = 0;
    while (filled < chunk.length) {
      const take = Math.min(chunk.length - filled, period.length - periodPos);
      period.copy(chunk, filled, periodPos, periodPos + take);
      filled += take;
      periodPos = (periodPos + take) % period.length;
    }
    produced += chunk.length;
    p.push(chunk);
    for (let r = p.next(); r !== null; r = p.next()) {
      packets++;
      bytes += r.capLen;
    }
    if (++n % 256 === 0) peak = Math.max(peak, used() - before);
  }
  assert.ok(packets > 150_000, `packets ${packets}`);
  assert.ok(bytes > 100 * 1024 * 1024);
  assert.ok(peak < 32 * 1024 * 1024, `memory grew by ${(peak / 1048576).toFixed(1)} MB while streaming`);
});
