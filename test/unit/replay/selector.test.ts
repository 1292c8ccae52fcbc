import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { compileFilter } from '../../../src/core/filter/index.js';
import { fillIpv4Checksum, parseIpv4, TCP_ACK } from '../../../src/core/packet/index.js';
import { PacketSelector } from '../../../src/core/replay/selector.js';
import type { Transfer } from '../../../src/core/transfer.js';
import { buildSegment } from '../../helpers/packet/build.js';

function ip(s: string): number {
  const v = parseIpv4(s);
  if (v === null) throw new Error(`bad test address ${s}`);
  return v;
}

const CLIENT = ip('192.168.7.1');
const SERVER = ip('10.0.0.2');
const OTHER = ip('10.0.0.3');
/** Bytes in front of the IP header (an Ethernet header), so ipOff is never 0 by accident. */
const LINK = 14;

/** An IPv4/TCP segment src → dst:dport behind LINK bytes of link header. */
function tcp(dst: number, dport: number, src = CLIENT): Buffer {
  const seg = buildSegment({ src, dst, srcPort: 40000, dstPort: dport, seq: 1, ack: 1, flags: TCP_ACK, window: 1000, ipId: 1 });
  return Buffer.concat([Buffer.alloc(LINK), seg]);
}

/** Same segment with its protocol changed to UDP (17): not TCP for the selector. */
function udp(dst: number, dport: number): Buffer {
  const b = tcp(dst, dport);
  b[LINK + 9] = 17;
  fillIpv4Checksum(b, LINK);
  return b;
}

/** The segment with 4 bytes of IP options (IHL 6): the TCP header moves to +24. */
function withIpOptions(pkt: Buffer): Buffer {
  const ipHdr = pkt.subarray(LINK, LINK + 20);
  const out = Buffer.concat([pkt.subarray(0, LINK), ipHdr, Buffer.from([1, 1, 1, 0]), pkt.subarray(LINK + 20)]);
  out[LINK] = 0x46;
  out.writeUInt16BE(pkt.readUInt16BE(LINK + 2) + 4, LINK + 2);
  fillIpv4Checksum(out, LINK);
  return out;
}

function sel(s: PacketSelector, pkt: Buffer, capLen = pkt.length - LINK): number {
  return s.select(pkt, LINK, capLen);
}

const T = (onlineIp: number | null, onlinePort: number): Transfer => ({ onlineIp, onlinePort, targetIp: ip('10.9.9.9'), targetPort: onlinePort + 1 });

test('-x: the first matching transfer wins; onlineIp null matches any address', () => {
  const s = new PacketSelector([T(SERVER, 80), T(null, 80), T(null, 8080), T(SERVER, 8080)], null);
  assert.equal(sel(s, tcp(SERVER, 80)), 0);
  assert.equal(sel(s, tcp(OTHER, 80)), 1);
  // The catch-all entry comes first here, so the specific one after it is never chosen.
  assert.equal(sel(s, tcp(SERVER, 8080)), 2);
  assert.equal(sel(s, tcp(OTHER, 8080)), 2);
  assert.deepEqual(s.counters, { nonIpv4: 0, filteredOut: 0, notMatched: 0 });
});

test('-x: a specific address does not match another address on the same port', () => {
  const s = new PacketSelector([T(SERVER, 80)], null);
  assert.equal(sel(s, tcp(OTHER, 80)), -1);
  assert.equal(s.counters.notMatched, 1);
  assert.deepEqual(s.unmatchedTop(5), [['10.0.0.3:80', 1]]);
});

test('the destination port is read after IP options (IHL > 5)', () => {
  const s = new PacketSelector([T(null, 8080)], null);
  assert.equal(sel(s, withIpOptions(tcp(SERVER, 8080))), 0);
  assert.equal(sel(s, withIpOptions(tcp(SERVER, 80))), -1);
  assert.deepEqual(s.unmatchedTop(5), [['10.0.0.2:80', 1]]);
});

test('no IPv4 layer (ipOff < 0) counts as nonIpv4 and nothing else', () => {
  const s = new PacketSelector([T(null, 80)], compileFilter('tcp'));
  const pkt = tcp(SERVER, 80);
  assert.equal(s.select(pkt, -1, pkt.length), -1);
  assert.equal(s.select(pkt, -1, pkt.length), -1);
  assert.deepEqual(s.counters, { nonIpv4: 2, filteredOut: 0, notMatched: 0 });
});

test('-F runs before -x: a packet -x would take is counted as filtered out when -F rejects it', () => {
  const s = new PacketSelector([T(null, 80)], compileFilter('src host 192.168.7.1 and not dst host 10.0.0.3'));
  assert.equal(sel(s, tcp(SERVER, 80)), 0);
  assert.equal(sel(s, tcp(OTHER, 80)), -1); // -F: dst host excluded
  assert.equal(sel(s, tcp(SERVER, 80, ip('192.168.7.2'))), -1); // -F: another client
  assert.equal(sel(s, tcp(SERVER, 81)), -1); // passes -F, no -x entry
  assert.deepEqual(s.counters, { nonIpv4: 0, filteredOut: 2, notMatched: 1 });
  // Filtered packets are not part of the "what did the capture hold instead" diagnosis.
  assert.deepEqual(s.unmatchedTop(5), [['10.0.0.2:81', 1]]);
});

test('non-TCP and truncated headers are notMatched but not remembered as destinations', () => {
  const s = new PacketSelector([T(null, 80)], null);
  assert.equal(sel(s, udp(SERVER, 80)), -1);
  const pkt = tcp(SERVER, 80);
  assert.equal(sel(s, pkt, 19), -1); // not even an IP header
  assert.equal(sel(s, pkt, 23), -1); // IP header but not the TCP ports
  assert.equal(sel(s, pkt, 24), 0); // the ports are all -x needs
  assert.deepEqual(s.counters, { nonIpv4: 0, filteredOut: 0, notMatched: 3 });
  assert.deepEqual(s.unmatchedTop(5), []);
});

test('an IHL below 5 is not a usable IPv4 header: notMatched', () => {
  const s = new PacketSelector([T(null, 80)], null);
  const pkt = tcp(SERVER, 80);
  pkt[LINK] = 0x44;
  assert.equal(sel(s, pkt), -1);
  assert.equal(s.counters.notMatched, 1);
});

test('unmatchedTop: most frequent first, "ip:port", cut to n', () => {
  const s = new PacketSelector([T(null, 80)], null);
  const sends: [number, number, number][] = [
    [OTHER, 443, 2],
    [SERVER, 22, 5],
    [ip('255.255.255.255'), 65535, 3],
    [ip('0.0.0.1'), 1, 1],
  ];
  for (const [dst, port, n] of sends) for (let i = 0; i < n; i++) sel(s, tcp(dst, port));
  assert.equal(s.counters.notMatched, 11);
  assert.deepEqual(s.unmatchedTop(10), [
    ['10.0.0.2:22', 5],
    ['255.255.255.255:65535', 3],
    ['10.0.0.3:443', 2],
    ['0.0.0.1:1', 1],
  ]);
  assert.deepEqual(s.unmatchedTop(2), [
    ['10.0.0.2:22', 5],
    ['255.255.255.255:65535', 3],
  ]);
  assert.deepEqual(s.unmatchedTop(0), []);
});

test('at most 256 distinct destinations are remembered; known ones keep counting, all are counted', () => {
  const s = new PacketSelector([T(null, 80)], null);
  for (let port = 1000; port < 1300; port++) sel(s, tcp(SERVER, port));
  // A new destination after the cap is full is not remembered however often it comes.
  for (let i = 0; i < 50; i++) sel(s, tcp(OTHER, 9999));
  // An early (remembered) one still counts.
  for (let i = 0; i < 10; i++) sel(s, tcp(SERVER, 1255));
  assert.equal(s.counters.notMatched, 300 + 50 + 10);
  const all = s.unmatchedTop(1000);
  assert.equal(all.length, 256);
  assert.deepEqual(all[0], ['10.0.0.2:1255', 11]);
  const names = new Set(all.map(([k]) => k));
  assert.ok(names.has('10.0.0.2:1000'));
  assert.ok(names.has('10.0.0.2:1254'));
  assert.ok(!names.has('10.0.0.2:1256'), 'the 257th distinct destination is not remembered');
  assert.ok(!names.has('10.0.0.3:9999'));
});

test('a later IP fragment is not replayed: its payload is no TCP header (notMatched, not remembered)', () => {
  const sel = new PacketSelector([{ onlineIp: null, onlinePort: 80, targetIp: OTHER, targetPort: 8080 }], null);
  const frag = tcp(SERVER, 80);
  frag.writeUInt16BE(185, LINK + 6); // fragment offset 185 × 8 bytes, no MF
  fillIpv4Checksum(frag, LINK);
  assert.equal(sel.select(frag, LINK, frag.length - LINK), -1);
  assert.deepEqual(sel.counters, { nonIpv4: 0, filteredOut: 0, notMatched: 1 });
  assert.deepEqual(sel.unmatchedTop(5), []);
  // The first fragment (offset 0, MF set) carries the TCP header: selected as usual.
  const first = tcp(SERVER, 80);
  first.writeUInt16BE(0x2000, LINK + 6);
  fillIpv4Checksum(first, LINK);
  assert.equal(sel.select(first, LINK, first.length - LINK), 0);
});
