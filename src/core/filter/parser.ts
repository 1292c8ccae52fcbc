import { FilterError } from './errors.js';
import { tokenize, type Token } from './lexer.js';
import { PROTO_SET_ANY_PORT, PROTO_SET_SCTP, PROTO_SET_TCP, PROTO_SET_UDP, type FilterNode } from './ast.js';

/*
 * Recursive-descent parser for the pcap-filter subset used on capture files (-F). Semantics follow
 * libpcap's grammar where it matters for results:
 *
 *   expr    := term (('and' | '&&' | 'or' | '||') (term | bare-id))*   -- and/or: SAME precedence,
 *                                                                      left-associative
 *   term    := ('not' | '!') term | '(' expr ')' | pname | head id
 *   head    := [pqual] [dqual] [aqual]            (at least one; `ip proto N`, `proto N` too)
 *   pqual   := ip | tcp | udp | icmp | sctp       (alone: a protocol test)
 *   dqual   := src | dst | src or dst | dst or src | src and dst | dst and src
 *   aqual   := host | net | port | portrange
 *   id      := a.b.c.d | a.b | a.b.c.d/len | a.b.c.d mask m.m.m.m | NUM | service | lo-hi
 *   bare-id := ['not'...] id, taking the qualifiers of the previous primitive
 *              (`host 1.2.3.4 or 5.6.7.8`, `tcp port 80 or 443`)
 *
 * After a protocol-only primitive (`tcp`) or at the start there are no qualifiers to inherit, so a
 * bare id there is an error, as in libpcap.
 */

type Proto = 'ip' | 'tcp' | 'udp' | 'icmp' | 'sctp';
type Dir = 'src' | 'dst' | 'src-or-dst' | 'src-and-dst';
type AddrType = 'host' | 'net' | 'port' | 'portrange' | 'proto';

interface Qualifiers {
  proto: Proto | null;
  dir: Dir | null;
  type: AddrType | null;
  /** Where the primitive started, for error messages. */
  pos: number;
}

/** Result of a parse step: the tree and the qualifiers a following bare id would inherit. */
interface Parsed {
  node: FilterNode;
  q: Qualifiers | null;
}

const PROTOS: Record<Proto, number> = { ip: 0, tcp: 6, udp: 17, icmp: 1, sctp: 132 };
const PROTO_NAMES = new Set<string>(Object.keys(PROTOS));
const ADDR_TYPES = new Set<string>(['host', 'net', 'port', 'portrange', 'proto']);
const UNSUPPORTED = new Set<string>([
  'ether', 'arp', 'rarp', 'ip6', 'icmp6', 'igmp', 'igrp', 'pim', 'vrrp', 'carp', 'ah', 'esp', 'atalk',
  'aarp', 'decnet', 'lat', 'sca', 'moprc', 'mopdl', 'iso', 'stp', 'ipx', 'netbeui', 'radio', 'wlan',
  'gateway', 'broadcast', 'multicast', 'less', 'greater', 'len', 'vlan', 'mpls', 'pppoed', 'pppoes',
  'geneve', 'inbound', 'outbound', 'ifname', 'on', 'rnr', 'rulenum', 'reason', 'rset', 'ruleset',
  'srnr', 'subrulenum', 'action', 'protochain', 'type', 'subtype', 'dir', 'addr1', 'addr2', 'addr3',
  'addr4', 'ra', 'ta',
]);

// Service names as Debian's /etc/services maps them (name → port and transports), so `port http`
// works without reading files (core does no I/O) and selects what tcpdump selects on this system.
const T = PROTO_SET_TCP;
// Names known for both tcp and udp: libpcap then matches the port on any transport (sctp too).
const TU = PROTO_SET_ANY_PORT;
const SERVICES: Record<string, [number, number]> = {
  ftp: [21, T], 'ftp-data': [20, T], ssh: [22, T], telnet: [23, T], smtp: [25, T], domain: [53, TU],
  http: [80, T], www: [80, T], pop3: [110, T], sunrpc: [111, TU], ntp: [123, PROTO_SET_UDP],
  imap: [143, T], snmp: [161, TU], bgp: [179, T], ldap: [389, TU], https: [443, TU],
  submission: [587, T], ldaps: [636, TU], imaps: [993, T], pop3s: [995, T], mysql: [3306, T],
  postgresql: [5432, T], 'http-alt': [8080, T], redis: [6379, T],
};

const NUM_RE = /^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i;
const HID_RE = /^[0-9]+(\.[0-9]+){1,3}$/;

export function parseFilter(expr: string): FilterNode {
  return new Parser(expr).parseAll();
}

class Parser {
  private readonly toks: Token[];
  private i = 0;

  constructor(private readonly expr: string) {
    this.toks = tokenize(expr);
  }

  private cur(): Token {
    return this.toks[this.i] as Token;
  }

  private peek(k: number): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)] as Token;
  }

  private fail(tok: Token, reason: string): never {
    throw new FilterError(this.expr, tok.pos, reason);
  }

  private describe(tok: Token): string {
    return tok.kind === 'end' ? 'the end of the expression' : `'${tok.text}'`;
  }

  parseAll(): FilterNode {
    if (this.cur().kind === 'end') return { kind: 'true' };
    const { node } = this.parseExpr(null);
    if (this.cur().kind !== 'end') {
      this.fail(this.cur(), `expected 'and', 'or' or the end of the expression, got ${this.describe(this.cur())}`);
    }
    return node;
  }

  private parseExpr(outer: Qualifiers | null): Parsed {
    let left = this.parseTerm(outer);
    for (;;) {
      const k = this.cur().kind;
      if (k !== 'and' && k !== 'or') break;
      const op = k;
      this.i++;
      const right = this.startsTerm() ? this.parseTerm(left.q) : this.parseBareId(left.q);
      left = { node: { kind: op, a: left.node, b: right.node }, q: right.q };
    }
    return left;
  }

  /** True when the tokens ahead (after any nots) begin a qualified primitive or a group. */
  private startsTerm(): boolean {
    let k = 0;
    while (this.peek(k).kind === 'not') k++;
    const t = this.peek(k);
    if (t.kind === '(') return true;
    if (t.kind !== 'word') return true; // let parseTerm report it
    const w = t.text.toLowerCase();
    return PROTO_NAMES.has(w) || ADDR_TYPES.has(w) || w === 'src' || w === 'dst' || UNSUPPORTED.has(w);
  }

  private parseTerm(outer: Qualifiers | null): Parsed {
    const t = this.cur();
    if (t.kind === 'not') {
      this.i++;
      const inner = this.parseTerm(outer);
      return { node: { kind: 'not', a: inner.node }, q: inner.q };
    }
    if (t.kind === '(') {
      this.i++;
      const inner = this.parseExpr(outer);
      if (this.cur().kind !== ')') this.fail(this.cur(), `expected ')' to close the '(' at character ${t.pos + 1}, got ${this.describe(this.cur())}`);
      this.i++;
      // libpcap: a parenthesised group hands on the qualifiers that were current before it.
      return { node: inner.node, q: outer };
    }
    if (t.kind !== 'word') {
      this.fail(t, `expected a primitive (host, net, port, portrange, src, dst, tcp, udp, icmp, ip), 'not' or '(', got ${this.describe(t)}`);
    }
    return this.parsePrimitive();
  }

  /** An id with inherited qualifiers, possibly negated: `... or not 10.0.0.1`. */
  private parseBareId(q: Qualifiers | null): Parsed {
    const t = this.cur();
    if (t.kind === 'not') {
      this.i++;
      const inner = this.parseBareId(q);
      return { node: { kind: 'not', a: inner.node }, q: inner.q };
    }
    if (t.kind === 'word' && q === null) {
      this.fail(t, `'${t.text}' has no qualifier to repeat; write it as a primitive (host ${t.text}, port ${t.text}, …)`);
    }
    // A word followed by another value is a misspelt keyword (`prot 80`), not a repeated id.
    if (t.kind !== 'word' || q === null || (/^[a-z]/i.test(t.text) && this.peek(1).kind === 'word')) {
      this.fail(t, `expected a primitive (host, net, port, portrange, src, dst, tcp, udp, icmp, ip), 'not' or '(', got ${this.describe(t)}`);
    }
    return { node: this.parseId(q), q };
  }

  private parsePrimitive(): Parsed {
    const start = this.cur();
    const q: Qualifiers = { proto: null, dir: null, type: null, pos: start.pos };
    let w = start.text.toLowerCase();
    if (UNSUPPORTED.has(w)) {
      this.fail(start, `'${start.text}' is not supported by the file filter (supported: host, net, port, portrange, src, dst, tcp, udp, icmp, sctp, ip, proto, and/or/not, parentheses)`);
    }
    if (PROTO_NAMES.has(w)) {
      q.proto = w as Proto;
      this.i++;
      w = this.cur().kind === 'word' ? this.cur().text.toLowerCase() : '';
      const dirNext = w === 'src' || w === 'dst';
      if (!dirNext && !ADDR_TYPES.has(w)) {
        // Protocol alone: `tcp`, `ip`. Nothing to inherit afterwards.
        return { node: protoNode(q.proto), q: null };
      }
    }
    if (w === 'src' || w === 'dst') {
      q.dir = this.parseDir();
      w = this.cur().kind === 'word' ? this.cur().text.toLowerCase() : '';
    }
    if (ADDR_TYPES.has(w)) {
      q.type = w as AddrType;
      this.i++;
    }
    if (q.proto === null && q.dir === null && q.type === null) {
      this.fail(start, `expected a primitive (host, net, port, portrange, src, dst, tcp, udp, icmp, ip), 'not' or '(', got '${start.text}'`);
    }
    this.checkQualifiers(q, start);
    return { node: this.parseId(q), q };
  }

  private parseDir(): Dir {
    const first = this.cur().text.toLowerCase() as 'src' | 'dst';
    this.i++;
    const op = this.cur();
    const other = this.peek(1);
    const otherWord = other.kind === 'word' ? other.text.toLowerCase() : '';
    if ((op.kind === 'or' || op.kind === 'and') && (otherWord === 'src' || otherWord === 'dst') && otherWord !== first) {
      this.i += 2;
      return op.kind === 'or' ? 'src-or-dst' : 'src-and-dst';
    }
    return first;
  }

  private checkQualifiers(q: Qualifiers, at: Token): void {
    const type = q.type ?? 'host';
    if ((type === 'host' || type === 'net') && q.proto !== null && q.proto !== 'ip') {
      this.fail(at, `'${q.proto}' cannot qualify '${type}' (write '${q.proto} and ${type} …' instead)`);
    }
    if ((type === 'port' || type === 'portrange') && q.proto !== null && q.proto !== 'tcp' && q.proto !== 'udp' && q.proto !== 'sctp') {
      this.fail(at, `'${q.proto}' cannot qualify '${type}' (only tcp, udp or sctp can)`);
    }
    if (type === 'proto') {
      if (q.proto !== null && q.proto !== 'ip') this.fail(at, `'${q.proto} proto' is not valid; use 'ip proto N'`);
      if (q.dir !== null) this.fail(at, `'src'/'dst' cannot qualify 'proto'`);
    }
  }

  /** Parses the value after the qualifiers and builds the tests. */
  private parseId(q: Qualifiers): FilterNode {
    const t = this.cur();
    if (t.kind !== 'word') this.fail(t, `expected ${expectedValue(q.type)} after the qualifiers, got ${this.describe(t)}`);
    const text = t.text;
    const lower = text.toLowerCase();
    if (PROTO_NAMES.has(lower) || ADDR_TYPES.has(lower) || lower === 'src' || lower === 'dst') {
      if (q.type !== 'proto') this.fail(t, `expected ${expectedValue(q.type)}, got the keyword '${text}'`);
    }
    this.i++;
    const type = q.type;
    if (type === 'proto') return { kind: 'proto', proto: this.protoNumber(t) };
    if (type === 'port' || type === 'portrange') {
      const protos = q.proto === 'tcp' ? PROTO_SET_TCP : q.proto === 'udp' ? PROTO_SET_UDP : q.proto === 'sctp' ? PROTO_SET_SCTP : PROTO_SET_ANY_PORT;
      let lo: number;
      let hi: number;
      let allowed = PROTO_SET_ANY_PORT;
      const dash = type === 'portrange' ? text.indexOf('-', 1) : -1;
      if (dash < 0) {
        [lo, allowed] = this.portNumber(t, text);
        hi = lo;
      } else {
        let a2: number;
        [lo, allowed] = this.portNumber(t, text.slice(0, dash));
        [hi, a2] = this.portNumber(t, text.slice(dash + 1));
        allowed &= a2;
        if (lo > hi) [lo, hi] = [hi, lo]; // libpcap accepts a reversed range
      }
      // A service name only exists for some transports (`port http` is tcp only).
      const protoSet = protos & allowed;
      if (protoSet === 0) this.fail(t, `'${text}' is not a known ${q.proto ?? ''} service name`);
      return withDir(q.dir, (dir) => ({ kind: 'port', dir, lo, hi, protos: protoSet }));
    }
    // host / net / default (an address).
    const [net, mask] = this.address(t, type);
    return withDir(q.dir, (dir) => ({ kind: 'addr', dir, net, mask }));
  }

  /** Address value → [net, mask] as unsigned 32-bit numbers. */
  private address(t: Token, type: AddrType | null): [number, number] {
    const text = t.text;
    if (NUM_RE.test(text)) {
      // A bare number: a host number for host/default; a network for `net`, promoted like libpcap
      // (`net 10` is 10.0.0.0/8).
      let v = parseNum(text);
      if (v > 0xffffffff) this.fail(t, `'${text}' is out of range for an IPv4 address`);
      let mask = 0xffffffff;
      if (type === 'net') {
        while (v !== 0 && (v & 0xff000000) === 0) {
          v = (v * 256) >>> 0;
          mask = (mask * 256) >>> 0;
        }
      }
      return [v >>> 0, mask >>> 0];
    }
    if (!HID_RE.test(text)) {
      if (/^[0-9.]+$/.test(text)) this.fail(t, `'${text}' is not an IPv4 address (expected a.b.c.d, or a.b / a.b.c for a network)`);
      this.fail(t, `host names are not resolved by the file filter; give an IPv4 address instead of '${text}'`);
    }
    const parts = text.split('.');
    let v = 0;
    for (const p of parts) {
      const n = Number(p);
      if (n > 255) this.fail(t, `'${text}' is not an IPv4 address: ${p} is above 255`);
      v = v * 256 + n;
    }
    const bits = parts.length * 8;
    // A partial address (10.1) names the network 10.1.0.0/16, for host as for net.
    let net = bits === 32 ? v : (v * 2 ** (32 - bits)) >>> 0;
    let mask = bits === 32 ? 0xffffffff : (0xffffffff * 2 ** (32 - bits)) % 2 ** 32;
    if (this.cur().kind === '/') {
      if (type !== 'net') this.fail(this.cur(), `a '/len' prefix is only valid after 'net' (write 'net ${text}/…')`);
      this.i++;
      const lenTok = this.cur();
      if (lenTok.kind !== 'word' || !/^[0-9]+$/.test(lenTok.text) || Number(lenTok.text) > 32) {
        this.fail(lenTok, `expected a prefix length 0..32 after '/', got ${this.describe(lenTok)}`);
      }
      this.i++;
      const len = Number(lenTok.text);
      mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      if ((net & ~mask) >>> 0 !== 0) this.fail(t, `non-network bits set in '${text}/${len}'`);
      net = (net & mask) >>> 0;
    } else if (this.cur().kind === 'word' && this.cur().text.toLowerCase() === 'mask') {
      if (type !== 'net') this.fail(this.cur(), `'mask' is only valid after 'net' (write 'net ${text} mask …')`);
      this.i++;
      const mTok = this.cur();
      if (mTok.kind !== 'word' || !/^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/.test(mTok.text) || mTok.text.split('.').some((p) => Number(p) > 255)) {
        this.fail(mTok, `expected a dotted-quad mask (e.g. 255.255.0.0) after 'mask', got ${this.describe(mTok)}`);
      }
      this.i++;
      mask = mTok.text.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
      if (bits !== 32) this.fail(t, `'mask' needs a full a.b.c.d network address, got '${text}'`);
      if ((net & ~mask) >>> 0 !== 0) this.fail(t, `non-network bits set in '${text} mask ${mTok.text}'`);
    }
    return [net >>> 0, mask >>> 0];
  }

  /** A port number (any transport) or a service name: [port, PROTO_SET_* it exists for]. */
  private portNumber(t: Token, text: string): [number, number] {
    if (NUM_RE.test(text)) {
      const n = parseNum(text);
      if (n > 65535) this.fail(t, `port ${text} is out of range (0..65535)`);
      return [n, PROTO_SET_ANY_PORT];
    }
    const svc = SERVICES[text.toLowerCase()];
    if (svc !== undefined) return svc;
    this.fail(t, `expected a port number 0..65535 or a known service name, got '${text}'`);
  }

  private protoNumber(t: Token): number {
    const text = t.text.replace(/^\\/, '').toLowerCase();
    if (NUM_RE.test(text)) {
      const n = parseNum(text);
      if (n > 255) this.fail(t, `IP protocol ${t.text} is out of range (0..255)`);
      return n;
    }
    const p = PROTOS[text as Proto];
    if (p !== undefined && text !== 'ip') return p;
    this.fail(t, `expected an IP protocol number 0..255 or tcp/udp/icmp/sctp, got '${t.text}'`);
  }
}

function parseNum(text: string): number {
  if (/^0x/i.test(text)) return parseInt(text.slice(2), 16);
  if (text.length > 1 && text.startsWith('0')) return parseInt(text, 8);
  return Number(text);
}

function protoNode(p: Proto): FilterNode {
  return p === 'ip' ? { kind: 'true' } : { kind: 'proto', proto: PROTOS[p] };
}

function withDir(dir: Dir | null, make: (d: 'src' | 'dst') => FilterNode): FilterNode {
  if (dir === 'src' || dir === 'dst') return make(dir);
  const kind = dir === 'src-and-dst' ? 'and' : 'or';
  return { kind, a: make('src'), b: make('dst') };
}

function expectedValue(type: AddrType | null): string {
  switch (type) {
    case 'port':
      return 'a port number';
    case 'portrange':
      return 'a port range lo-hi';
    case 'net':
      return 'a network (a.b.c.d/len, a.b.c.d mask m.m.m.m or a.b)';
    case 'proto':
      return 'an IP protocol number or name';
    default:
      return 'an IPv4 address';
  }
}
