// The systemd units and what they promise: `systemd-analyze verify` passes (no systemd as PID 1
// needed), install-systemd.sh installs a working copy and removes it again, and the hardening
// works: the unit's own command lines, run as a non-root user with only the unit's capabilities
// (setpriv, as systemd would), intercept opens the queue and serves a copier (itself hardened the
// same way), exports metrics and reopens its log on SIGHUP; without the capabilities it stops
// with a message naming what is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labFor, requireRoot, twoHost, type Lab, type LabProcess } from '../helpers/lab.js';
import { startNginx } from '../helpers/servers.js';
import { NODE_FLAGS, cliPath, fixturesDir, repoRoot } from '../helpers/paths.js';

const rootSkip = requireRoot();
const hasAnalyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].some((p) => existsSync(p));
const analyzeSkip = hasAnalyze ? false : 'needs systemd-analyze (apt-get install systemd; scripts/install-deps.sh --with-test-tools)';
const hasSetpriv = existsSync('/usr/bin/setpriv');

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** [Section] Key=Value lines of a unit (repeated keys collected in order). */
function parseUnit(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (kv === null) continue;
    m.set(kv[1] as string, [...(m.get(kv[1] as string) ?? []), kv[2] as string]);
  }
  return m;
}

/** KEY=value lines of an EnvironmentFile. */
function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const kv = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (kv !== null) env[kv[1] as string] = kv[2] as string;
  }
  return env;
}

/** systemd's expansion: ${X} → one word, $X → split on whitespace; "+" prefix dropped. */
function expand(cmdline: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  for (const w of cmdline.replace(/^\+/, '').split(/\s+/).filter((s) => s !== '')) {
    const whole = /^\$([A-Z_]+)$/.exec(w);
    if (whole !== null) words.push(...(env[whole[1] as string] ?? '').split(/\s+/).filter((s) => s !== ''));
    else words.push(w.replace(/\$\{([A-Z_]+)\}/g, (_, k: string) => env[k] ?? ''));
  }
  return words;
}

const unitText = (name: string): string =>
  readFileSync(join(repoRoot, 'systemd', name), 'utf8').replaceAll('@PREFIX@', repoRoot).replaceAll('@NODE@', process.execPath);

test('units: hardening directives as specified', () => {
  for (const name of ['intercept.service', 'tcpcopy@.service']) {
    const u = parseUnit(unitText(name));
    const one = (k: string): string | undefined => u.get(k)?.[0];
    assert.equal(one('AmbientCapabilities'), 'CAP_NET_ADMIN CAP_NET_RAW', name);
    assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_ADMIN CAP_NET_RAW', name);
    for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['Restart', 'on-failure'], ['User', 'tcpcopy'], ['Type', 'simple']]) {
      assert.equal(one(k as string), v, `${name}: ${k}`);
    }
    assert.ok(!(one('ExecStart') ?? '').includes(' -d'), `${name} runs in the foreground`);
  }
  const i = parseUnit(unitText('intercept.service'));
  assert.equal(i.get('EnvironmentFile')?.[0], '/etc/tcpcopy/intercept.env');
  assert.match(i.get('ExecStartPre')?.[0] ?? '', /^\+\S+\/scripts\/intercept-rules\.sh add --port \$\{SERVICE_PORTS\} --queue \$\{QUEUE_NUM\}$/);
  assert.match(i.get('ExecStopPost')?.[0] ?? '', /^\+\S+\/scripts\/intercept-rules\.sh del --port \$\{SERVICE_PORTS\} --queue \$\{QUEUE_NUM\}$/);
  assert.equal(parseUnit(unitText('tcpcopy@.service')).get('EnvironmentFile')?.[0], '/etc/tcpcopy/%i.env');
});

test('example env files: the offline one names a capture file, the live one a device, -L and the stats interval', () => {
  const args = (file: string): string[] => expand('$TCPCOPY_ARGS', parseEnv(readFileSync(join(repoRoot, 'systemd', file), 'utf8')));
  const offline = args('tcpcopy.env.example');
  assert.match(offline[offline.indexOf('-i') + 1] ?? '', /\.pcap$/);
  const live = args('tcpcopy@live.env.example');
  for (const flag of ['-x', '-s', '-i', '-L', '--nice', '--stats-interval']) assert.ok(live.includes(flag), `live example has ${flag}: ${live.join(' ')}`);
  // A device name, not a file: tcpcopy captures live when -i names no existing file.
  assert.match(live[live.indexOf('-i') + 1] ?? '', /^[a-z][a-z0-9]*$/);
  assert.doesNotMatch(live.join(' '), / -d( |$)/, 'foreground: systemd supervises it');
});

test('install-systemd.sh into a temp root: systemd-analyze verify is clean; installed program runs; uninstall', { skip: analyzeSkip, timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'tcpcopy-systemd-test-'));
  try {
    const inst = await run('bash', ['scripts/install-systemd.sh', 'install', '--root', root, '--node', process.execPath], { cwd: repoRoot });
    assert.equal(inst.code, 0, inst.stderr);
    const prefix = join(root, 'opt/tcpcopy-ts');
    for (const f of ['dist/src/cli/intercept.js', 'dist/src/cli/tcpcopy.js', 'scripts/intercept-rules.sh', 'node_modules/prom-client/package.json', 'node_modules/commander/package.json']) {
      assert.ok(existsSync(join(prefix, f)), `installed ${f}`);
    }
    assert.ok(!existsSync(join(prefix, 'node_modules/typescript')), 'dev dependencies are not installed');
    assert.ok(existsSync(join(root, 'etc/tcpcopy/intercept.env')) && existsSync(join(root, 'etc/tcpcopy/example.env')));
    assert.equal(readFileSync(join(root, 'etc/tcpcopy/live-example.env'), 'utf8'), readFileSync(join(repoRoot, 'systemd/tcpcopy@live.env.example'), 'utf8'), 'the live example is installed');
    // The installed copy runs on its own (its node_modules, its dist).
    const v = await run(process.execPath, [join(prefix, 'dist/src/cli/intercept.js'), '--version']);
    assert.equal(v.code, 0, v.stderr);
    // The command wrappers (pointed at the staging root) run the installed CLIs.
    for (const [name, re] of [['intercept', /--metrics-port/], ['tcpcopy', /Usage: tcpcopy/]] as const) {
      const wrapper = readFileSync(join(root, 'usr/local/bin', name), 'utf8');
      assert.ok(wrapper.includes(`exec ${process.execPath} ${NODE_FLAGS[name].join(" ")} /opt/tcpcopy-ts/dist/src/cli/${name}.js "$@"`), wrapper);
      const local = join(root, `${name}-wrapper.sh`);
      writeFileSync(local, wrapper.replaceAll('/opt/tcpcopy-ts', prefix));
      const h = await run('sh', [local, '--help']);
      assert.match(h.stdout, re, `${name} wrapper: ${h.stderr}`);
    }

    // verify resolves paths against the running system: point the units at the temp root.
    const vdir = join(root, 'verify');
    await run('mkdir', ['-p', vdir]);
    const units: string[] = [];
    for (const [src, dst, name] of [['intercept.service', 'intercept.service', 'intercept'], ['tcpcopy@.service', 'tcpcopy@example.service', 'tcpcopy']] as const) {
      const text = readFileSync(join(root, 'etc/systemd/system', src), 'utf8');
      assert.ok(text.includes(`ExecStart=${process.execPath} ${NODE_FLAGS[name].join(' ')} /opt/tcpcopy-ts/dist/src/cli/${name}.js`), 'placeholders filled in');
      const local = text.replaceAll('/opt/tcpcopy-ts', prefix).replaceAll('/etc/tcpcopy/', join(root, 'etc/tcpcopy') + '/');
      // Every absolute path a command line names exists in the installed tree.
      for (const line of local.split('\n').filter((l) => /^Exec(Start|StartPre|StopPost)=/.test(l))) {
        for (const p of line.split('=').slice(1).join('=').replace(/^\+/, '').split(/\s+/).filter((w) => w.startsWith('/'))) assert.ok(existsSync(p), `${src}: ${p} exists`);
      }
      writeFileSync(join(vdir, dst), local);
      units.push(join(vdir, dst));
    }
    const ok = await run('systemd-analyze', ['verify', ...units], { cwd: vdir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr.trim(), '', `systemd-analyze verify warnings:\n${ok.stderr}`);
    // The check can fail: a typo in a hardening directive is reported.
    const bad = join(vdir, 'broken.service');
    writeFileSync(bad, readFileSync(units[0] as string, 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=strictest'));
    const broken = await run('systemd-analyze', ['verify', bad], { cwd: vdir });
    assert.match(broken.stderr, /ProtectSystem|protect system/i);

    const un = await run('bash', ['scripts/install-systemd.sh', 'uninstall', '--root', root], { cwd: repoRoot });
    assert.equal(un.code, 0, un.stderr);
    assert.ok(!existsSync(prefix) && !existsSync(join(root, 'etc/systemd/system/intercept.service')));
    assert.ok(!existsSync(join(root, 'usr/local/bin/intercept')), 'wrappers removed');
    assert.ok(existsSync(join(root, 'etc/tcpcopy/intercept.env')), 'configuration kept without --purge');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** setpriv arguments for "user nobody with exactly these capabilities", as systemd's unit gives. */
function setprivArgs(caps: string[]): string[] {
  const list = caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',');
  const set = caps.length === 0 ? '-all' : `-all,${list}`;
  return ['--reuid=nobody', '--regid=nogroup', '--init-groups', `--inh-caps=${set}`, `--ambient-caps=${set}`, `--bounding-set=${set}`, '--no-new-privs'];
}

function capsOf(pid: number): { uid: string; eff: string; bnd: string } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    uid: /^Uid:\s+(\d+)/m.exec(s)?.[1] ?? '?',
    eff: /^CapEff:\s+(\S+)/m.exec(s)?.[1] ?? '?',
    bnd: /^CapBnd:\s+(\S+)/m.exec(s)?.[1] ?? '?',
  };
}

async function curl(lab: Lab, ns: string, url: string): Promise<string> {
  const r = await lab.exec(ns, 'curl', ['-sS', '--max-time', '5', url]);
  return r.stdout;
}

const metric = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

test('hardening: the unit command lines as nobody with only CAP_NET_ADMIN+CAP_NET_RAW serve a hardened copier', { skip: rootSkip || (hasSetpriv ? false : 'needs setpriv (util-linux)'), timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'systemd' });
  const net = await twoHost(lab);
  const unit = parseUnit(unitText('intercept.service'));
  const caps = (unit.get('AmbientCapabilities')?.[0] ?? '').split(' ');
  const env: Record<string, string> = { ...parseEnv(readFileSync(join(repoRoot, 'systemd/intercept.env.example'), 'utf8')), SERVICE_PORTS: '80', QUEUE_NUM: '0' };
  const logDir = lab.mkdir('log');
  // The unit's LogsDirectory= is writable by its user; here: a directory nobody can write to.
  chmodSync(lab.tmpDir, 0o711);
  chmodSync(logDir, 0o777);
  const logFile = join(logDir, 'intercept.log');
  env.INTERCEPT_ARGS = `${env.INTERCEPT_ARGS ?? ''} --metrics-port 9464 -l ${logFile}`;

  const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  // ExecStartPre (root, "+").
  const pre = expand(unit.get('ExecStartPre')?.[0] ?? '', env);
  await lab.exec(net.target, pre[0] as string, pre.slice(1));
  // ExecStart, as the unprivileged user with the unit's capabilities.
  const start = expand(unit.get('ExecStart')?.[0] ?? '', env);
  const intercept: LabProcess = lab.spawn(net.target, 'setpriv', [...setprivArgs(caps), ...start]);
  const deadline = Date.now() + 15_000;
  while (!(existsSync(logFile) && /intercept ready/.test(readFileSync(logFile, 'utf8')))) {
    assert.ok(Date.now() < deadline && intercept.running, `intercept did not start: ${intercept.stderr}${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const c = capsOf(intercept.pid);
  assert.deepEqual(c, { uid: '65534', eff: '0000000000003000', bnd: '0000000000003000' }, 'intercept runs as nobody with exactly NET_ADMIN+NET_RAW');

  // The copier, hardened the same way (tcpcopy@.service's capabilities).
  const tcaps = (parseUnit(unitText('tcpcopy@.service')).get('AmbientCapabilities')?.[0] ?? '').split(' ');
  const pcap = join(fixturesDir, 'demo', 'http-sample.pcap');
  const meta = JSON.parse(readFileSync(join(fixturesDir, 'demo', 'http-sample.json'), 'utf8')) as { requests: number; connections: number };
  const copier = lab.spawn(net.copier, 'setpriv', [...setprivArgs(tcaps), process.execPath, cliPath('tcpcopy'), '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', pcap, '--quiet']);
  const exit = await copier.exited;
  assert.equal(exit.code, 0, `${copier.stdout}\n${copier.stderr}`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(nginx.readAccessLog().length, meta.requests, 'every recorded request reached nginx');

  // Metrics on loopback only, with the stats counters and process metrics.
  const text = await curl(lab, net.target, 'http://127.0.0.1:9464/metrics');
  assert.ok(metric(text, 'tcpcopy_intercept_queued_total') >= meta.connections * 2, text.slice(0, 500));
  assert.ok(metric(text, 'tcpcopy_intercept_records_total') > 0);
  assert.equal(metric(text, 'tcpcopy_intercept_conns_accepted_total'), 2, 'tcpcopy -C default: 2 connections');
  assert.ok(metric(text, 'tcpcopy_intercept_process_resident_memory_bytes') > 0);
  const outside = await lab.exec(net.copier, 'curl', ['-sS', '--max-time', '3', `http://${net.targetIp}:9464/metrics`], { check: false });
  assert.notEqual(outside.code, 0, 'metrics are not reachable from another host by default');

  // logrotate: move the file away, SIGHUP, the daemon writes to a new file.
  renameSync(logFile, `${logFile}.1`);
  intercept.signal('SIGHUP');
  const d2 = Date.now() + 5000;
  while (!existsSync(logFile) && Date.now() < d2) await new Promise((r) => setTimeout(r, 50));
  assert.match(readFileSync(logFile, 'utf8'), /INFO log file reopened \(SIGHUP\)/);

  // A crash (SIGKILL: no clean-up of its own), then ExecStopPost removes the rule.
  intercept.signal('SIGKILL');
  await intercept.exited;
  const before = await lab.exec(net.target, 'iptables', ['-S', 'OUTPUT']);
  assert.match(before.stdout, /tcpcopy-ts intercept/);
  const post = expand(unit.get('ExecStopPost')?.[0] ?? '', env);
  await lab.exec(net.target, post[0] as string, post.slice(1));
  const after = await lab.exec(net.target, 'iptables', ['-S', 'OUTPUT']);
  assert.doesNotMatch(after.stdout, /NFQUEUE/);
});

test('hardening: without the capabilities intercept and --check name what is missing', { skip: rootSkip || (hasSetpriv ? false : 'needs setpriv (util-linux)'), timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'systemd-nocap' });
  const net = await twoHost(lab);
  await lab.exec(net.target, 'bash', [join(repoRoot, 'scripts/intercept-rules.sh'), 'add', '--port', '80']);
  const p = lab.spawn(net.target, 'setpriv', [...setprivArgs([]), process.execPath, cliPath('intercept'), '--stats-interval', '0']);
  const exit = await p.exited;
  assert.equal(exit.code, 1);
  assert.match(p.stderr, /cannot start: cannot bind NFQUEUE 0 .*Operation not permitted.*CAP_NET_ADMIN/);
  const check = await lab.exec(net.target, 'setpriv', [...setprivArgs([]), process.execPath, cliPath('intercept'), '--check', '--check-ports', '80'], { check: false });
  assert.equal(check.code, 1, check.stdout);
  assert.match(check.stdout, /PROBLEM {2}privileges: uid 65534 lacks CAP_NET_ADMIN and CAP_NET_RAW/);
  // With the two capabilities the same check passes the privilege line.
  const withCaps = await lab.exec(net.target, 'setpriv', [...setprivArgs(['CAP_NET_ADMIN', 'CAP_NET_RAW']), process.execPath, cliPath('intercept'), '--check', '--check-ports', '80'], { check: false });
  assert.match(withCaps.stdout, /ok {7}privileges: uid 65534 with CAP_NET_ADMIN \+ CAP_NET_RAW/);
  assert.match(withCaps.stdout, /ok {7}iptables rule → NFQUEUE 0: responses from port\(s\) 80 are queued/);
});
