import { parseIpv4 } from '../packet/ipv4.js';
import type { Transfer } from '../transfer.js';
import { ConfigError } from './errors.js';

/**
 * Parsers for the copier's (tcpcopy's) option values. Each returns typed values or throws a
 * ConfigError naming the flag and the accepted form; commander only passes strings through.
 * Addresses are u32 numbers (big-endian value of the dotted quad), as in core/packet.
 */

// Re-exported: the parsers' callers get the type they produce from here.
export type { Transfer } from '../transfer.js';

/** Distinct targets are indexed into session keys; 32 keeps a key within 2^53 (see tuple-map). */
export const MAX_TRANSFERS = 32;
/** Largest -c pool after expansion. */
export const MAX_CLIENT_POOL = 65536;

const TRANSFER_FORM = 'expected [onlineIp:]port-targetIp:targetPort[,...], e.g. 80-10.0.0.2:8080 or 192.0.2.1:80-10.0.0.2:80';

function parsePortText(s: string): number | null {
  if (!/^[0-9]{1,5}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : null;
}

/** `-x [onlineIp:]port-targetIp:targetPort,…` */
export function parseTransfers(value: string, flag = '-x'): Transfer[] {
  const items = value.split(',').map((s) => s.trim());
  if (value.trim() === '' || items.some((s) => s === '')) throw new ConfigError(flag, value, TRANSFER_FORM);
  if (items.length > MAX_TRANSFERS) throw new ConfigError(flag, value, `at most ${MAX_TRANSFERS} transfers; ${TRANSFER_FORM}`);
  const out: Transfer[] = [];
  for (const item of items) {
    const dash = item.indexOf('-');
    if (dash < 0) throw new ConfigError(flag, item, TRANSFER_FORM);
    const left = item.slice(0, dash);
    const right = item.slice(dash + 1);
    let onlineIp: number | null = null;
    let onlinePortText = left;
    const lc = left.lastIndexOf(':');
    if (lc >= 0) {
      onlineIp = parseIpv4(left.slice(0, lc));
      if (onlineIp === null) throw new ConfigError(flag, item, `bad online address; ${TRANSFER_FORM}`);
      onlinePortText = left.slice(lc + 1);
    }
    const onlinePort = parsePortText(onlinePortText);
    if (onlinePort === null) throw new ConfigError(flag, item, `online port must be 1..65535; ${TRANSFER_FORM}`);
    const rc = right.lastIndexOf(':');
    if (rc < 0) throw new ConfigError(flag, item, `target needs ip:port; ${TRANSFER_FORM}`);
    const targetIp = parseIpv4(right.slice(0, rc));
    if (targetIp === null) throw new ConfigError(flag, item, `bad target address; ${TRANSFER_FORM}`);
    const targetPort = parsePortText(right.slice(rc + 1));
    if (targetPort === null) throw new ConfigError(flag, item, `target port must be 1..65535; ${TRANSFER_FORM}`);
    out.push({ onlineIp, onlinePort, targetIp, targetPort });
  }
  return out;
}

const POOL_FORM =
  'expected a comma-separated list of IPv4 addresses, ranges a.b.c.d-a.b.c.e or a.b.c.d-e, a.b.c.x or a.b.c.* (= .1 to .254), or CIDR a.b.c.d/n';

/**
 * `-c` client address pool: `ip`, `a.b.c.d-a.b.c.e`, `a.b.c.d-e` (last octet), the stock
 * `a.b.c.x` and tcpburn's `a.b.c.*` (.1–.254), and CIDR `a.b.c.d/n` (its host addresses: without
 * the network and broadcast addresses up to /30). Addresses equal to a target IP are removed (a
 * client must not look like the server); duplicates are removed keeping first order.
 */
export function parseClientPool(value: string, targetIps: readonly number[] = [], flag = '-c'): number[] {
  const items = value.split(',').map((s) => s.trim());
  if (value.trim() === '' || items.some((s) => s === '')) throw new ConfigError(flag, value, POOL_FORM);
  const seen = new Set<number>();
  const out: number[] = [];
  const add = (ip: number): void => {
    if (seen.has(ip) || targetIps.includes(ip)) return;
    seen.add(ip);
    out.push(ip);
    if (out.length > MAX_CLIENT_POOL) throw new ConfigError(flag, value, `at most ${MAX_CLIENT_POOL} addresses; ${POOL_FORM}`);
  };
  for (const item of items) {
    const slash = item.indexOf('/');
    if (slash >= 0) {
      const [lo, hi] = cidrHosts(item, slash, flag);
      if (hi - lo >= MAX_CLIENT_POOL) throw new ConfigError(flag, item, `more than ${MAX_CLIENT_POOL} addresses; ${POOL_FORM}`);
      for (let ip = lo; ip <= hi; ip++) add(ip);
      continue;
    }
    if (/\.[x*]$/i.test(item)) {
      const base = parseIpv4(item.slice(0, -1) + '0');
      if (base === null) throw new ConfigError(flag, item, POOL_FORM);
      for (let d = 1; d <= 254; d++) add(base + d);
      continue;
    }
    const dash = item.indexOf('-');
    if (dash >= 0) {
      const lo = parseIpv4(item.slice(0, dash));
      const hiText = item.slice(dash + 1);
      let hi: number | null;
      if (/^[0-9]{1,3}$/.test(hiText) && lo !== null) {
        const last = Number(hiText);
        hi = last <= 255 ? lo - (lo & 0xff) + last : null;
      } else {
        hi = parseIpv4(hiText);
      }
      if (lo === null || hi === null || hi < lo) throw new ConfigError(flag, item, `range must be low-high; ${POOL_FORM}`);
      if (hi - lo >= MAX_CLIENT_POOL) throw new ConfigError(flag, item, `range larger than ${MAX_CLIENT_POOL}; ${POOL_FORM}`);
      for (let ip = lo; ip <= hi; ip++) add(ip);
      continue;
    }
    const ip = parseIpv4(item);
    if (ip === null) throw new ConfigError(flag, item, POOL_FORM);
    add(ip);
  }
  if (out.length === 0) throw new ConfigError(flag, value, `no usable address left after removing target addresses; ${POOL_FORM}`);
  return out;
}

/** First and last host address of `a.b.c.d/n` (the address is masked to its network). */
function cidrHosts(item: string, slash: number, flag: string): [number, number] {
  const addr = parseIpv4(item.slice(0, slash));
  const bitsText = item.slice(slash + 1);
  if (addr === null || !/^[0-9]{1,2}$/.test(bitsText) || Number(bitsText) > 32) throw new ConfigError(flag, item, POOL_FORM);
  const bits = Number(bitsText);
  const size = 2 ** (32 - bits);
  const net = addr - (addr % size);
  return size <= 2 ? [net, net + size - 1] : [net + 1, net + size - 2];
}

/** A single IPv4 address flag such as `-H`. */
export function parseAddress(value: string, flag: string): number {
  const ip = parseIpv4(value.trim());
  if (ip === null) throw new ConfigError(flag, value, 'expected an IPv4 address such as 10.0.0.1');
  return ip;
}

/** A whole number in [min, max]. */
export function parseIntRange(value: string, flag: string, min: number, max: number, what: string): number {
  const t = value.trim();
  if (!/^-?[0-9]+$/.test(t)) throw new ConfigError(flag, value, `expected ${what}: a whole number ${min}..${max}`);
  const n = Number(t);
  if (n < min || n > max) throw new ConfigError(flag, value, `expected ${what}: a whole number ${min}..${max}`);
  return n;
}

/** `-n` replicas: 1..1023 (0 and 1 both mean "no extra copies", as in stock). Returns ≥ 1. */
export function parseReplicas(value: string, flag = '-n'): number {
  return Math.max(1, parseIntRange(value, flag, 0, 1023, 'the number of copies of each session'));
}

/** `-f` port-shift factor 0..1023. */
export function parsePortShift(value: string, flag = '-f'): number {
  return parseIntRange(value, flag, 0, 1023, 'the port-shift factor');
}

/** `-r` sample percentage: 1..100 (0 or 100 = every session). Returns 0..100 with 0 → 100. */
export function parseSampleRate(value: string, flag = '-r'): number {
  const n = parseIntRange(value, flag, 0, 100, 'the percentage of sessions to replay');
  return n === 0 ? 100 : n;
}

/** `-M` MTU of packets sent to the target: 128..65535. */
export function parseMtu(value: string, flag = '-M'): number {
  return parseIntRange(value, flag, 128, 65535, 'the MTU in bytes');
}

/** `-D` MSS announced in fake SYNs and clamped into captured SYNs: 64..65495. */
export function parseMss(value: string, flag = '-D'): number {
  return parseIntRange(value, flag, 64, 65495, 'the MSS in bytes');
}

/** `-R` fixed RTT in milliseconds (1..60000). */
export function parseFixedRtt(value: string, flag = '-R'): number {
  return parseIntRange(value, flag, 1, 60000, 'a fixed round-trip time in ms');
}

/** `-t` session timeout, seconds. Negative means the default 600 (stock). */
export function parseSessionTimeout(value: string, flag = '-t'): number {
  const n = parseIntRange(value, flag, -2147483648, 86400, 'the session timeout in seconds (1..86400; negative = 600)');
  if (n === 0) throw new ConfigError(flag, value, 'expected the session timeout in seconds (1..86400; negative = 600)');
  return n < 0 ? 600 : n;
}

/** `-k` keep-alive timeout, seconds; ≤ 0 means sessionTimeout + 120 (stock). */
export function parseKeepaliveTimeout(value: string, sessionTimeoutS: number, flag = '-k'): number {
  const n = parseIntRange(value, flag, -2147483648, 86400, 'the keep-alive timeout in seconds (≤ 0 = -t + 120)');
  return n <= 0 ? sessionTimeoutS + 120 : n;
}

/** `-U` per-session buffer cap in KB (1..1048576). */
export function parseSessionBufferKb(value: string, flag = '-U'): number {
  return parseIntRange(value, flag, 1, 1048576, 'the per-session buffer cap in KB');
}

/** `-m` total memory cap in MB (1..1048576). */
export function parseMemoryMb(value: string, flag = '-m'): number {
  return parseIntRange(value, flag, 1, 1048576, 'the memory limit in MB');
}

/** `-a` acceleration: a positive number (decimals allowed; 1 = capture speed). */
export function parseAcceleration(value: string, flag = '-a'): number {
  const t = value.trim();
  const n = /^[0-9]+(\.[0-9]+)?$/.test(t) ? Number(t) : NaN;
  if (!(n > 0 && n <= 1_000_000)) throw new ConfigError(flag, value, 'expected a positive speed-up factor such as 1, 2.5 or 10');
  return n;
}

/** `-I` idle-gap threshold in ms (0 = off). */
export function parseGapThreshold(value: string, flag = '-I'): number {
  return parseIntRange(value, flag, 0, 86_400_000, 'the idle-gap threshold in ms (0 = off)');
}

/** `-T` replay times ≥ 1. */
export function parseReplayTimes(value: string, flag = '-T'): number {
  return parseIntRange(value, flag, 1, 1_000_000, 'how many times to replay the file');
}

/** `-C` connections per interceptor, 1..11. */
export function parseConnections(value: string, flag = '-C'): number {
  return parseIntRange(value, flag, 1, 11, 'the number of connections per interceptor');
}

/** A TCP port 1..65535 (e.g. `-p`). */
export function parsePort(value: string, flag: string): number {
  const p = parsePortText(value.trim());
  if (p === null) throw new ConfigError(flag, value, 'expected a TCP port 1..65535');
  return p;
}

export interface InterceptorAddress {
  ip: number;
  port: number;
}

/** `-s ip[:port],…` (at most 32); a missing port is `defaultPort` (the copier's -p). */
export function parseInterceptors(value: string, defaultPort: number, flag = '-s'): InterceptorAddress[] {
  const form = 'expected ip[:port][,ip[:port]...] (at most 32), e.g. 10.0.0.2 or 10.0.0.2:36524';
  const items = value.split(',').map((s) => s.trim());
  if (value.trim() === '' || items.some((s) => s === '') || items.length > 32) throw new ConfigError(flag, value, form);
  return items.map((item) => {
    const c = item.indexOf(':');
    const ip = parseIpv4(c < 0 ? item : item.slice(0, c));
    const port = c < 0 ? defaultPort : parsePortText(item.slice(c + 1));
    if (ip === null || port === null) throw new ConfigError(flag, item, form);
    return { ip, port };
  });
}
