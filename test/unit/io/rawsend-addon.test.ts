import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { loadAddon } from '../../../src/io/native.js';
import { RawBatchSink, type RawSendModule } from '../../../src/io/raw-batch-sink.js';
import { RawSinkError } from '../../../src/io/packet-sink.js';

// The real addon's argument checks. Opening its raw socket needs CAP_NET_RAW; nothing here sends a
// packet (every send has count 0 or is refused before the kernel is asked).

function addon(): RawSendModule | null {
  try {
    return loadAddon<RawSendModule>('rawsend');
  } catch {
    return null;
  }
}

const mod = addon();
const privileged = typeof process.getuid === 'function' && process.getuid() === 0;
const notBuilt = mod === null ? 'rawsend addon not built (npm run build:native)' : false;

test('the addon checks its arguments: wrong types, unbound ids, packets outside the slab, use after close', { skip: notBuilt || (privileged ? false : 'needs CAP_NET_RAW (root)') }, () => {
  const M = (mod as RawSendModule).RawSender;
  assert.throws(() => new (M as unknown as new () => unknown)(), { name: 'TypeError', message: /new RawSender\(\{ sndbuf \}, onWritable\)/ });
  const s = new M({ sndbuf: 65536 }, () => undefined);
  assert.ok(s.sndbuf >= 65536, `sndbuf ${s.sndbuf}`);
  const slab = Buffer.alloc(100);
  const [o, l, d, e] = [new Uint32Array(4), new Uint32Array(4), new Uint32Array(4), new Int32Array(4)];
  assert.throws(() => s.bind(slab, o, l, d, new Uint32Array(4) as unknown as Int32Array), { name: 'TypeError', message: /errs has the wrong type/ });
  assert.throws(() => s.bind(slab, o, l, d, new Int32Array(3)), { name: 'RangeError', message: /one length/ });
  const id = s.bind(slab, o, l, d, e);
  assert.equal(s.sendBatch(id, 0, 0), 0);
  assert.throws(() => s.sendBatch(id, 2, 3), { name: 'RangeError', message: /exceeds the batch/ });
  o[0] = 90;
  l[0] = 20;
  assert.throws(() => s.sendBatch(id, 0, 1), { name: 'RangeError', message: /outside the slab/ });
  assert.throws(() => s.sendBatch(id + 1, 0, 0), { name: 'RangeError', message: /no batch bound/ });
  s.unbind(id);
  assert.throws(() => s.sendBatch(id, 0, 0), { name: 'RangeError', message: /no batch bound/ });
  const st = s.stats();
  assert.equal(st.sendCalls, 0, 'nothing was sent');
  assert.equal(st.waitingWritable, false);
  s.close();
  s.close();
  assert.throws(() => s.sendBatch(id, 0, 0), /RawSender is closed/);
  assert.equal(s.stats().closed, true);
});

test('without CAP_NET_RAW the sink says how to get it', { skip: notBuilt || (privileged ? 'runs as root' : false) }, () => {
  assert.throws(() => new RawBatchSink(mod as RawSendModule), (err: unknown) => err instanceof RawSinkError && /\(EPERM\): run as root or give node CAP_NET_RAW/.test(err.message));
});
