import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateEtaUs, formatBytesPair, formatDuration, formatProgress, progressFraction } from '../../../src/core/replay/index.js';

test('ETA from the share of bytes read, over all -T runs', () => {
  assert.equal(estimateEtaUs({ bytesRead: 4e6, totalBytes: 10e6, elapsedUs: 12e6 }), 18e6);
  // Second of two runs, 4 MB into it: 14 of 20 MB done in 28 s → 12 s left.
  assert.equal(estimateEtaUs({ bytesRead: 4e6, totalBytes: 10e6, elapsedUs: 28e6, loop: 1, loops: 2 }), 12e6);
  assert.equal(estimateEtaUs({ bytesRead: 10e6, totalBytes: 10e6, elapsedUs: 5e6 }), 0);
  assert.equal(estimateEtaUs({ bytesRead: 0, totalBytes: 10e6, elapsedUs: 5e6 }), null);
  assert.equal(estimateEtaUs({ bytesRead: 5, totalBytes: 0, elapsedUs: 5e6 }), null);
  assert.equal(progressFraction({ bytesRead: 4e6, totalBytes: 10e6, elapsedUs: 1, loop: 1, loops: 2 }), 0.7);
});

test('durations and byte pairs', () => {
  assert.equal(formatDuration(7.9e6), '0:07');
  assert.equal(formatDuration(725e6), '12:05');
  assert.equal(formatDuration(3723e6), '1:02:03');
  assert.equal(formatBytesPair(4e6, 10e6), '4.0/10.0 MB');
  assert.equal(formatBytesPair(512, 900), '512/900 B');
  assert.equal(formatBytesPair(1_500_000_000, 2e9), '1.5/2.0 GB');
  assert.equal(formatBytesPair(2048, 0), '2.0 kB');
});

test('the progress line: bar, percent, bytes, run, times, counters; cut to the width', () => {
  const line = formatProgress({
    bytesRead: 4e6, totalBytes: 10e6, elapsedUs: 28e6, loop: 1, loops: 2,
    counters: [['active', 12], ['completed', 340], ['requests', 1200], ['responses', 1190]],
  }, 200);
  assert.equal(line, '[##############......]  70%  4.0/10.0 MB  run 2/2  0:28 elapsed  ETA 0:12  active 12  completed 340  requests 1200  responses 1190');
  const cut = formatProgress({ bytesRead: 4e6, totalBytes: 10e6, elapsedUs: 28e6, counters: [['active', 12]] }, 30);
  assert.equal(cut.length, 30);
  assert.ok(cut.endsWith('…'));
  assert.equal(formatProgress({ bytesRead: 0, totalBytes: 0, elapsedUs: 0 }), '0 B  0:00 elapsed  ETA --:--');
});
