// The README's two-host walkthrough, command for command, in a lab: the test server starts with
// no route to the clients and strict rp_filter; the operator runs route-setup.sh, intercept-rules.sh,
// intercept --check (clean), intercept, then tcpcopy on the copier host. The target's own access
// log must hold every recorded request of the bundled capture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labFor, requireRoot, twoHost } from '../helpers/lab.js';
import { startNginx } from '../helpers/servers.js';
import { cliPath, fixturesDir, repoRoot } from '../helpers/paths.js';

const skip = requireRoot();

test('two-host walkthrough: route-setup.sh + intercept-rules.sh + intercept --check + replay', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'walkthrough' });
  const net = await twoHost(lab);
  const meta = JSON.parse(readFileSync(join(fixturesDir, 'demo', 'http-sample.json'), 'utf8')) as { requests: number; clientAddresses: string[] };
  const clientNet = `${(meta.clientAddresses[0] ?? '').split('.').slice(0, 3).join('.')}.0/24`;
  // A fresh test server: no route towards the clients, strict reverse-path filtering.
  await lab.ip(net.target, ['route', 'del', 'default']);
  await lab.sysctl(net.target, { 'net.ipv4.conf.all.rp_filter': '1', [`net.ipv4.conf.${net.targetIf}.rp_filter`]: '1' });
  const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  const intercept = (args: string[]): Promise<{ code: number; stdout: string }> =>
    lab.exec(net.target, process.execPath, [cliPath('intercept'), ...args], { check: false });
  const checkArgs = ['--check', '--check-ports', '80', '--check-clients', clientNet, '--check-copier', net.copierIp];

  // Before: the doctor names both missing pieces.
  const before = await intercept(checkArgs);
  assert.equal(before.code, 1);
  assert.match(before.stdout, /PROBLEM {2}iptables rule/);
  assert.match(before.stdout, /PROBLEM {2}route to the client addresses/);

  // Test server: the two set-up commands, then the check passes.
  await lab.exec(net.target, 'bash', [join(repoRoot, 'scripts/route-setup.sh'), 'add', '--clients', clientNet, '--via', net.copierIp]);
  await lab.exec(net.target, 'bash', [join(repoRoot, 'scripts/intercept-rules.sh'), 'add', '--port', '80']);
  const after = await intercept(checkArgs);
  assert.equal(after.code, 0, after.stdout);
  const ic = lab.spawn(net.target, process.execPath, [cliPath('intercept'), '--allow', `${net.copierIp}/32`, '--stats-interval', '0']);
  await ic.waitFor(/intercept ready/, 'stderr', 15_000);

  // Copier host.
  const run = await lab.exec(net.copier, process.execPath, [cliPath('tcpcopy'), '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', join(fixturesDir, 'demo', 'http-sample.pcap'), '--quiet'], { check: false, timeoutMs: 90_000 });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(nginx.readAccessLog().length, meta.requests, run.stdout);
  assert.ok(nginx.readAccessLog().every((e) => meta.clientAddresses.includes(e.remoteAddr)), 'the server saw the captured client addresses');
});
