import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowPartition } from '../../../src/core/store/flow-hash.js';
import { buildSegment } from '../../helpers/packet/build.js';

const A = 0x0a000001;
const B = 0x0a000002;

test('both directions of a connection fall in one partition; connections spread over all of them', () => {
  const seen = new Set<number>();
  for (let port = 1024; port < 1424; port++) {
    const out = buildSegment({ src: A, dst: B, srcPort: port, dstPort: 80, seq: 1, ack: 0, flags: 0x02, window: 100, ipId: 1 });
    const back = buildSegment({ src: B, dst: A, srcPort: 80, dstPort: port, seq: 9, ack: 2, flags: 0x12, window: 100, ipId: 1 });
    const p = flowPartition(out, 0, out.length, 16);
    assert.equal(flowPartition(back, 0, back.length, 16), p, `port ${port}`);
    seen.add(p);
  }
  assert.equal(seen.size, 16);
  const pkt = buildSegment({ src: A, dst: B, srcPort: 1, dstPort: 2, seq: 1, ack: 1, flags: 0x10, window: 100, ipId: 1 });
  assert.equal(flowPartition(pkt, -1, 0, 16), 0, 'no IPv4 layer: partition 0');
  assert.equal(flowPartition(pkt, 0, pkt.length, 1), 0);
});
