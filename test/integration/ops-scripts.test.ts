// scripts/intercept-rules.sh and scripts/route-setup.sh in a namespace: idempotent add, exact
// del, status, both iptables backends (nft and legacy when installed), agreement with intercept's
// own --install-rule (same tagged rule), clear messages for bad input and a missing iptables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labFor, requireRoot, twoHost, type Lab } from '../helpers/lab.js';
import { cliPath, repoRoot } from '../helpers/paths.js';

const skip = requireRoot();
const rules = join(repoRoot, 'scripts/intercept-rules.sh');
const route = join(repoRoot, 'scripts/route-setup.sh');
const backends = ['iptables', ...(['/usr/sbin/iptables-legacy', '/sbin/iptables-legacy'].some((p) => existsSync(p)) ? ['iptables-legacy'] : [])];

async function listOutput(lab: Lab, ns: string, ipt: string): Promise<string[]> {
  const r = await lab.exec(ns, ipt, ['-w', '-S', 'OUTPUT']);
  return r.stdout.split('\n').filter((l) => l.startsWith('-A '));
}

for (const ipt of backends) {
  test(`intercept-rules.sh with ${ipt}: add twice = one rule per port, status, exact del, del-all keeps foreign rules`, { skip, timeout: 60_000 }, async (t) => {
    const lab = await labFor(t, { name: 'ops-rules' });
    const ns = await lab.addNamespace('host');
    const sh = (args: string[], check = true): ReturnType<Lab['exec']> => lab.exec(ns, 'bash', [rules, ...args, '--iptables', ipt], { check });
    // A rule that is not ours must survive everything below.
    await lab.exec(ns, ipt, ['-w', '-A', 'OUTPUT', '-p', 'tcp', '--sport', '22', '-j', 'ACCEPT']);

    const a1 = await sh(['add', '--port', '80,6379', '--queue', '3']);
    assert.match(a1.stdout, /^added: +OUTPUT -p tcp --sport 80 /m);
    const a2 = await sh(['add', '--port', '80,6379', '--queue', '3']);
    assert.match(a2.stdout, /^present: OUTPUT -p tcp --sport 80 /m);
    let listed = await listOutput(lab, ns, ipt);
    assert.equal(listed.filter((l) => l.includes('NFQUEUE')).length, 2, listed.join('\n'));
    for (const p of [80, 6379]) {
      assert.ok(listed.some((l) => l === `-A OUTPUT ! -o lo -p tcp -m tcp --sport ${p} -m comment --comment "tcpcopy-ts intercept" -j NFQUEUE --queue-num 3`), listed.join('\n'));
    }

    const st = await sh(['status', '--port', '80,443', '--queue', '3'], false);
    assert.equal(st.code, 3, 'status exits 3 when a rule is missing');
    assert.match(st.stdout, /port 80: rule present/);
    assert.match(st.stdout, /port 443: rule MISSING \(add it: intercept-rules\.sh add --port 443 --queue 3\)/);
    assert.match(st.stdout, /NFQUEUE 3: no process bound/);

    // --out-if makes a different rule; del removes exactly the one asked for.
    await sh(['add', '--port', '8080', '--out-if', 'eth9']);
    assert.ok((await listOutput(lab, ns, ipt)).some((l) => /-o eth9 .*--sport 8080 .*--queue-num 0$/.test(l)));
    const d = await sh(['del', '--port', '80', '--queue', '3']);
    assert.match(d.stdout, /^deleted: OUTPUT -p tcp --sport 80 /m);
    listed = await listOutput(lab, ns, ipt);
    assert.ok(!listed.some((l) => l.includes('--sport 80 ')) && listed.some((l) => l.includes('--sport 6379')));
    // del without --port: every tagged rule, nothing else.
    const all = await sh(['del']);
    assert.equal(all.stdout.split('\n').filter((l) => l.startsWith('deleted:')).length, 2, all.stdout);
    listed = await listOutput(lab, ns, ipt);
    assert.deepEqual(listed, ['-A OUTPUT -p tcp -m tcp --sport 22 -j ACCEPT']);
    assert.match((await sh(['del'])).stdout, /no rules tagged "tcpcopy-ts intercept"/);
  });
}

test('intercept-rules.sh and intercept --install-rule manage the same rule', { skip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'ops-agree' });
  const net = await twoHost(lab);
  await lab.exec(net.target, 'bash', [rules, 'add', '--port', '80']);
  const ic = lab.spawn(net.target, process.execPath, [cliPath('intercept'), '--install-rule', '80', '--stats-interval', '0']);
  await ic.waitFor(/intercept ready/, 'stderr', 15_000);
  assert.match(ic.stderr, /left by an earlier run and adopted: 80/, 'intercept recognises the script\'s rule');
  assert.equal((await listOutput(lab, net.target, 'iptables')).filter((l) => l.includes('NFQUEUE')).length, 1, 'no duplicate');
  const st = await lab.exec(net.target, 'bash', [rules, 'status', '--port', '80']);
  assert.match(st.stdout, /NFQUEUE 0: bound by a process/);
  await ic.stop();
  assert.deepEqual((await listOutput(lab, net.target, 'iptables')).filter((l) => l.includes('NFQUEUE')), [], 'intercept removed it at exit');
});

test('intercept-rules.sh / route-setup.sh: bad input and missing tools are named', { skip, timeout: 30_000 }, async (t) => {
  const lab = await labFor(t, { name: 'ops-bad' });
  const ns = await lab.addNamespace('host');
  const bad = async (script: string, args: string[]): Promise<{ code: number; stderr: string }> => lab.exec(ns, 'bash', [script, ...args], { check: false });
  let r = await bad(rules, ['add', '--port', '80,x']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--port '80,x': 'x' is not a port \(1\.\.65535\); accepted form: P\[,P\.\.\.\]/);
  r = await bad(rules, ['add']);
  assert.match(r.stderr, /add needs --port/);
  r = await bad(rules, ['add', '--port', '80', '--queue', '70000']);
  assert.match(r.stderr, /--queue '70000': expected a number 0\.\.65535/);
  r = await bad(rules, ['add', '--port', '80', '--iptables', 'iptables-nosuch']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /'iptables-nosuch' not found\. Install it: apt-get install iptables/);
  r = await bad(route, ['add', '--clients', '10.1.0.0/33', '--via', '10.0.0.1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--clients '10\.1\.0\.0\/33': expected a\.b\.c\.d\/len or default/);
  r = await bad(route, ['add', '--clients', '10.1.0.0/16', '--via', '10.9.9.9']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot add the route 10\.1\.0\.0\/16 via 10\.9\.9\.9: .*directly connected/);
});

test('route-setup.sh: add is idempotent, status, rp_filter loose, del removes exactly its routes', { skip, timeout: 30_000 }, async (t) => {
  const lab = await labFor(t, { name: 'ops-route' });
  const net = await twoHost(lab);
  await lab.ip(net.target, ['route', 'del', 'default']);
  await lab.sysctl(net.target, { 'net.ipv4.conf.all.rp_filter': '1' });
  const sh = (args: string[], check = true): ReturnType<Lab['exec']> => lab.exec(net.target, 'bash', [route, ...args], { check });
  let r = await sh(['add', '--clients', '10.252.0.0/16,10.253.1.0/24', '--via', net.copierIp]);
  assert.match(r.stdout, /note: strict rp_filter/);
  r = await sh(['add', '--clients', '10.252.0.0/16', '--via', net.copierIp, '--rp-filter', 'loose']);
  assert.match(r.stdout, new RegExp(`rp_filter: all=2 ${net.targetIf}=2 \\(effective 2`));
  const routes = (await lab.ip(net.target, ['route'])).stdout;
  assert.equal(routes.split('\n').filter((l) => l.startsWith('10.252.0.0/16')).length, 1, routes);
  const get = await lab.ip(net.target, ['route', 'get', '10.252.3.4']);
  assert.match(get.stdout, new RegExp(`via ${net.copierIp.replace(/\./g, '\\.')} dev ${net.targetIf}`));
  r = await sh(['status', '--clients', '10.252.0.0/16,10.254.0.0/16'], false);
  assert.equal(r.code, 3);
  assert.match(r.stdout, /route 10\.254\.0\.0\/16: MISSING/);
  await lab.ip(net.target, ['route', 'add', '10.254.0.0/16', 'dev', net.targetIf]);
  r = await sh(['del', '--clients', '10.252.0.0/16,10.253.1.0/24,10.254.0.0/16', '--via', net.copierIp]);
  assert.match(r.stdout, /absent: +10\.254\.0\.0\/16 via/);
  const left = (await lab.ip(net.target, ['route'])).stdout;
  assert.ok(!left.includes('10.252.0.0/16') && !left.includes('10.253.1.0/24') && left.includes('10.254.0.0/16'), left);
});

test('intercept-rules.sh: a kernel without the NFQUEUE target or iptables without permission get the fix', { skip, timeout: 30_000 }, async (t) => {
  const lab = await labFor(t, { name: 'ops-fake' });
  const ns = await lab.addNamespace('host');
  const dir = lab.mkdir('bin');
  // Stand-ins printing what iptables says in those cases (the real kernel here has the target built in).
  const fake = (name: string, message: string, status: number): string => {
    const f = join(dir, name);
    writeFileSync(f, `#!/bin/sh\ncase "$*" in *-V*) echo "iptables v1.8.9 (legacy)"; exit 0;; esac\necho "${message}" >&2\nexit ${status}\n`);
    chmodSync(f, 0o755);
    return f;
  };
  const noTarget = fake('ipt-notarget', "iptables v1.8.9 (legacy): Couldn't load target \\`NFQUEUE':No such file or directory", 2);
  let r = await lab.exec(ns, 'bash', [rules, 'add', '--port', '80', '--iptables', noTarget], { check: false });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot check the rule for port 80 .*the NFQUEUE target is not available in this kernel: load it with 'modprobe nfnetlink_queue xt_NFQUEUE'/);
  const denied = fake('ipt-denied', 'iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)', 4);
  r = await lab.exec(ns, 'bash', [rules, 'add', '--port', '80', '--iptables', denied], { check: false });
  assert.match(r.stderr, /not allowed to change iptables: run as root \(or with CAP_NET_ADMIN\)/);
});
