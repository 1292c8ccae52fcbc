import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cliPath } from '../../helpers/paths.js';
import { parseTcpcopyOptions as parseWith, OFFLINE_SESSION_TIMEOUT_S, type TcpcopyRawOptions } from '../../../src/core/config/tcpcopy-cli.js';
import { ConfigError } from '../../../src/core/config/errors.js';
import { parseIpv4 } from '../../../src/core/packet/ipv4.js';

const run = (args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, [cliPath('tcpcopy'), ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

// The CLI supplies a random seed; these tests do not look at it.
const parseTcpcopyOptions = (raw: TcpcopyRawOptions): ReturnType<typeof parseWith> => parseWith(raw, { randomSeed: 1 });

const BASE = ['-x', '80-10.0.0.2:8080', '-s', '10.0.0.2', '-i', '/nonexistent.pcap'];

test('tcpcopy -h lists every stock flag with its long form', () => {
  const { code, out } = run(['-h']);
  assert.equal(code, 0);
  const flags: [string, string][] = [
    ['-x', '--transfer'], ['-s', '--intercept'], ['-i', '--pcap'], ['-F', '--filter'], ['-a', '--accelerate'],
    ['-B', '--buffer'], ['-S', '--snaplen'], ['-I', '--interval'], ['-T', '--times'], ['-c', '--client-ip'], ['-H', '--localhost'], ['-n', '--replicas'],
    ['-f', '--port-shift'], ['-m', '--memory'], ['-C', '--connections'], ['-p', '--port'], ['-r', '--percentage'],
    ['-M', '--mtu'], ['-D', '--mss'], ['-U', '--pool-size'], ['-R', '--rtt'], ['-t', '--timeout'], ['-k', '--keepalive'],
    ['-l', '--log'], ['-P', '--pid-file'], ['-L', '--lonely'], ['-W', '--no-wait'], ['-O', '--only-syn'],
    ['-g', '--gradual'], ['-d', '--daemon'], ['-v', '--version'], ['-h', '--help'],
  ];
  for (const [s, l] of flags) assert.ok(out.includes(`${s}, ${l}`), `${s}, ${l}`);
  for (const l of ['--rate', '--quiet', '--log-level', '--stats-interval', '--end-grace', '--check', '--metrics-port', '--metrics-bind', '--with-payload', '--raw-backend', '--capture-backend']) {
    assert.ok(out.includes(l), l);
  }
  assert.match(out, /Exit status: 0 replay done, 1 /);
});

test('tcpcopy -v prints the version', () => {
  const v = run(['-v']);
  assert.equal(v.code, 0);
  assert.match(v.out, /^\d+\.\d+\.\d+/);
});

test('bad or missing values exit 2 with the flag and the accepted form', () => {
  const cases: [string[], RegExp][] = [
    [['-s', '10.0.0.2', '-i', 'f.pcap'], /^tcpcopy: -x "": required: \[onlineIp:\]port-targetIp:targetPort/],
    [['-x', '80-10.0.0.2:8080', '-i', 'f.pcap'], /^tcpcopy: -s "": required: the interceptor\(s\)/],
    [[...BASE, '-B', '0'], /^tcpcopy: -B "0": expected the capture buffer size in MiB/],
    [[...BASE, '-S', '10'], /^tcpcopy: -S "10": expected the bytes captured per packet/],
    [[...BASE, '-i', ''], /^tcpcopy: -i "": expected a pcap\/pcapng file, or capture device/],
    [[...BASE, '-x', '80:10.0.0.2'], /^tcpcopy: -x "80:10.0.0.2": expected \[onlineIp:\]port-targetIp:targetPort/],
    [[...BASE, '-s', '10.0.0.256'], /^tcpcopy: -s "10.0.0.256": expected ip\[:port\]/],
    [[...BASE, '-a', '0'], /^tcpcopy: -a "0": expected a positive speed-up factor/],
    [[...BASE, '-a', '0.5'], /^tcpcopy: -a "0.5": expected a speed-up factor of at least 1/],
    [[...BASE, '-C', '12'], /^tcpcopy: -C "12": expected the number of connections per interceptor: a whole number 1..11/],
    [[...BASE, '-r', '101'], /^tcpcopy: -r "101": expected the percentage/],
    [[...BASE, '-T', '0'], /^tcpcopy: -T "0": expected how many times to replay the file/],
    [[...BASE, '-t', '0'], /^tcpcopy: -t "0": expected the session timeout in seconds/],
    [[...BASE, '-p', '70000'], /^tcpcopy: -p "70000": expected a TCP port 1..65535/],
    [[...BASE, '-c', '10.0.0.0/33'], /^tcpcopy: -c "10.0.0.0\/33": expected .*CIDR a\.b\.c\.d\/n/],
    [[...BASE, '-u', '0'], /^tcpcopy: -u "0": expected the number of concurrent users: a whole number 1\.\.10000000/],
    [[...BASE, '-u', '10', '--ramp', 'soon'], /^tcpcopy: --ramp "soon": expected seconds to reach -u users/],
    [[...BASE, '--duration', '10'], /^tcpcopy: --duration "10": only with -u\/--users N/],
    [[...BASE, '-c', '10.0.0.1', '--clients', '10.0.0.2'], /^tcpcopy: --clients "10.0.0.2": the same as -c: give one of them/],
    [[...BASE, '-F', 'tcp and ('], /^tcpcopy: -F "tcp and \(": at character 10: .*expected a pcap-filter expression/],
    [[...BASE, '--log-level', 'loud'], /^tcpcopy: --log-level "loud": expected one of error, warn, info, debug/],
    [[...BASE, '--raw-backend', 'fast'], /^tcpcopy: --raw-backend "fast": expected one of auto, sendmmsg, raw-socket/],
    [[...BASE, '--bogus'], /unknown option '--bogus'[\s\S]*run tcpcopy -h/],
    [[...BASE, '-a'], /option '-a, --accelerate <n>' argument missing/],
    [[...BASE, 'extra'], /too many arguments|excess/i],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re, args.join(' '));
  }
});

test('a capture device that does not exist exits 2 before any packet is sent, listing the devices there are', () => {
  const r = run(['-x', '80-10.0.0.2:8080', '-s', '10.0.0.2', '-i', 'nosuchdev0']);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /^tcpcopy: -i "nosuchdev0": cannot capture: "nosuchdev0": no such capture device \(and no such file\); available: any, .*\blo\b/m);
});

test('a missing capture file or an unopenable log file exits 2 naming the flag and the path', () => {
  const r = run(BASE);
  assert.equal(r.code, 2);
  assert.match(r.err, /^tcpcopy: -i "\/nonexistent.pcap": cannot replay: \/nonexistent.pcap: ENOENT/);
  const l = run([...BASE, '-l', '/nonexistent-dir/tcpcopy.log']);
  assert.equal(l.code, 2);
  assert.match(l.err, /^tcpcopy: -l "\/nonexistent-dir\/tcpcopy.log": cannot open the log file: ENOENT/);
});

test('flags map to the engine config with stock meanings; offline timeouts default short', () => {
  const d = parseTcpcopyOptions({ transfer: '80-10.0.0.2:8080', intercept: '10.0.0.2', pcap: 'x.pcap' }).config;
  assert.equal(d.engine.sessionTimeoutUs, OFFLINE_SESSION_TIMEOUT_S * 1e6);
  assert.equal(d.engine.keepaliveTimeoutUs, 720e6, 'stock -k: keep-alive think time survives');
  const t5 = parseTcpcopyOptions({ transfer: '80-10.0.0.2:8080', intercept: '10.0.0.2', pcap: 'x.pcap', timeout: '5' }).config;
  assert.equal(t5.engine.keepaliveTimeoutUs, 125e6, '-k follows -t + 120 when -t is given');
  assert.equal(d.connections, 2);
  assert.deepEqual(d.interceptors, [{ ip: parseIpv4('10.0.0.2'), port: 36524 }]);
  assert.equal(d.engine.replicas, 1);
  assert.equal(d.engine.samplePercent, 100);
  assert.equal(d.memoryMb, 2048);
  assert.equal(d.loops, 1);
  assert.equal(d.acceleration, 1);
  assert.equal(d.fastest, false);

  const c = parseTcpcopyOptions({
    transfer: '80-10.0.0.2:8080,10.1.1.1:443-10.0.0.3:443', intercept: '10.0.0.2,10.0.0.3:4000', pcap: 'x.pcap', port: '5000',
    clientIp: '10.9.0.1-3', localhost: '10.8.0.1', replicas: '3', portShift: '2', memory: '512', connections: '4', percentage: '30',
    mtu: '9000', mss: '1200', poolSize: '64', rtt: '20', timeout: '-1', keepalive: '0', lonely: true, wait: false, onlySyn: true,
    gradual: true, accelerate: '2.5', interval: '500', times: '3', rate: true, filter: 'tcp and dst port 80', seed: '7',
  }).config;
  assert.equal(c.transfers.length, 2);
  assert.deepEqual(c.interceptors.map((i) => i.port), [5000, 4000]);
  assert.deepEqual(c.engine.clientPool, ['10.9.0.1', '10.9.0.2', '10.9.0.3'].map((s) => parseIpv4(s)));
  assert.equal(c.engine.localAddress, parseIpv4('10.8.0.1'));
  assert.equal(c.engine.replicas, 3);
  assert.equal(c.engine.portShift, 2);
  assert.equal(c.engine.totalBufferCap, 512 * 1024 * 1024);
  assert.equal(c.connections, 4);
  assert.equal(c.engine.samplePercent, 30);
  assert.equal(c.engine.mtu, 9000);
  assert.equal(c.engine.mss, 1200);
  assert.equal(c.engine.sessionBufferCap, 64 * 1024);
  assert.equal(c.engine.fixedRttUs, 20_000);
  assert.equal(c.engine.sessionTimeoutUs, 600e6, 'negative -t means 600 s (stock)');
  assert.equal(c.engine.keepaliveTimeoutUs, 720e6, '-k ≤ 0 means -t + 120');
  assert.equal(c.engine.lonely, true);
  assert.equal(c.engine.noWait, true);
  assert.equal(c.engine.onlyFromSyn, true);
  assert.equal(c.engine.gradual, true);
  assert.equal(c.engine.acceleration, 2.5);
  assert.equal(c.idleCapMs, 500);
  assert.equal(c.loops, 3);
  assert.equal(c.fastest, true);
  assert.equal(c.engine.seed, 7);
  assert.ok(c.filter !== null && c.filterText === 'tcp and dst port 80');
});

test('--capture-backend: auto by default; pcap and cap by name; anything else is a ConfigError', () => {
  const raw: TcpcopyRawOptions = { transfer: '80-10.0.0.2:8080', intercept: '10.0.0.2', pcap: 'x.pcap' };
  assert.equal(parseTcpcopyOptions(raw).config.captureBackend, 'auto');
  for (const b of ['auto', 'pcap', 'cap'] as const) assert.equal(parseTcpcopyOptions({ ...raw, captureBackend: b }).config.captureBackend, b);
  for (const bad of ['', 'PCAP', 'pcapbatch']) {
    assert.throws(() => parseTcpcopyOptions({ ...raw, captureBackend: bad }), (e: unknown) => e instanceof ConfigError && e.flag === '--capture-backend');
  }
});

test('--raw-backend: auto by default; sendmmsg and raw-socket by name; anything else is a ConfigError', () => {
  const raw: TcpcopyRawOptions = { transfer: '80-10.0.0.2:8080', intercept: '10.0.0.2', pcap: 'x.pcap' };
  assert.equal(parseTcpcopyOptions(raw).config.rawBackend, 'auto');
  for (const b of ['auto', 'sendmmsg', 'raw-socket'] as const) assert.equal(parseTcpcopyOptions({ ...raw, rawBackend: b }).config.rawBackend, b);
  for (const bad of ['', 'SENDMMSG', 'rawsocket']) {
    assert.throws(() => parseTcpcopyOptions({ ...raw, rawBackend: bad }), (e: unknown) => e instanceof ConfigError && e.flag === '--raw-backend');
  }
});

test('parse errors are ConfigErrors naming the flag', () => {
  assert.throws(() => parseTcpcopyOptions({ transfer: '80-10.0.0.2:8080', intercept: '10.0.0.2', pcap: 'x', replicas: '2000' }), (e: unknown) => e instanceof ConfigError && e.flag === '-n');
  assert.throws(() => parseTcpcopyOptions({ transfer: '80-10.0.0.2:8080', intercept: '10.0.0.2', pcap: 'x', mtu: '10' }), (e: unknown) => e instanceof ConfigError && e.flag === '-M');
});

test('without --seed each process gets its own seed (the random input); --seed wins and accepts every 32-bit value', () => {
  const raw: TcpcopyRawOptions = { transfer: '80-10.0.0.2:8080', intercept: '10.0.0.2', pcap: 'x.pcap', portShift: '3' };
  const a = parseWith(raw, { randomSeed: 0x9e3779b9 }).config;
  const b = parseWith(raw, { randomSeed: 12345 }).config;
  assert.equal(a.seed, 0x9e3779b9);
  assert.equal(a.engine.seed, 0x9e3779b9);
  assert.equal(b.engine.seed, 12345);
  assert.notEqual(a.engine.seed, b.engine.seed, 'two copiers with the same capture and -f choose different ports');
  assert.equal(a.seedSource, 'random');
  const given = parseWith({ ...raw, seed: '4294967295' }, { randomSeed: 12345 }).config;
  assert.equal(given.engine.seed, 4294967295);
  assert.equal(given.seed, 4294967295);
  assert.equal(given.seedSource, 'given');
  assert.throws(() => parseWith({ ...raw, seed: '4294967296' }, { randomSeed: 1 }), (e: unknown) => e instanceof ConfigError && e.flag === '--seed');
});

test('tcpcopy -h says the seed is random by default and printed in the summary', () => {
  assert.match(run(['-h']).out, /--seed <n> .*\(default: random,\s+printed in the summary\)/s);
});

test('-x: a later entry for the same online side is never used, and the parser says so', () => {
  const dup = parseTcpcopyOptions({ transfer: '80-10.0.0.2:80,80-10.0.0.3:80', intercept: '10.0.0.2', pcap: 'x.pcap' });
  assert.equal(dup.warnings.filter((w) => /-x entry 2 is never used/.test(w)).length, 1, dup.warnings.join('\n'));
  // A catch-all port entry also shadows a later address-specific one; split by address does not warn.
  const shadow = parseTcpcopyOptions({ transfer: '80-10.0.0.2:80,192.0.2.1:80-10.0.0.3:80', intercept: '10.0.0.2', pcap: 'x.pcap' });
  assert.ok(shadow.warnings.some((w) => /-x entry 2 is never used/.test(w)));
  const split = parseTcpcopyOptions({ transfer: '192.0.2.1:80-10.0.0.2:80,192.0.2.5:80-10.0.0.3:80', intercept: '10.0.0.2', pcap: 'x.pcap' });
  assert.ok(!split.warnings.some((w) => /never used/.test(w)), split.warnings.join('\n'));
});
