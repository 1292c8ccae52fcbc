import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { recordName, RotationPolicy, sequenceOf } from '../../../src/core/record/rotation.js';
import { PcapngRecorder, type RecordFs } from '../../../src/io/pcapng-recorder.js';
import { parseAll, tcpFrame } from '../capture/helpers.js';

test('file names: PATH without .pcapng/.pcap, a 6-digit sequence, in PATH\'s directory', () => {
  assert.deepEqual(recordName('/var/rec/web.pcapng'), { dir: '/var/rec', prefix: 'web-' });
  assert.deepEqual(recordName('web'), { dir: '.', prefix: 'web-' });
  assert.deepEqual(recordName('/web.pcap'), { dir: '/', prefix: 'web-' });
  const n = recordName('web');
  assert.equal(sequenceOf(n, 'web-000012.pcapng'), 12);
  assert.equal(sequenceOf(n, 'web-12.pcapng'), -1);
  assert.equal(sequenceOf(n, 'webx-000012.pcapng'), -1);
});

test('policy: continues after the highest existing sequence and keeps at most N files', () => {
  const p = new RotationPolicy(recordName('web'), { kind: 'size', bytes: 1000 }, 3, ['web-000007.pcapng', 'web-000002.pcapng', 'other.pcapng']);
  assert.deepEqual(p.next(), { file: 'web-000008.pcapng', remove: [] });
  assert.deepEqual(p.next(), { file: 'web-000009.pcapng', remove: ['web-000002.pcapng'] });
  assert.deepEqual(p.next(), { file: 'web-000010.pcapng', remove: ['web-000007.pcapng'] });
});

test('policy: by size before the block that would cross the limit, by age; never an empty file', () => {
  const size = new RotationPolicy(recordName('a'), { kind: 'size', bytes: 1000 }, 10, []);
  assert.equal(size.due(900, 5, 100, 0, 0), false);
  assert.equal(size.due(901, 5, 100, 0, 0), true);
  assert.equal(size.due(5000, 0, 100, 0, 0), false, 'a file holds at least one packet');
  const time = new RotationPolicy(recordName('a'), { kind: 'time', ms: 60_000 }, 10, []);
  assert.equal(time.due(10, 1, 0, 1000, 60_999), false);
  assert.equal(time.due(10, 1, 0, 1000, 61_000), true);
  assert.equal(new RotationPolicy(recordName('a'), null, 10, []).due(1e12, 9, 9, 0, 1e12), false);
});

/** In-memory files; write() appends. */
function fakeFs(initial: string[] = []): RecordFs & { files: Map<string, Buffer[]>; writes: number } {
  const files = new Map<string, Buffer[]>(initial.map((f) => [`/r/${f}`, []]));
  const fds = new Map<number, string>();
  let nextFd = 3;
  const fs = {
    files,
    writes: 0,
    list: () => [...files.keys()].map((k) => k.slice(3)),
    open: (path: string) => {
      if (files.has(path)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
      files.set(path, []);
      fds.set(nextFd, path);
      return nextFd++;
    },
    write: (fd: number, buf: Buffer, len: number) => {
      fs.writes++;
      files.get(fds.get(fd) as string)?.push(Buffer.from(buf.subarray(0, len)));
    },
    close: (fd: number) => void fds.delete(fd),
    remove: (path: string) => void files.delete(path),
  };
  return fs;
}

test('recorder: rotates by size, each file a valid pcapng with every interface, oldest deleted', () => {
  const fs = fakeFs(['cap-000001.pcapng']);
  let now = 1_800_000_000_000;
  const rec = new PcapngRecorder({ path: '/r/cap.pcapng', rotate: { kind: 'size', bytes: 4096 }, keep: 3, fs, nowMs: () => now, bufferBytes: 4096 });
  rec.start();
  const eth = rec.addInterface(1, 65535);
  const sll = rec.addInterface(113, 256);
  const frame = Buffer.alloc(2000);
  tcpFrame(40000, 80, 300).copy(frame);
  const len = tcpFrame(40000, 80, 300).length;
  for (let i = 0; i < 40; i++) {
    now += 10;
    rec.frame(i % 2 === 0 ? eth : sll, frame, len, now * 1000 + i);
  }
  rec.close();
  const names = [...fs.files.keys()].sort();
  assert.deepEqual(names, ['/r/cap-000003.pcapng', '/r/cap-000004.pcapng', '/r/cap-000005.pcapng'], 'the first run\'s file and the oldest of this one were deleted');
  assert.equal(rec.filesOpened, 4, 'about ten 388-byte blocks per 4 KiB file');
  let total = 0;
  for (const name of names) {
    const bytes = Buffer.concat(fs.files.get(name) as Buffer[]);
    assert.ok(bytes.length <= 4096, `${name}: ${bytes.length} bytes`);
    const r = parseAll(bytes, 97);
    assert.deepEqual(r.warnings, [], name);
    assert.ok(r.records.length >= 1);
    for (const p of r.records) {
      assert.equal(p.capLen, len);
      assert.equal(p.linkType, p.interfaceId === 0 ? 1 : 113);
    }
    total += r.records.length;
  }
  assert.equal(rec.packets, 40);
  assert.ok(total < 40 && total >= 21, String(total));
  const last = parseAll(Buffer.concat(fs.files.get('/r/cap-000005.pcapng') as Buffer[])).records;
  assert.equal(last.at(-1)?.tsUs, now * 1000 + 39, 'arrival time in microseconds');
});

test('recorder: by time on flush() even when idle; rotate() (SIGHUP) starts a new file at once', () => {
  const fs = fakeFs();
  let now = 0;
  const rec = new PcapngRecorder({ path: '/r/t', rotate: { kind: 'time', ms: 60_000 }, keep: 10, fs, nowMs: () => now });
  rec.start();
  const id = rec.addInterface(1, 65535);
  const f = tcpFrame(1, 80, 10);
  rec.frame(id, f, f.length, 1);
  now = 30_000;
  rec.flush();
  assert.equal(fs.files.size, 1);
  now = 60_000;
  rec.flush();
  assert.equal(fs.files.size, 2, 'aged out');
  rec.flush();
  assert.equal(fs.files.size, 2, 'an empty file is not rotated');
  rec.frame(id, f, f.length, 2);
  rec.rotate();
  rec.frame(id, f, f.length, 3);
  rec.close();
  assert.deepEqual([...fs.files.keys()], ['/r/t-000001.pcapng', '/r/t-000002.pcapng', '/r/t-000003.pcapng']);
  for (const [name, parts] of fs.files) assert.equal(parseAll(Buffer.concat(parts)).records.length, 1, name);
});

test('recorder: frames are buffered (one write for many), a write error stops recording without throwing', () => {
  const fs = fakeFs();
  const rec = new PcapngRecorder({ path: '/r/b', rotate: null, keep: 10, fs });
  rec.start();
  const id = rec.addInterface(1, 65535);
  const f = tcpFrame(1, 80, 100);
  for (let i = 0; i < 100; i++) rec.frame(id, f, f.length, i);
  assert.equal(fs.writes, 0);
  rec.flush();
  assert.equal(fs.writes, 1);
  const messages: string[] = [];
  const bad = new PcapngRecorder({ path: '/r/c', rotate: null, keep: 10, fs: { ...fakeFs(), write: () => { throw Object.assign(new Error('full'), { code: 'ENOSPC' }); } }, info: (m) => messages.push(m) });
  bad.start();
  bad.frame(bad.addInterface(1, 65535), f, f.length, 1);
  bad.flush();
  bad.frame(0, f, f.length, 2);
  bad.close();
  assert.deepEqual(messages.filter((m) => m.startsWith('recording stopped')), ['recording stopped: cannot write /r/c-000001.pcapng: ENOSPC']);
});
