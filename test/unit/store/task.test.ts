import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addMissing, decodeHostStats, decodeManifest, formatTaskList, summarizeTask, TaskFormatError, type MissingRange, type TaskHostStats, type TaskManifest } from '../../../src/core/store/task.js';

const manifest: TaskManifest = {
  version: 1, name: 'peak', stream: 'web', state: 'stopped', startSeq: 5, stopSeq: 90, startUs: 1e15, stopUs: 1e15 + 5e6,
  hosts: ['web1', 'web2'], partitions: 16, filter: null, startedBy: 'copier', stoppedBy: 'copier',
};
const host = (name: string, packets: number, first: number, last: number, missing: MissingRange[] = []): TaskHostStats => ({
  host: name, active: false, packets, bytes: packets * 100, sessions: packets / 10, firstUs: first, lastUs: last,
  drops: { 'store-away': missing.reduce((n, m) => n + m.packets, 0), 'store-busy': 0, 'store-error': 0 }, missing, updatedUs: last,
});

test('manifests and host entries round-trip through JSON and are checked', () => {
  assert.deepEqual(decodeManifest(JSON.stringify(manifest)), manifest);
  const h = host('web1', 100, 1, 2, [{ fromUs: 1, toUs: 2, packets: 3, reason: 'store-away' }]);
  assert.deepEqual(decodeHostStats(JSON.stringify(h)), h);
  assert.throws(() => decodeManifest(JSON.stringify({ ...manifest, version: 2 })), TaskFormatError);
  assert.throws(() => decodeManifest(JSON.stringify({ ...manifest, startSeq: 'x' })), /field startSeq/);
  assert.throws(() => decodeManifest('[]'), /expected a JSON object/);
});

test('missing ranges: an open range widens, a closed one is followed by a new one, the list is capped', () => {
  const list: MissingRange[] = [];
  addMissing(list, false, 10, 20, 2, 'store-away');
  addMissing(list, true, 21, 30, 3, 'store-away');
  addMissing(list, false, 50, 60, 1, 'store-busy');
  assert.deepEqual(list, [{ fromUs: 10, toUs: 30, packets: 5, reason: 'store-away' }, { fromUs: 50, toUs: 60, packets: 1, reason: 'store-busy' }]);
  for (let i = 0; i < 200; i++) addMissing(list, false, 100 + i, 100 + i, 1, 'store-error');
  assert.equal(list.length, 100);
  assert.equal(list.reduce((n, m) => n + m.packets, 0), 206, 'no packet is lost from the count');
});

test('the listing adds up the hosts and names the missing ranges', () => {
  const s = summarizeTask(manifest, [host('web1', 100, 1_796_198_400_000_000, 1_796_198_402_000_000), host('web2', 50, 1_796_198_401_000_000, 1_796_198_404_500_000, [{ fromUs: 1_796_198_403_000_000, toUs: 1_796_198_403_250_000, packets: 7, reason: 'store-away' }])]);
  assert.deepEqual([s.packets, s.bytes, s.sessions, s.drops], [150, 15000, 15, 7]);
  const out = formatTaskList([s]);
  assert.match(out, /^task\s+state\s+seq\s+hosts\s+packets\s+MiB\s+sessions\s+dropped\s+first packet\s+span s\s+filter\n/);
  assert.match(out, /\npeak\s+stopped\s+5\.\.90\s+web1,web2\s+150\s+0\.01\s+15\s+7\s+2026-12-02T08:00:00\.000Z\s+4\.5\s+-\n/);
  assert.match(out, / {2}peak: missing 7 packets \(store-away\) from 2026-12-02T08:00:03\.000Z to 2026-12-02T08:00:03\.250Z\n$/);
  assert.equal(formatTaskList([]), 'no tasks\n');
});
