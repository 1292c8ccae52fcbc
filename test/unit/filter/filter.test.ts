import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, FilterError, formatNode, parseFilter } from '../../../src/core/filter/index.js';
import { ETH_LEN, makePacket, type PacketSpec } from './packets.js';

const P: Record<string, PacketSpec> = {
  web: { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80 },
  webReply: { proto: 'tcp', src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 40000 },
  tls: { proto: 'tcp', src: '1.2.3.4', dst: '5.6.7.8', sport: 443, dport: 51000 },
  dns: { proto: 'udp', src: '10.0.0.1', dst: '10.0.0.53', sport: 5353, dport: 53 },
  ping: { proto: 'icmp', src: '10.0.0.1', dst: '10.0.0.2' },
  sctp: { proto: 'sctp', src: '10.1.200.4', dst: '172.16.5.5', sport: 80, dport: 2905 },
  opt: { proto: 'tcp', src: '192.168.1.10', dst: '10.1.2.3', sport: 1050, dport: 8080, ipOptions: true },
  later: { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, fragment: 'later' },
  cut: { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, truncateIpTo: 21 },
};

// expression → names of the packets it must select (all others must be rejected).
const TABLE: [string, string[]][] = [
  ['', ['web', 'webReply', 'tls', 'dns', 'ping', 'sctp', 'opt', 'later', 'cut']],
  ['ip', ['web', 'webReply', 'tls', 'dns', 'ping', 'sctp', 'opt', 'later', 'cut']],
  ['host 10.0.0.1', ['web', 'webReply', 'dns', 'ping', 'later', 'cut']],
  ['src host 10.0.0.1', ['web', 'dns', 'ping', 'later', 'cut']],
  ['dst 10.0.0.1', ['webReply']],
  ['host 1.2.3.4 or 10.0.0.53', ['tls', 'dns']],
  ['host 10.0.0.1 and 10.0.0.2', ['web', 'webReply', 'ping', 'later', 'cut']],
  ['net 10.1', ['sctp', 'opt']],
  ['net 10.0.0.0/24', ['web', 'webReply', 'dns', 'ping', 'later', 'cut']],
  ['net 192.168.0.0 mask 255.255.0.0', ['opt']],
  ['dst net 172.16', ['sctp']],
  ['port 80', ['web', 'webReply', 'sctp']],
  ['tcp port 80', ['web', 'webReply']],
  ['port 80 or 53', ['web', 'webReply', 'dns', 'sctp']],
  ['tcp port 80 or 443', ['web', 'webReply', 'tls']],
  ['src port 80', ['webReply', 'sctp']],
  ['dst port 8080', ['opt']],
  ['src or dst port 443', ['tls']],
  ['src and dst port 80', []],
  ['portrange 1000-2000', ['opt']],
  ['portrange 2000-1000', ['opt']],
  ['udp dst portrange 50-60', ['dns']],
  ['tcp', ['web', 'webReply', 'tls', 'opt', 'later', 'cut']],
  ['udp', ['dns']],
  ['icmp', ['ping']],
  ['not tcp', ['dns', 'ping', 'sctp']],
  ['! port 80', ['tls', 'dns', 'ping', 'opt', 'later']],
  ['tcp and not port 80', ['tls', 'opt', 'later']],
  ['host 10.0.0.1 && (port 53 || icmp)', ['dns', 'ping']],
  ['tcp port 80 or 443 and udp', []],
  ['(tcp or udp) and not (src net 10.0.0.0/8 or dst port 53)', ['tls', 'opt']],
  ['ip proto 132', ['sctp']],
  ['proto \\udp', ['dns']],
  ['host 10.0.0.2 or not 10.0.0.53', ['web', 'webReply', 'tls', 'ping', 'sctp', 'opt', 'later', 'cut']],
  ['port http', ['web', 'webReply']],
  ['port 0x50', ['web', 'webReply', 'sctp']],
  ['net 10', ['web', 'webReply', 'dns', 'ping', 'sctp', 'opt', 'later', 'cut']],
];

test('filter table: each expression selects exactly the expected packets', () => {
  const pkts = Object.entries(P).map(([name, spec]) => ({ name, ...makePacket(spec) }));
  for (const [expr, want] of TABLE) {
    const f = compileFilter(expr);
    const got = pkts.filter((p) => f.match(p.frame, ETH_LEN, p.capLen - ETH_LEN)).map((p) => p.name);
    assert.deepEqual(got, want, `-F '${expr}'\n${formatNode(f.tree)}\n${f.disassemble()}`);
  }
});

test('and/or share one precedence and associate left (libpcap), not binds tighter', () => {
  assert.equal(formatNode(parseFilter('tcp or udp and icmp')), '((proto 6 or proto 17) and proto 1)');
  assert.equal(formatNode(parseFilter('not tcp and udp')), '(not proto 6 and proto 17)');
  assert.equal(
    formatNode(parseFilter('not host 1.2.3.4 or 5.6.7.8')),
    '(not (src 1.2.3.4/255.255.255.255 or dst 1.2.3.4/255.255.255.255) or (src 5.6.7.8/255.255.255.255 or dst 5.6.7.8/255.255.255.255))',
  );
  assert.equal(formatNode(parseFilter('tcp dst port 80 or 81')), '(dst port 80 [1] or dst port 81 [1])');
  assert.equal(formatNode(parseFilter('src and dst net 10.0.0.0/8')), '(src 10.0.0.0/255.0.0.0 and dst 10.0.0.0/255.0.0.0)');
});

test('the predicate reads the IP header at the given offset, not at 0', () => {
  const p = makePacket(P.web as PacketSpec);
  const f = compileFilter('src host 10.0.0.1 and dst port 80');
  assert.equal(f.match(p.frame, ETH_LEN), true);
  assert.equal(f.match(p.frame.subarray(ETH_LEN), 0), true);
  assert.equal(f.match(p.frame, 0), false);
});

test('a port test on bytes that were not captured rejects the packet even under not (BPF semantics)', () => {
  const cut = makePacket(P.cut as PacketSpec);
  assert.equal(compileFilter('port 80').match(cut.frame, ETH_LEN, cut.capLen - ETH_LEN), false);
  assert.equal(compileFilter('not port 80').match(cut.frame, ETH_LEN, cut.capLen - ETH_LEN), false);
  // Tests evaluated before the missing bytes still decide.
  assert.equal(compileFilter('host 10.0.0.1 or port 80').match(cut.frame, ETH_LEN, cut.capLen - ETH_LEN), true);
  // The same packet in full matches.
  assert.equal(compileFilter('port 80').match(cut.frame, ETH_LEN), true);
});

test('matching allocates nothing: a million matches keep the heap flat', () => {
  const f = compileFilter('(tcp port 80 or 443 or udp portrange 50-60) and not src net 192.168.0.0/16');
  const p = makePacket(P.web as PacketSpec);
  let hits = 0;
  for (let k = 0; k < 10_000; k++) if (f.match(p.frame, ETH_LEN)) hits++;
  const before = process.memoryUsage().heapUsed;
  for (let k = 0; k < 1_000_000; k++) if (f.match(p.frame, ETH_LEN)) hits++;
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(hits, 1_010_000);
  // A closure or view per call would be ≥ 32 MB here.
  assert.ok(grown < 4 * 1024 * 1024, `heap grew by ${grown} bytes over 1e6 matches`);
});

const ERRORS: [string, number, RegExp][] = [
  ['host', 4, /expected an IPv4 address/],
  ['host 10.0.0.1 and prot 80', 18, /expected a primitive .* got 'prot'/],
  ['port 70000', 5, /port 70000 is out of range/],
  ['host 10.0.0.256', 5, /256 is above 255/],
  ['net 10.1.2.3/16', 4, /non-network bits set in '10.1.2.3\/16'/],
  ['net 10.0.0.0/33', 13, /prefix length 0\.\.32/],
  ['host 10.0.0.0/8', 13, /only valid after 'net'/],
  ['tcp host 1.2.3.4', 0, /'tcp' cannot qualify 'host'/],
  ['ip port 80', 0, /'ip' cannot qualify 'port'/],
  ['(tcp or udp', 11, /expected '\)' to close the '\(' at character 1/],
  ['tcp or 80', 7, /'80' has no qualifier to repeat/],
  ['host www.example.com', 5, /host names are not resolved/],
  ['ether host 1.2.3.4', 0, /'ether' is not supported/],
  ['tcp[13] & 2 != 0', 3, /unexpected character '\['/],
  ['port 80 80', 8, /expected 'and', 'or' or the end/],
  ['host 1.2.3.4 and', 16, /expected a primitive .* got the end of the expression/],
  ['portrange 10-x', 10, /port number 0\.\.65535 or a known service name, got 'x'/],
  ['net 10.0.0.0 mask 255.0', 18, /dotted-quad mask/],
  ['tcp & udp', 4, /expected '&&'/],
  ['udp port http', 9, /not a known udp service name/],
];

test('bad expressions: FilterError with the position and what was expected', () => {
  for (const [expr, pos, re] of ERRORS) {
    assert.throws(
      () => compileFilter(expr),
      (e: unknown) => {
        assert.ok(e instanceof FilterError, `${expr}: not a FilterError: ${String(e)}`);
        assert.equal(e.position, pos, `${expr}: position in ${e.message}`);
        assert.match(e.reason, re, expr);
        assert.ok(e.message.includes(JSON.stringify(expr)) && e.message.includes(`at character ${pos + 1}`), e.message);
        return true;
      },
    );
  }
});
