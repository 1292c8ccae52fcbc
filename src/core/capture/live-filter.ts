import { ipToString } from '../packet/ipv4.js';
import type { Transfer } from '../transfer.js';

/**
 * How a device's filter keeps only the packets that arrive (incoming direction only):
 * - `any`: `inbound`, read from the Linux cooked header's packet type.
 * - Ethernet devices: `not ether src <the device's MAC>`. Not `inbound`: on these, libpcap (1.10,
 *   TPACKET_V3) compiles it to the kernel's packet-type extension (SKF_AD_PKTTYPE), which its
 *   userland copy of the filter cannot evaluate, and it filters the ring's first block in
 *   userland: the first packet(s) after opening were lost (seen on lo and veths).
 * - Loopback: nothing; libpcap itself discards the outgoing copy of each loopback packet.
 * - Anything else (tun: raw IP, no link header): `inbound`, with that first-block loss.
 */
export type DirectionRule = { kind: 'inbound' } | { kind: 'not-ether-src'; mac: string } | { kind: 'none' };

const ARPHRD_ETHER = 1;
const ARPHRD_LOOPBACK = 772;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** The rule for `device`, from its ARPHRD type and address (/sys/class/net/DEV/{type,address}). */
export function directionRule(device: string, arphrd: number | null, mac: string | null): DirectionRule {
  if (device === 'any') return { kind: 'inbound' };
  if (arphrd === ARPHRD_LOOPBACK) return { kind: 'none' };
  const m = mac?.trim().toLowerCase() ?? '';
  if (arphrd === ARPHRD_ETHER && MAC_RE.test(m) && m !== '00:00:00:00:00:00') return { kind: 'not-ether-src', mac: m };
  return { kind: 'inbound' };
}

/**
 * The libpcap filter of a live capture, built from the -x transfers and -F:
 *
 *   not ether src 02:00:00:00:00:01 and tcp and (dst port 80 or dst host 192.0.2.1 and dst port 443) and (<-F as given>)
 *
 * - Destination address/port of the online service selects the client→server direction.
 * - The direction rule also drops what this host itself sends: without it, the copier's own
 *   packets to a target with the same port (-x 80-10.0.0.2:80) and this host's own connections
 *   to port 80 elsewhere would be captured and replayed again.
 * - -F is handed to libpcap untouched (its full grammar, not our offline subset), in parentheses
 *   so its `or` cannot escape the AND.
 * The -x match runs again per packet in the selector (it also yields the transfer index), so the
 * kernel filter only has to be a superset of what is replayed.
 *
 * `responses` (--record-responses) ORs in the services' source side without the direction rule
 * (a local server's answers are outgoing); -F then applies to both. With no transfers (record
 * only with -F alone) the filter is -F (and the direction rule unless responses are recorded).
 */
export function buildCaptureFilter(
  transfers: readonly Transfer[],
  userFilter: string | null,
  direction: DirectionRule = { kind: 'none' },
  responses = false,
): string {
  const dir = direction.kind === 'inbound' ? 'inbound and ' : direction.kind === 'not-ether-src' ? `not ether src ${direction.mac} and ` : '';
  const extra = userFilter === null ? '' : userFilter.trim();
  if (transfers.length === 0) {
    // Record-only with -F alone: what -F takes (incoming only, unless responses are recorded too).
    const dirOnly = responses ? '' : dir.replace(/ and $/, '');
    if (extra === '') return dirOnly === '' ? 'tcp' : `${dirOnly} and tcp`;
    return dirOnly === '' ? `(${extra})` : `${dirOnly} and (${extra})`;
  }
  const services = serviceTerms(transfers, 'dst');
  let base = `${dir}tcp and (${services})`;
  // --record-responses: the server→client direction too (source side of the services), in either
  // direction of the device: a local server's answers leave through it.
  if (responses) base = `(${base}) or (tcp and (${serviceTerms(transfers, 'src')}))`;
  if (extra === '') return base;
  return responses ? `(${base}) and (${extra})` : `${base} and (${extra})`;
}

/** `dst port 80 or (dst host 192.0.2.1 and dst port 443)` (or the src side). */
function serviceTerms(transfers: readonly Transfer[], side: 'dst' | 'src'): string {
  const terms: string[] = [];
  for (const t of transfers) {
    const term = t.onlineIp === null ? `${side} port ${t.onlinePort}` : `${side} host ${ipToString(t.onlineIp)} and ${side} port ${t.onlinePort}`;
    if (!terms.includes(term)) terms.push(term);
  }
  // `dst port P` alone already covers `dst host H and dst port P`.
  const anyPort = new Set(transfers.filter((t) => t.onlineIp === null).map((t) => t.onlinePort));
  const kept = terms.filter((term) => !term.startsWith(`${side} host `) || !anyPort.has(Number(term.slice(term.lastIndexOf(' ') + 1))));
  return kept.length === 1 ? (kept[0] as string) : kept.map((k) => `(${k})`).join(' or ');
}
