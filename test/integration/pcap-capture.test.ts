// The pcapbatch capture backend on a real veth (UDP datagrams from the other namespace) inside test namespaces: libpcap's capture
// timestamps reach JS (monotonic, close to wall time, spread like the traffic), and -S is the
// snap length libpcap uses (a 1042-byte frame arrives cut to 256 bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ownAddonPath } from '../../src/io/native.js';
import { labFor, requireRoot, twoHost } from '../helpers/lab.js';
import { join } from 'node:path';
import { cliPath, distDir } from '../helpers/paths.js';

const skip = requireRoot() || (existsSync(ownAddonPath('pcapbatch')) ? false : 'the pcapbatch addon is not built');
const probe = resolve(distDir, 'test', 'integration', 'pcap-probe.js');

interface ProbeOut {
  backend: string;
  linkType: number;
  got: { len: number; truncated: boolean; tsUs: number | null; wallUs: number }[];
  stats: { kernelDrops: number | null; devicePresent: boolean };
  errors: string[];
}

test('pcap backend: capture timestamps are real (monotonic, near wall time) and -S 256 is honoured', { skip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'pcap-ts' });
  const net = await twoHost(lab);
  const pings = 20;
  const p = lab.spawn(net.copier, process.execPath, [probe, net.copierIf, '256', 'udp dst port 9999', String(pings), 'pcap']);
  await p.waitFor(/ready/, 'stdout');
  // 1000-byte UDP payloads: 1042-byte Ethernet frames, 50 ms apart.
  const send =
    `const s=require('dgram').createSocket('udp4');let n=0;` +
    `const t=setInterval(()=>{s.send(Buffer.alloc(1000,n),9999,${JSON.stringify(net.copierIp)});if(++n===${pings}){clearInterval(t);setTimeout(()=>s.close(),100);}},50);`;
  await lab.exec(net.target, process.execPath, ['-e', send], { timeoutMs: 20_000 });
  const exit = await p.exited;
  assert.equal(exit.code, 0, p.stderr);
  const line = p.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line !== undefined, p.stdout);
  const out = JSON.parse(line) as ProbeOut;
  assert.equal(out.backend, 'pcap');
  assert.equal(out.linkType, 1);
  assert.deepEqual(out.errors, []);
  assert.equal(out.got.length, pings);
  for (const g of out.got) {
    assert.ok(g.len <= 256, `caplen ${g.len} > 256`);
    assert.equal(g.len, 256, 'the frame is cut at the snap length');
    assert.equal(g.truncated, true);
    assert.ok(g.tsUs !== null);
    // Capture time precedes delivery, by little (wall clock µs, not a relative counter).
    assert.ok(g.tsUs <= g.wallUs + 2000 && g.wallUs - g.tsUs < 500_000, `ts ${g.tsUs} vs wall ${g.wallUs}`);
  }
  const ts = out.got.map((g) => g.tsUs as number);
  for (let i = 1; i < ts.length; i++) assert.ok((ts[i] as number) >= (ts[i - 1] as number), 'monotonic');
  const spread = (ts[ts.length - 1] as number) - (ts[0] as number);
  assert.ok(spread > (pings - 1) * 50_000 * 0.8, `timestamps spread like the pings (${spread} µs)`);
  assert.equal(out.stats.kernelDrops, 0);
});

test('pcap backend: the device going away is an error value, not a crash', { skip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'pcap-gone' });
  const net = await twoHost(lab);
  const p = lab.spawn(net.copier, process.execPath, [probe, net.copierIf, '256', 'udp', '1000', 'pcap']);
  await p.waitFor(/ready/, 'stdout');
  await lab.ip(net.copier, ['link', 'del', net.copierIf]);
  const exit = await p.exited;
  assert.equal(exit.code, 0, `the process exits normally (cap aborts here)\n${p.stderr}`);
  const line = p.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line !== undefined, p.stdout);
  const out = JSON.parse(line) as ProbeOut;
  assert.equal(out.errors.length, 1, JSON.stringify(out));
  t.diagnostic(`reported: ${out.errors[0] ?? ''}`);
  assert.match(out.errors[0] as string, new RegExp(`^${net.copierIf}: `));
  assert.equal(out.stats.devicePresent, false);
});

test('tcpcopy on the pcap backend: a capture device removed mid-run ends it with exit 1 and a message, no abort', { skip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'pcap-gone-cli' });
  const net = await twoHost(lab);
  // Record only: no intercept needed, the capture path is the same.
  const rec = lab.spawn(net.copier, process.execPath, [cliPath('tcpcopy'), '-i', net.copierIf, '-x', `80-${net.targetIp}:80`, '--record', join(lab.tmpDir, 'r.pcapng')]);
  await rec.waitFor(/recording live capture on .* \(record only\) to /, 'stderr', 20_000);
  assert.match(rec.stderr, /live capture: pcap backend/);
  await lab.ip(net.copier, ['link', 'del', net.copierIf]);
  const exit = await rec.exited;
  t.diagnostic(rec.stderr.split('\n').filter((l) => /cannot read|capture/.test(l)).join(' | '));
  assert.equal(exit.signal, null, rec.stderr);
  assert.equal(exit.code, 1, rec.stderr);
  assert.match(rec.stderr, new RegExp(`cannot read on: (capture failed on ${net.copierIf}: |capture device ${net.copierIf} is gone)`));
});
