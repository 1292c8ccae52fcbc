// The preflight checks against real kernels: each precondition is broken in a namespace and the
// doctor must name it (and pass once it is fixed). Intercept side through `intercept --check`;
// copier side through the shared module (src/app/doctor.ts copierDoctor) run inside the copier
// namespace. Not breakable here: nfnetlink_queue is built into this kernel (unit-tested instead).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labFor, requireRoot, twoHost, type Lab, type TwoHost } from '../helpers/lab.js';
import { cliPath, distDir, fixturesDir, repoRoot } from '../helpers/paths.js';

const skip = requireRoot();
const rules = join(repoRoot, 'scripts/intercept-rules.sh');

interface Check {
  code: number;
  out: string;
  /** status by check title prefix, e.g. lines['privileges'] = 'ok'. */
  line(title: string): string;
}

function parse(code: number, out: string): Check {
  return {
    code,
    out,
    line: (title: string) => {
      const i = out.split('\n').findIndex((l) => l.slice(11).startsWith(title));
      assert.ok(i >= 0, `no "${title}" check in:\n${out}`);
      const lines = out.split('\n');
      const fix = lines[i + 1]?.startsWith('           fix: ') ? `\n${lines[i + 1]}` : '';
      return `${lines[i]}${fix}`;
    },
  };
}

async function interceptCheck(lab: Lab, ns: string, args: string[]): Promise<Check> {
  const r = await lab.exec(ns, process.execPath, [cliPath('intercept'), '--check', ...args], { check: false });
  return parse(r.code, r.stdout);
}

const COPIER_RUNNER = `
const [doctor, core, opts] = [process.argv[1], process.argv[2], JSON.parse(process.argv[3])];
const { copierDoctor } = await import(doctor);
const { formatReport, checkExitCode } = await import(core);
const r = await copierDoctor(opts);
process.stdout.write(formatReport('tcpcopy', r));
process.exitCode = checkExitCode(r);
`;

async function copierCheck(lab: Lab, ns: string, opts: object, asNobody = false): Promise<Check> {
  const node = [process.execPath, '--input-type=module', '-e', COPIER_RUNNER, join(distDir, 'src/app/doctor.js'), join(distDir, 'src/core/doctor/index.js'), JSON.stringify(opts)];
  const r = asNobody
    ? await lab.exec(ns, 'setpriv', ['--reuid=nobody', '--regid=nogroup', '--init-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', ...node], { check: false })
    : await lab.exec(ns, node[0] as string, node.slice(1), { check: false });
  return parse(r.code, r.stdout + r.stderr);
}

/** Two hosts; the fake clients are 10.252.0.0/16 (the target reaches them through its default route via the copier). */
async function setup(lab: Lab): Promise<{ net: TwoHost; clients: string }> {
  const net = await twoHost(lab);
  // twoHost gives the target a default route via the copier: that is the route for any client.
  return { net, clients: '10.252.0.0/16' };
}

test('intercept --check: all ok, then each rule problem is named with its fix', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'doctor-rules' });
  const { net, clients } = await setup(lab);
  const base = ['--check-ports', '80', '--check-clients', clients, '--check-copier', net.copierIp];

  // No rule.
  let c = await interceptCheck(lab, net.target, base);
  assert.equal(c.code, 1, c.out);
  assert.match(c.line('iptables rule'), /PROBLEM .*no rule queues responses from port\(s\) 80 to NFQUEUE 0\n.*fix: bash \S*intercept-rules\.sh add --port 80 --queue 0/);

  // The suggested fix, then everything passes.
  await lab.exec(net.target, 'bash', [rules, 'add', '--port', '80']);
  c = await interceptCheck(lab, net.target, base);
  assert.equal(c.code, 0, c.out);
  assert.match(c.out, /intercept: all \d+ checks passed/);

  // Wrong queue number.
  await lab.exec(net.target, 'bash', [rules, 'del']);
  await lab.exec(net.target, 'bash', [rules, 'add', '--port', '80', '--queue', '1']);
  c = await interceptCheck(lab, net.target, base);
  assert.equal(c.code, 1);
  assert.match(c.line('iptables rule'), /port 80 goes to NFQUEUE 1/);
  assert.equal((await interceptCheck(lab, net.target, [...base, '--queue-num', '1'])).code, 0, 'matching --queue-num fixes it');
  await lab.exec(net.target, 'bash', [rules, 'del']);

  // Rule in INPUT (sees requests, not responses).
  await lab.exec(net.target, 'iptables', ['-I', 'INPUT', '-p', 'tcp', '--dport', '80', '-j', 'NFQUEUE', '--queue-num', '0']);
  c = await interceptCheck(lab, net.target, base);
  assert.match(c.line('rule chain'), /PROBLEM .*queues packets arriving at the server/);
  await lab.exec(net.target, 'iptables', ['-D', 'INPUT', '-p', 'tcp', '--dport', '80', '-j', 'NFQUEUE', '--queue-num', '0']);

  // A rule queueing every TCP answer also takes the channel port.
  await lab.exec(net.target, 'iptables', ['-I', 'OUTPUT', '-p', 'tcp', '-j', 'NFQUEUE', '--queue-num', '0']);
  c = await interceptCheck(lab, net.target, base);
  assert.equal(c.code, 1);
  assert.match(c.line('channel port not queued'), /PROBLEM .*also queues tcp source port 36524/);
});

test('intercept --check: queue and channel port held by another intercept', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'doctor-queue' });
  const { net, clients } = await setup(lab);
  await lab.exec(net.target, 'bash', [rules, 'add', '--port', '80']);
  const other = lab.spawn(net.target, process.execPath, [cliPath('intercept'), '--stats-interval', '0']);
  await other.waitFor(/intercept ready/, 'stderr', 15_000);
  const c = await interceptCheck(lab, net.target, ['--check-ports', '80', '--check-clients', clients]);
  assert.equal(c.code, 1);
  assert.match(c.line('NFQUEUE 0 free'), new RegExp(`PROBLEM .*already bound by netlink port ${other.pid} \\(process ${other.pid}: node`));
  assert.match(c.line('channel port'), new RegExp(`PROBLEM .*already in use by node \\(pid ${other.pid}\\)`));
  await other.stop();
  assert.equal((await interceptCheck(lab, net.target, ['--check-ports', '80', '--check-clients', clients])).code, 0);
});

test('intercept --check: no route back to the clients; strict rp_filter with an asymmetric route', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'doctor-route' });
  const { net, clients } = await setup(lab);
  await lab.exec(net.target, 'bash', [rules, 'add', '--port', '80']);
  const base = ['--check-ports', '80', '--check-clients', clients, '--check-copier', net.copierIp];

  await lab.ip(net.target, ['route', 'del', 'default']);
  let c = await interceptCheck(lab, net.target, base);
  assert.equal(c.code, 1);
  assert.match(c.line('route to the client addresses'), /PROBLEM .*no route to 10\.252\.0\.0\/16 .*never answers those clients.*\n.*fix: bash \S*route-setup\.sh add --clients 10\.252\.0\.0\/16 --via /);
  // The suggested fix, through the script.
  const fixed = await lab.exec(net.target, 'bash', [join(repoRoot, 'scripts/route-setup.sh'), 'add', '--clients', clients, '--via', net.copierIp]);
  assert.match(fixed.stdout, /route: 10\.252\.0\.0\/16 via/);
  c = await interceptCheck(lab, net.target, base);
  assert.equal(c.code, 0, c.out);

  // Clients routed out of another interface while packets come from the copier: strict drops them.
  const dev = await lab.addDummy(net.target);
  await lab.ip(net.target, ['route', 'replace', clients, 'dev', dev]);
  await lab.sysctl(net.target, { [`net.ipv4.conf.${net.targetIf}.rp_filter`]: '1' });
  c = await interceptCheck(lab, net.target, base);
  assert.equal(c.code, 1);
  assert.match(c.line('rp_filter'), new RegExp(`PROBLEM .*strict .*arrive on ${net.targetIf} but the route back to them uses ${dev}`));
  await lab.sysctl(net.target, { [`net.ipv4.conf.${net.targetIf}.rp_filter`]: '2' });
  assert.match((await interceptCheck(lab, net.target, base)).line('rp_filter'), /^ {2}ok/);
});

test('copier checks: interceptor down, raw socket denied, capture file and device problems, no route to the target', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'doctor-copier' });
  const { net } = await setup(lab);
  const pcap = join(fixturesDir, 'demo', 'http-sample.pcap');
  const base = { interceptors: [{ host: net.targetIp, port: 36524 }], targets: [net.targetIp], captureFile: pcap, captureDevices: [], connectTimeoutMs: 2000 };

  // intercept not running.
  let c = await copierCheck(lab, net.copier, base);
  assert.equal(c.code, 1, c.out);
  assert.match(c.line(`interceptor ${net.targetIp}:36524`), /PROBLEM .*connection refused: intercept is not running/);
  assert.match(c.line('capture file'), /ok .*pcap, link type 1 \(EN10MB\)/);
  assert.match(c.line('raw IP socket'), /ok/);

  // The same through the CLI: tcpcopy --check with the replay's own flags.
  const cli = ['--check', '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', pcap];
  let r = await lab.exec(net.copier, process.execPath, [cliPath('tcpcopy'), ...cli], { check: false });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`PROBLEM {2}interceptor ${net.targetIp}:36524: connection refused`));

  // Running: all ok.
  await lab.exec(net.target, 'bash', [rules, 'add', '--port', '80']);
  const ic = lab.spawn(net.target, process.execPath, [cliPath('intercept'), '--stats-interval', '0']);
  await ic.waitFor(/intercept ready/, 'stderr', 15_000);
  c = await copierCheck(lab, net.copier, base);
  assert.equal(c.code, 0, c.out);
  r = await lab.exec(net.copier, process.execPath, [cliPath('tcpcopy'), ...cli], { check: false });
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /tcpcopy: all \d+ checks passed/);

  // Unprivileged: no raw socket, and a capture only root may read.
  const dir = lab.mkdir('cap');
  chmodSync(lab.tmpDir, 0o711);
  const secret = join(dir, 'secret.pcap');
  writeFileSync(secret, Buffer.alloc(24));
  chmodSync(secret, 0o600);
  c = await copierCheck(lab, net.copier, { ...base, captureFile: secret }, true);
  assert.match(c.line('privileges'), /PROBLEM .*lacks CAP_NET_RAW/);
  assert.match(c.line('raw IP socket'), /PROBLEM .*not permitted.*CAP_NET_RAW/);
  assert.match(c.line('capture file'), /PROBLEM .*EACCES/);

  // A link type replay cannot read (802.11), and a file that is not a capture at all.
  const wifi = join(dir, 'wifi.pcap');
  const hdr = Buffer.alloc(24 + 16 + 4);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(105, 20);
  hdr.writeUInt32LE(4, 24 + 8);
  hdr.writeUInt32LE(4, 24 + 12);
  writeFileSync(wifi, hdr);
  c = await copierCheck(lab, net.copier, { ...base, captureFile: wifi });
  assert.match(c.line('capture file'), /PROBLEM .*105/);
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'hello, not a capture\n'.repeat(4));
  assert.match((await copierCheck(lab, net.copier, { ...base, captureFile: text })).line('capture file'), /PROBLEM /);

  // Live capture device: missing, then one libpcap opens.
  c = await copierCheck(lab, net.copier, { ...base, captureFile: null, captureDevices: ['nosuch0'] });
  assert.match(c.line('capture device'), /PROBLEM .*nosuch0: no such interface/);
  c = await copierCheck(lab, net.copier, { ...base, captureFile: null, captureDevices: [net.copierIf] });
  assert.match(c.line('capture device'), new RegExp(`ok .*${net.copierIf}: libpcap opened it`));

  // A target address the copier host has no route to.
  c = await copierCheck(lab, net.copier, { ...base, targets: ['10.253.9.9'] });
  assert.match(c.line('route to the test server 10.253.9.9'), /PROBLEM .*unreachable/i);
  await ic.stop();
});
