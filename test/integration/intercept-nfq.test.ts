import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { labFor, requireRoot, twoHost, type Lab, type LabProcess } from '../helpers/lab.js';
import { startGreetingServer } from '../helpers/servers.js';
import { parseKernelQueueStats, type KernelQueueStats, type TapCounters } from '../../src/io/nfqueue-tap.js';
import { nfqAddonPath } from '../../src/io/native.js';
import { nfqAddonMissing } from '../helpers/nfq-addon.js';

// The NFQUEUE tap against a real kernel, in a namespace of its own: UDP datagrams to
// 127.0.0.1:9999 are queued by an OUTPUT rule; the bare driver (scripts/bench/intercept-bare.ts)
// holds the queue with either backend. Pausing the driver lets the kernel queue fill, which is
// how the max length (-q), the queue-full counter and socket overruns (ENOBUFS) are observed in
// /proc/net/netfilter/nfnetlink_queue (queue, peer portid, queue total, copy mode, copy range,
// queue dropped, user dropped, id sequence, 1).

const rootSkip = requireRoot();
const fastSkip = rootSkip || nfqAddonMissing();
const BARE = join(repoRoot, 'dist', 'scripts', 'bench', 'intercept-bare.js');
const PORT = 9999;

// Sends `count` datagrams, first byte by pattern (ACCEPT 'A' every 7th, 'T' = handler throws every
// 101st unless a multiple of 7, else 'D'), spread over sockets (≤ 140 packets each) so no
// socket's send buffer is exhausted by the packets held in the queue. Prints {sent, err, a, t}.
const SENDER = `
const dgram = require('dgram');
const count = Number(process.argv[1]);
const kind = (i) => (i % 7 === 0 ? 'A' : i % 101 === 0 ? 'T' : 'D');
const socks = Array.from({ length: Math.max(200, Math.ceil(count / 140)) }, () => dgram.createSocket('udp4'));
let sent = 0, err = 0, done = 0, a = 0, t = 0;
for (let i = 0; i < count; i++) {
  const k = kind(i);
  socks[i % socks.length].send(Buffer.from(k + 'payload-' + i), ${PORT}, '127.0.0.1', (e) => {
    if (e) err++; else { sent++; if (k === 'A') a++; if (k === 'T') t++; }
    if (++done === count) { console.log(JSON.stringify({ sent, err, a, t })); process.exit(0); }
  });
}`;

// Counts what gets through (ACCEPTed), by first byte; prints the counts on SIGTERM.
const RECEIVER = `
const s = require('dgram').createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
const got = {};
s.on('message', (m) => { const k = String.fromCharCode(m[0]); got[k] = (got[k] || 0) + 1; });
s.bind(${PORT}, '127.0.0.1', () => console.error('receiver ready'));
process.on('SIGTERM', () => { console.log(JSON.stringify(got)); process.exit(0); });`;

interface Sent {
  sent: number;
  err: number;
  a: number;
  t: number;
}

interface DriverStats {
  backend: string;
  handled: number;
  accepted: number;
  handlerErrors: number;
  portId: number | null;
  maxLen: number | null;
  tap: (TapCounters & { closed: boolean }) | null;
  kernel: KernelQueueStats | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function queueNs(lab: Lab): Promise<string> {
  const ns = await lab.addNamespace('nfq');
  await lab.exec(ns, 'iptables', ['-w', '-A', 'OUTPUT', '-p', 'udp', '--dport', String(PORT), '-j', 'NFQUEUE', '--queue-num', '0']);
  return ns;
}

async function driver(lab: Lab, ns: string, args: string[]): Promise<LabProcess> {
  const p = lab.spawn(ns, process.execPath, [BARE, ...args]);
  await p.waitFor(/intercept ready/, 'stderr', 10_000);
  return p;
}

function lastStats(p: LabProcess): DriverStats | null {
  const lines = p.stderr.split('\n').filter((l) => l.startsWith('stats '));
  const last = lines[lines.length - 1];
  return last === undefined ? null : (JSON.parse(last.slice(6)) as DriverStats);
}

/** Asks the driver for stats (SIGUSR2) until `done` holds or the time is up; returns the last. */
async function statsUntil(p: LabProcess, done: (s: DriverStats) => boolean, timeoutMs = 5000): Promise<DriverStats> {
  const deadline = performance.now() + timeoutMs;
  let s: DriverStats | null = null;
  while (performance.now() < deadline) {
    const before = p.stderr.length;
    p.signal('SIGUSR2');
    for (let i = 0; i < 50 && p.stderr.length === before; i++) await sleep(10);
    s = lastStats(p);
    if (s !== null && done(s)) return s;
    await sleep(50);
  }
  if (s === null) throw new Error(`no stats from the driver: ${p.stderr.slice(-2000)}`);
  return s;
}

async function send(lab: Lab, ns: string, count: number): Promise<Sent> {
  const r = await lab.exec(ns, process.execPath, ['-e', SENDER, String(count)], { timeoutMs: 30_000 });
  return JSON.parse(r.stdout.trim()) as Sent;
}

async function kernel(lab: Lab, ns: string): Promise<KernelQueueStats | null> {
  return parseKernelQueueStats((await lab.exec(ns, 'cat', ['/proc/net/netfilter/nfnetlink_queue'])).stdout, 0);
}

test('fast backend: -q 5000 caps the kernel queue at 5000 (queue-drop counter moves), copy range 64, our socket is the peer; every packet gets a verdict', { skip: fastSkip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'nfq-maxlen' });
  const ns = await queueNs(lab);
  const d = await driver(lab, ns, ['--backend', 'fast', '--paused', '--max-len', '5000', '--copy-range', '64']);
  const s = await send(lab, ns, 8000);
  assert.equal(s.err, 0, JSON.stringify(s));
  const k = await kernel(lab, ns);
  assert.ok(k !== null, 'the queue is bound');
  assert.equal(k.queueTotal, 5000, `packets waiting = the max length: ${JSON.stringify(k)}`);
  assert.equal(k.queueDropped, s.sent - 5000, 'the rest were dropped as queue-full');
  assert.equal(k.userDropped, 0);
  assert.equal(k.copyMode, 2, 'NFQNL_COPY_PACKET');
  assert.equal(k.copyRange, 64);

  d.signal('SIGUSR1'); // resume
  const st = await statsUntil(d, (x) => x.handled >= 5000);
  assert.equal(st.backend, 'fast');
  assert.equal(st.maxLen, 5000);
  assert.equal(st.portId, k.peerPortId, "the queue's peer is the addon's socket");
  assert.equal(st.handled, 5000);
  assert.ok(st.tap !== null && st.tap.batches < 5000 / 10, `batched: ${JSON.stringify(st.tap)}`);
  assert.ok(st.tap.maxBatch > 1);
  assert.equal(st.tap.sendErrors, 0);
  assert.equal(st.tap.kernelErrors, 0, 'the kernel accepted every verdict');
  const after = await kernel(lab, ns);
  assert.equal(after?.queueTotal, 0, 'nothing left waiting for a verdict');
});

test('fast backend: without -q the queue holds 65536 packets (not the kernel default 1024), and the socket buffer is sized to hold them all', { skip: fastSkip, timeout: 90_000 }, async (t) => {
  const lab = await labFor(t, { name: 'nfq-default' });
  const ns = await queueNs(lab);
  const d = await driver(lab, ns, ['--backend', 'fast', '--paused']);
  const s = await send(lab, ns, 70_000);
  assert.equal(s.err, 0, JSON.stringify(s));
  const k = await kernel(lab, ns);
  assert.equal(k?.queueTotal, 65536, JSON.stringify(k));
  assert.equal(k?.queueDropped, s.sent - 65536);
  assert.equal(k?.userDropped, 0, 'no socket overrun before the queue is full');
  d.signal('SIGUSR1');
  const st = await statsUntil(d, (x) => x.handled >= 65536, 20_000);
  assert.equal(st.handled, 65536);
  assert.equal(st.maxLen, 65536);
  assert.equal(st.tap?.enobufs, 0);
  assert.equal((await kernel(lab, ns))?.queueTotal, 0);
});

test('fast backend: a socket overrun is reported as ENOBUFS and counted; reading goes on', { skip: fastSkip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'nfq-enobufs' });
  const ns = await queueNs(lab);
  // A tiny receive buffer (given explicitly, so not grown to fit the queue): a few messages fit,
  // the kernel fails to deliver the rest.
  const d = await driver(lab, ns, ['--backend', 'fast', '--paused', '--rcvbuf', '4096']);
  const s = await send(lab, ns, 2000);
  const k = await kernel(lab, ns);
  assert.ok(k !== null && k.userDropped > 0, `user_dropped moved: ${JSON.stringify(k)}`);
  assert.equal(k.queueTotal, s.sent - k.userDropped);
  d.signal('SIGUSR1');
  const st = await statsUntil(d, (x) => x.handled >= s.sent - k.userDropped);
  assert.ok(st.tap !== null && st.tap.enobufs >= 1, `ENOBUFS counted: ${JSON.stringify(st.tap)}`);
  assert.equal(st.handled, s.sent - k.userDropped, 'what was delivered was handled');
  // Still reading after the overrun: a second burst goes through normally.
  const s2 = await send(lab, ns, 5);
  const st2 = await statsUntil(d, (x) => x.handled >= st.handled + s2.sent);
  assert.equal(st2.handled, st.handled + s2.sent);
  assert.equal((await kernel(lab, ns))?.queueTotal, 0);
});

test('fast backend: mixed verdicts in full batches: exactly the ACCEPTed packets get through; a throwing handler drops', { skip: fastSkip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'nfq-verdicts' });
  const ns = await queueNs(lab);
  const recv = lab.spawn(ns, process.execPath, ['-e', RECEIVER]);
  await recv.waitFor(/receiver ready/, 'stderr');
  const d = await driver(lab, ns, ['--backend', 'fast', '--paused', '--verdict-by-byte', '--batch', '64']);
  const s = await send(lab, ns, 3000);
  assert.equal(s.err, 0);
  d.signal('SIGUSR1');
  const st = await statsUntil(d, (x) => x.handled >= s.sent);
  assert.equal(st.handled, s.sent);
  assert.equal(st.accepted, s.a);
  assert.equal(st.handlerErrors, s.t, 'each throw counted');
  assert.equal(st.tap?.maxBatch, 64, 'full batches of --batch');
  assert.equal(st.tap?.kernelErrors, 0);
  assert.ok((st.tap?.verdictBatchMessages ?? 0) > 0, 'runs of DROPs went as batch verdicts');
  await sleep(300);
  await recv.stop('SIGTERM');
  const got = JSON.parse(recv.stdout.trim()) as Record<string, number>;
  assert.deepEqual(got, { A: s.a }, 'only ACCEPTed packets were delivered, all of them');
  assert.equal((await kernel(lab, ns))?.queueTotal, 0);
});

test('fast backend: close() releases the queue and the process ends on its own', { skip: fastSkip, timeout: 30_000 }, async (t) => {
  const lab = await labFor(t, { name: 'nfq-close' });
  const ns = await queueNs(lab);
  const d = await driver(lab, ns, ['--backend', 'fast']);
  assert.ok((await kernel(lab, ns)) !== null);
  d.signal('SIGINT'); // the driver closes the tap and stops its keep-alive timer
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([d.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 5000)))]);
  clearTimeout(timer);
  assert.ok(exit !== null, `still running after close(): ${d.stderr.slice(-1000)}`);
  assert.equal(exit.code, 0);
  assert.match(d.stderr, /closed .*"closed":true/);
  assert.equal(await kernel(lab, ns), null, 'the queue is unbound');
});

// The addon used directly, with a batch callback that throws every time: the exception is
// caught and counted inside the addon (no uncaughtException, no crash), every packet still gets
// its DROP verdict, and after close() nothing keeps the process alive.
const THROWER = `
const m = require(process.argv[1]);
const q = new m.NfqQueue({ queueNum: 0, copyRange: 64 });
process.on('uncaughtException', (e) => console.log('UNCAUGHT ' + e.message));
let calls = 0;
q.start(() => { calls++; throw new Error('boom'); });
const d = require('dgram').createSocket('udp4');
let k = 0;
const t = setInterval(() => { d.send('x', ${PORT}, '127.0.0.1'); if (++k === 20) clearInterval(t); }, 5);
setTimeout(() => {
  const proc = require('fs').readFileSync('/proc/net/netfilter/nfnetlink_queue', 'utf8');
  console.log(JSON.stringify({ calls, stats: q.stats(), proc }));
  q.close();
  d.close();
}, 600);`;

test('fast backend: a batch callback that throws is contained: counted, verdicts still sent, the process lives on', { skip: fastSkip, timeout: 30_000 }, async (t) => {
  const lab = await labFor(t, { name: 'nfq-throw' });
  const ns = await queueNs(lab);
  const r = await lab.exec(ns, process.execPath, ['-e', THROWER, nfqAddonPath()], { timeoutMs: 10_000 });
  assert.doesNotMatch(r.stdout, /UNCAUGHT/);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { calls: number; stats: TapCounters; proc: string };
  assert.ok(out.calls > 0);
  assert.equal(out.stats.callbackErrors, out.calls);
  assert.equal(out.stats.packets, 20);
  const k = parseKernelQueueStats(out.proc, 0);
  assert.equal(k?.idSequence, 20);
  assert.equal(k?.queueTotal, 0, 'every packet got its verdict');
  assert.equal(r.code, 0, 'exited by itself after close()');
});

test('backend choice: auto picks the addon; TCPCOPY_TS_NFQ_BACKEND=nfqueue runs the fallback with a warning naming what is lost', { skip: rootSkip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'nfq-fallback' });
  const ns = await queueNs(lab);
  const d = await driver(lab, ns, []);
  assert.equal(fastSkip ? 'nfqueue' : 'fast', (await statsUntil(d, () => true)).backend);
  await d.stop('SIGTERM');

  const f = lab.spawn(ns, process.execPath, [BARE], { env: { TCPCOPY_TS_NFQ_BACKEND: 'nfqueue' } });
  await f.waitFor(/intercept ready/, 'stderr');
  assert.match(f.stderr, /WARN NFQUEUE through the 'nfqueue' package .*-q .*copy range .*batching/);
  const s = await send(lab, ns, 500);
  const st = await statsUntil(f, (x) => x.handled >= s.sent);
  assert.equal(st.backend, 'nfqueue');
  assert.equal(st.handled, s.sent);
  assert.equal((await kernel(lab, ns))?.copyRange, 65531, 'the package copies whole packets');
});

for (const backend of ['fast', 'nfqueue'] as const) {
  test(`intercept on the ${backend} backend: a real SYN-ACK becomes a record on the channel`, { skip: backend === 'fast' ? fastSkip : rootSkip, timeout: 60_000 }, async (t) => {
    const lab = await labFor(t, { name: `nfq-icpt-${backend}` });
    const net = await twoHost(lab);
    await startGreetingServer(lab, net.target, 80, '0.0.0.0');
    const icpt = lab.spawn(net.target, process.execPath, [cliPath('intercept'), '--install-rule', '80', '--stats-interval', '0'], {
      env: { TCPCOPY_TS_NFQ_BACKEND: backend },
    });
    await icpt.waitFor(/intercept ready/, 'stderr');
    const standin = join(repoRoot, 'dist', 'scripts', 'bench', 'intercept-copier.js');
    const steps = [
      { op: 'connect', host: net.targetIp, port: 36524, n: 1 },
      { op: 'hello' },
      { op: 'sleep', ms: 200 },
      { op: 'syn', client: '10.77.0.9:40009', target: `${net.targetIp}:80`, seq: 4242 },
      { op: 'waitRecords', count: 1, timeoutMs: 5000 },
      { op: 'end' },
    ];
    const c = lab.spawn(net.copier, process.execPath, [standin], { input: steps.map((x) => JSON.stringify(x)).join('\n') + '\n' });
    await c.exited;
    const recs = c.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.ev === 'record');
    assert.equal(recs.length, 1, c.stdout);
    assert.equal(recs[0]?.dport, 40009);
    assert.equal(recs[0]?.ack, 4243);
    assert.equal(recs[0]?.flags, 0x12);
    const k = parseKernelQueueStats((await lab.exec(net.target, 'cat', ['/proc/net/netfilter/nfnetlink_queue'])).stdout, 0);
    if (backend === 'nfqueue') {
      assert.match(icpt.stderr, /'nfqueue' package/);
      assert.equal(k?.copyRange, 65531);
    } else {
      assert.doesNotMatch(icpt.stderr, /'nfqueue' package/);
      assert.ok(k !== null && k.copyRange <= 192, `copy range ${k?.copyRange}`);
    }
    assert.equal((await icpt.stop('SIGTERM', 5000)).code, 0);
  });
}
