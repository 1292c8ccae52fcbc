import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CAP_NET_ADMIN,
  CAP_NET_RAW,
  checkCaptureFile,
  checkChannelPort,
  checkClientRoutes,
  checkExitCode,
  checkInterceptorReachable,
  checkNfqueueAvailable,
  checkPrivileges,
  checkQueueFree,
  checkRawBackend,
  checkRawSocket,
  checkRpFilter,
  formatReport,
  hasCap,
  parseBoundQueues,
  parseProcStatus,
  parseRouteGet,
} from '../../../src/core/doctor/index.js';

const STATUS_ROOT = 'Name:\tnode\nUid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\n';
const STATUS_NOBODY_CAPS = 'Uid:\t65534\t65534\t65534\t65534\nCapEff:\t0000000000003000\n';
const STATUS_NOBODY = 'Uid:\t65534\t65534\t65534\t65534\nCapEff:\t0000000000000000\n';

test('privileges: root, capabilities only, neither', () => {
  const root = parseProcStatus(STATUS_ROOT);
  assert.deepEqual(root, { euid: 0, capEffHex: '000001ffffffffff' });
  assert.ok(hasCap('3000', CAP_NET_ADMIN) && hasCap('3000', CAP_NET_RAW) && !hasCap('1000', CAP_NET_RAW));
  assert.equal(checkPrivileges(root, [CAP_NET_ADMIN, CAP_NET_RAW], 'x').status, 'ok');
  const capped = checkPrivileges(parseProcStatus(STATUS_NOBODY_CAPS), [CAP_NET_ADMIN, CAP_NET_RAW], 'x');
  assert.equal(capped.status, 'ok');
  assert.match(capped.detail, /uid 65534 with CAP_NET_ADMIN \+ CAP_NET_RAW/);
  const none = checkPrivileges(parseProcStatus(STATUS_NOBODY), [CAP_NET_ADMIN, CAP_NET_RAW], 'NFQUEUE');
  assert.equal(none.status, 'problem');
  assert.match(none.detail, /lacks CAP_NET_ADMIN and CAP_NET_RAW \(needed for NFQUEUE\)/);
  assert.match(none.fix ?? '', /AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW/);
});

// /proc/net/netfilter/nfnetlink_queue: queue portid waiting copy_mode copy_range dropped user_dropped id 1
const PROC = '    0  41234     0 2 65531     0     0        0  1\n    3 -4125      0 2 65531     0     0        0  1\n';

test('nfnetlink_queue: bound queues, availability, the owner is named', () => {
  assert.deepEqual(parseBoundQueues(PROC), [{ queueNum: 0, portId: 41234 }]);
  assert.equal(checkNfqueueAvailable({ procText: '', loadable: true }).status, 'ok');
  assert.equal(checkNfqueueAvailable({ procText: null, loadable: true }).status, 'ok');
  const missing = checkNfqueueAvailable({ procText: null, loadable: false });
  assert.equal(missing.status, 'problem');
  assert.match(missing.fix ?? '', /modprobe nfnetlink_queue/);
  const taken = checkQueueFree({ procText: PROC, loadable: true }, 0, (pid) => (pid === 41234 ? 'node (intercept)' : null));
  assert.equal(taken.status, 'problem');
  assert.match(taken.detail, /bound by netlink port 41234 \(process 41234: node \(intercept\)\)/);
  assert.equal(checkQueueFree({ procText: PROC, loadable: true }, 1, () => null).status, 'ok');
});

test('routes: parse `ip -o route get`; missing, local and good routes', () => {
  assert.deepEqual(parseRouteGet('10.9.0.7 via 10.1.0.1 dev eth0 src 10.1.0.2 uid 0 \\    cache '), { kind: 'unicast', dev: 'eth0', via: '10.1.0.1' });
  assert.deepEqual(parseRouteGet('local 10.1.0.2 dev lo src 10.1.0.2 uid 0'), { kind: 'local', dev: 'lo', via: null });
  assert.equal(parseRouteGet('RTNETLINK answers: Network is unreachable'), null);
  const hints = { copier: '10.1.0.1', routeScript: 'scripts/route-setup.sh' };
  const none = checkClientRoutes([{ addr: '10.9.0.0/16', text: 'RTNETLINK answers: Network is unreachable', found: false }], hints);
  assert.equal(none.status, 'problem');
  assert.equal(none.fix?.split('  ')[0], 'bash scripts/route-setup.sh add --clients 10.9.0.0/16 --via 10.1.0.1');
  const local = checkClientRoutes([{ addr: '10.1.0.2', text: 'local 10.1.0.2 dev lo src 10.1.0.2', found: true }], hints);
  assert.equal(local.status, 'problem');
  assert.match(local.detail, /local address/);
  const good = checkClientRoutes([{ addr: '10.9.0.1', text: '10.9.0.1 via 10.1.0.1 dev eth0 src 10.1.0.2', found: true }], hints);
  assert.equal(good.status, 'ok');
  assert.equal(checkClientRoutes([], hints).status, 'skipped');
});

test('rp_filter: strict with clients routed out of another interface than the copier is a problem', () => {
  const bad = checkRpFilter({ all: 1, perDev: { eth1: 1, eth0: 0 }, clientDev: 'eth0', copierDev: 'eth1' });
  assert.equal(bad.status, 'problem');
  assert.match(bad.fix ?? '', /net\.ipv4\.conf\.eth1\.rp_filter=2/);
  assert.equal(checkRpFilter({ all: 0, perDev: { eth1: 1 }, clientDev: 'eth0', copierDev: 'eth1' }).status, 'problem', 'per-interface strict');
  assert.equal(checkRpFilter({ all: 2, perDev: { eth1: 1 }, clientDev: 'eth0', copierDev: 'eth1' }).status, 'ok', 'effective = max(all, dev) = loose');
  assert.equal(checkRpFilter({ all: 0, perDev: { eth1: 2 }, clientDev: 'eth0', copierDev: 'eth1' }).status, 'ok');
  assert.equal(checkRpFilter({ all: 1, perDev: { eth0: 1 }, clientDev: 'eth0', copierDev: 'eth0' }).status, 'ok');
});

test('channel port, interceptor reachability, raw socket, capture file', () => {
  assert.equal(checkChannelPort({ host: '0.0.0.0', port: 36524, error: null, holder: null }).status, 'ok');
  const used = checkChannelPort({ host: '0.0.0.0', port: 36524, error: { code: 'EADDRINUSE', message: 'x' }, holder: 'node (pid 7)' });
  assert.match(used.detail, /in use by node \(pid 7\)/);
  const [refused] = checkInterceptorReachable([{ target: '10.0.0.2:36524', error: { code: 'ECONNREFUSED', message: 'x' } }]);
  assert.match(refused?.detail ?? '', /intercept is not running/);
  assert.equal(checkRawSocket({ code: 'EPERM', message: 'Operation not permitted' }).status, 'problem');
  assert.equal(checkRawSocket(null).status, 'ok');
  const link = checkCaptureFile({ path: 'a.pcap', error: null, format: 'pcap', linkTypes: [105], unsupported: [105], packets: 3 });
  assert.match(link.detail, /link type 105 \(IEEE802_11\) not supported/);
  assert.equal(checkCaptureFile({ path: 'a.pcap', error: null, format: 'pcap', linkTypes: [1], unsupported: [], packets: 3 }).status, 'ok');
  assert.equal(checkCaptureFile({ path: 'a.pcap', error: null, format: 'pcap', linkTypes: [], unsupported: [], packets: 0 }).status, 'problem');
  assert.match(checkCaptureFile({ path: 'a', error: "ENOENT: no such file or directory, open 'a'", format: null, linkTypes: [], unsupported: [], packets: 0 }).fix ?? '', /path given to -i/);
});

test('report: one line per check, fix under problems, exit status', () => {
  const results = [checkRawSocket(null), checkRawSocket({ code: 'EPERM', message: 'Operation not permitted' })];
  const text = formatReport('tcpcopy', results);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], 'tcpcopy --check');
  assert.match(lines[1] ?? '', /^ {2}ok {7}raw IP socket: allowed/);
  assert.match(lines[2] ?? '', /^ {2}PROBLEM {2}raw IP socket: not permitted/);
  assert.match(lines[3] ?? '', /^ {11}fix: run as root or with CAP_NET_RAW/);
  assert.equal(lines[4], 'tcpcopy: 1 problem(s) found');
  assert.equal(checkExitCode(results), 1);
  assert.equal(checkExitCode(results.slice(0, 1)), 0);
});

test('raw send backend: names the sendmmsg addon, or the raw-socket fallback with why (never a problem)', () => {
  const built = checkRawBackend(null);
  assert.equal(built.status, 'ok');
  assert.match(built.detail, /sendmmsg addon/);
  const missing = checkRawBackend("Cannot find module '/x/rawsend.node'");
  assert.equal(missing.status, 'ok');
  assert.match(missing.detail, /raw-socket fallback .*Cannot find module .*npm run build:native/);
});
