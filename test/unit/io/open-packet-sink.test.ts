import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NativeAddonError, ownAddonPath } from '../../../src/io/native.js';
import { openPacketSink, type OpenSinkDeps } from '../../../src/io/open-packet-sink.js';
import { RawSinkError, type PacketSink } from '../../../src/io/packet-sink.js';
import { RawBatchSink } from '../../../src/io/raw-batch-sink.js';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/paths.js';
import { fakeModule } from './fake-raw-send.js';

// Backend choice of the copier's sink, with the backends replaced by stand-ins (no root).

const batch = (): PacketSink => new RawBatchSink(fakeModule().mod);
const rawSocket = (): PacketSink => ({ backend: 'raw-socket' }) as unknown as PacketSink;
const notBuilt = (): never => {
  throw new NativeAddonError('rawsend', new Error('Cannot find module …/rawsend.node'));
};
const denied = (): never => {
  throw new RawSinkError('cannot open a raw IPv4 socket (EPERM): run as root');
};

test('auto takes the sendmmsg addon when it loads', () => {
  const r = openPacketSink('auto', {}, { openBatch: batch, openRawSocket: rawSocket });
  assert.equal(r.sink.backend, 'sendmmsg');
  assert.equal(r.fallbackReason, null);
  r.sink.close();
});

test('auto falls back to raw-socket when the addon is not built, and says why', () => {
  const r = openPacketSink('auto', {}, { openBatch: notBuilt, openRawSocket: rawSocket });
  assert.equal(r.sink.backend, 'raw-socket');
  assert.match(r.fallbackReason ?? '', /native addon 'rawsend' could not be loaded .*npm run build:native/);
});

test('a refused socket is an error with any choice, never a reason to fall back', () => {
  const deps: OpenSinkDeps = { openBatch: denied, openRawSocket: rawSocket };
  assert.throws(() => openPacketSink('auto', {}, deps), RawSinkError);
  assert.throws(() => openPacketSink('sendmmsg', {}, deps), RawSinkError);
});

test('a named backend is used or fails', () => {
  assert.throws(() => openPacketSink('sendmmsg', {}, { openBatch: notBuilt, openRawSocket: rawSocket }), NativeAddonError);
  const r = openPacketSink('raw-socket', {}, { openBatch: batch, openRawSocket: rawSocket });
  assert.equal(r.sink.backend, 'raw-socket');
  assert.equal(r.fallbackReason, '--raw-backend raw-socket');
});

test('the addon is looked for in src/native/rawsend/build/Release', () => {
  assert.equal(ownAddonPath('rawsend'), join(repoRoot, 'src', 'native', 'rawsend', 'build', 'Release', 'rawsend.node'));
});
