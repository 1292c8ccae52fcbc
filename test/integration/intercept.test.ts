import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { labFor, requireRoot, twoHost, type Lab, type LabProcess, type TwoHost } from '../helpers/lab.js';
import { startGreetingServer, startTcpdump, tcpdumpRead } from '../helpers/servers.js';

// intercept against real kernels (LAB.md two-host topology): a real server in the target
// namespace, intercept with its NFQUEUE rule next to it, and a copier stand-in
// (scripts/bench/intercept-copier.ts) in the copier namespace that speaks the channel and sends
// raw SYNs from fake client addresses routed towards the copier side.

const skip = requireRoot();
const STANDIN = join(repoRoot, 'dist', 'scripts', 'bench', 'intercept-copier.js');
const SERVICE_PORT = 80;

interface Ev {
  ev: string;
  conn?: number;
  [k: string]: unknown;
}

function events(p: LabProcess): Ev[] {
  return p.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Ev);
}

const ipNum = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);

async function setup(
  lab: Lab,
  interceptArgs: (net: TwoHost) => string[],
  env: Record<string, string> = {},
): Promise<{ net: TwoHost; intercept: LabProcess }> {
  const net = await twoHost(lab);
  await startGreetingServer(lab, net.target, SERVICE_PORT, '0.0.0.0');
  const intercept = startIntercept(lab, net, interceptArgs(net), env);
  await intercept.waitFor(/intercept ready/, 'stderr', 10_000);
  return { net, intercept };
}

function startIntercept(lab: Lab, net: TwoHost, args: string[], env: Record<string, string> = {}): LabProcess {
  return lab.spawn(net.target, process.execPath, [cliPath('intercept'), '--stats-interval', '0', '--log-level', 'debug', ...args], { env });
}

async function outputRules(lab: Lab, ns: string): Promise<string[]> {
  return (await lab.exec(ns, 'iptables', ['-w', '-S', 'OUTPUT'])).stdout.split('\n').filter((l) => /NFQUEUE/.test(l));
}

/** Runs the stand-in with a script; resolves when it has exited. */
async function standin(lab: Lab, ns: string, steps: Record<string, unknown>[], timeoutMs = 20_000): Promise<Ev[]> {
  const proc = lab.spawn(ns, process.execPath, [STANDIN], { input: steps.map((s) => JSON.stringify(s)).join('\n') + '\n' });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([proc.exited, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
  if (proc.running) await proc.stop('SIGKILL', 100);
  const evs = events(proc);
  if (!evs.some((e) => e.ev === 'done')) throw new Error(`stand-in did not finish: ${proc.stdout.slice(-2000)} ${proc.stderr.slice(-2000)}`);
  return evs;
}

/** From the copier namespace, a real TCP client bound to `src` reads the greeting (or times out). */
async function realClient(lab: Lab, ns: string, src: string, dst: string): Promise<string> {
  const js = `
    const s = require('net').connect({ host: '${dst}', port: ${SERVICE_PORT}, localAddress: '${src}' });
    const t = setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 2500);
    s.on('data', (d) => { console.log('GOT ' + d.toString().trim()); clearTimeout(t); s.destroy(); });
    s.on('error', (e) => { console.log('ERR ' + e.code); clearTimeout(t); });`;
  return (await lab.exec(ns, process.execPath, ['-e', js])).stdout.trim();
}

test('SYN-ACKs from the real kernel arrive as records; nothing leaks; a pass-listed address gets a real answer; SIGTERM removes the rule', { skip, timeout: 90_000 }, async (t) => {
  assert.ok(existsSync(STANDIN), 'build first (npx tsc)');
  const lab = await labFor(t, { name: 'icpt-basic' });
  const { net, intercept } = await setup(lab, (n) => ['--install-rule', String(SERVICE_PORT), '-x', n.copierIp]);
  const rulesWhileRunning = await outputRules(lab, net.target);
  assert.equal(rulesWhileRunning.length, 1, rulesWhileRunning.join('\n'));
  assert.match(rulesWhileRunning[0]!, /--sport 80 .*-j NFQUEUE --queue-num 0/);

  // An address on the copier side that is NOT pass-listed: its real connection must go unanswered.
  const blocked = net.subnet.host(3);
  await lab.addAddress(net.copier, net.copierIf, `${blocked}/24`);
  const dump = await startTcpdump(lab, net.copier, net.copierIf, `tcp src port ${SERVICE_PORT}`, join(lab.tmpDir, 'leak.pcap'));

  const target = `${net.targetIp}:${SERVICE_PORT}`;
  const clients = [0, 1, 2, 3, 4, 5].map((i) => ({ client: `10.77.${i}.${i + 10}:${40000 + i * 101}`, seq: 0x10000000 * (i + 1) + 77, tsval: 5000 + i }));
  const evs = await standin(lab, net.copier, [
    { op: 'connect', host: net.targetIp, port: 36524, n: 2 },
    { op: 'hello' },
    { op: 'sleep', ms: 200 },
    ...clients.map((c) => ({ op: 'syn', target, ...c })),
    { op: 'waitRecords', count: clients.length, timeoutMs: 5000 },
    { op: 'sleep', ms: 300 },
    { op: 'end' },
  ]);
  const recs = evs.filter((e) => e.ev === 'record');
  assert.equal(recs.length, clients.length, JSON.stringify(evs));
  for (const c of clients) {
    const [ip, port] = c.client.split(':');
    const r = recs.find((x) => x.dport === Number(port));
    assert.ok(r, `record for ${c.client}`);
    assert.equal(r.src, ipNum(net.targetIp));
    assert.equal(r.dst, ipNum(ip!));
    assert.equal(r.sport, SERVICE_PORT);
    assert.equal(r.flags, 0x12, 'SYN|ACK');
    assert.equal(r.ack, (c.seq + 1) >>> 0, 'acks the fake SYN');
    assert.equal(r.ihl, 20);
    assert.equal(Number(r.totLen) - 20 - Number(r.doff), 0, 'no payload');
    const opts = String(r.options);
    assert.match(opts, /020405b4|0204/, 'MSS option present');
    // The kernel echoes our TS value in the timestamp option (kind 8, len 10, val, ecr).
    const tsAt = opts.indexOf('080a');
    assert.ok(tsAt >= 0 && tsAt % 2 === 0, `timestamps in ${opts}`);
    assert.equal(parseInt(opts.slice(tsAt + 12, tsAt + 20), 16), c.tsval, 'TS echo');
    assert.equal(String(r.hex).length, 128, '64-byte record');
  }
  // Both connections are live copier links; each session's records stay on one of them.
  assert.deepEqual(new Set(evs.filter((e) => e.ev === 'connected').map((e) => e.conn)), new Set([0, 1]));

  // Pass list: the copier host's own address talks to the server normally…
  assert.match(await realClient(lab, net.copier, net.copierIp, net.targetIp), /^GOT 220 hello/);
  // …another address does not get an answer (its SYN-ACK is intercepted).
  assert.equal(await realClient(lab, net.copier, blocked, net.targetIp), 'TIMEOUT');

  await dump.stop();
  const seen = (await tcpdumpRead(lab, dump.file)).split('\n').filter((l) => l.trim() !== '');
  const leaked = seen.filter((l) => !l.includes(`> ${net.copierIp}.`));
  assert.deepEqual(leaked, [], 'no response may leave the target namespace except to the pass-listed address');
  assert.ok(seen.length > 0, 'the pass-listed exchange was captured (the capture works)');

  const exit = await intercept.stop('SIGTERM', 5000);
  assert.equal(exit.code, 0, intercept.stderr.slice(-2000));
  assert.deepEqual(await outputRules(lab, net.target), [], 'the rule is gone after SIGTERM');
  assert.match(intercept.stderr, /final stats: .*passed=[1-9]/);
  assert.match(intercept.stderr, /records=[1-9]/);
});
