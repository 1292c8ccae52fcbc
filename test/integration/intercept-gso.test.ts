import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliPath } from '../helpers/paths.js';
import { labFor, requireRoot, twoHost } from '../helpers/lab.js';
import { nfqAddonMissing } from '../helpers/nfq-addon.js';

// The fast NFQUEUE backend asks the kernel for GSO packets whole (NFQA_CFG_F_GSO): a TSO send of
// the test server (many MSS of payload in one skb) reaches intercept as one packet, one record,
// instead of being segmented into MSS-sized copies first. A real server in the target namespace
// writes 256 KiB to a real client; a rule of our own queues only its big packets (so the
// handshake and the request pass and the transfer starts), and intercept's payload bytes per
// queued packet show what the kernel handed over.

const rootSkip = requireRoot();
const skip = rootSkip || nfqAddonMissing();
const MSS = 1448;

const SERVER = `
const net = require('net');
const body = Buffer.alloc(256 * 1024, 120);
net.createServer((c) => { c.once('data', () => c.write(body)); c.on('error', () => {}); })
  .listen(80, process.argv[1], () => console.error('server ready'));`;

const CLIENT = `
const c = require('net').connect(80, process.argv[1], () => c.write('GET\\n'));
let got = 0;
c.on('data', (d) => (got += d.length));
c.on('error', () => {});
setTimeout(() => { console.log(got); c.destroy(); process.exit(0); }, 1500);`;

test('GSO responses reach intercept whole: payload per queued packet above one MSS; nothing reaches the client', { skip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'intercept-gso' });
  const net = await twoHost(lab);
  const server = lab.spawn(net.target, process.execPath, ['-e', SERVER, net.targetIp]);
  await server.waitFor(/server ready/, 'stderr', 10_000);
  // Only packets longer than 1000 bytes (xt_length sees a GSO skb's whole length).
  await lab.exec(net.target, 'iptables', ['-w', '-A', 'OUTPUT', '-p', 'tcp', '--sport', '80', '-m', 'length', '--length', '1000:65535', '-j', 'NFQUEUE', '--queue-num', '7']);
  const intercept = lab.spawn(net.target, process.execPath, [cliPath('intercept'), '--queue-num', '7', '--stats-interval', '0']);
  await intercept.waitFor(/intercept ready/, 'stderr', 15_000);
  assert.match(intercept.stderr, /GSO packets whole/);

  const got = Number((await lab.exec(net.copier, process.execPath, ['-e', CLIENT, net.targetIp])).stdout.trim());
  assert.equal(got, 0, 'every data packet was queued and dropped');

  const exit = await intercept.stop('SIGTERM', 5000);
  assert.equal(exit.code, 0, intercept.stderr.slice(-2000));
  const stats = /final stats: (.*)/.exec(intercept.stderr)?.[1] ?? '';
  const num = (k: string): number => Number(new RegExp(`\\b${k}=(\\d+)`).exec(stats)?.[1] ?? NaN);
  const taken = num('dropped') - num('invalid');
  const bytes = num('responseBytes');
  t.diagnostic(`${taken} packets queued, ${bytes} payload bytes: ${(bytes / taken).toFixed(0)} per packet`);
  assert.ok(taken > 0 && bytes > 0, stats);
  assert.ok(bytes / taken > 2 * MSS, `payload per queued packet ${bytes / taken} B: GSO packets were segmented before queueing`);
});
