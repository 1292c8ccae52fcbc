import { ipToString } from '../packet/ipv4.js';
import type { Transfer } from '../transfer.js';

/**
 * The libpcap filter of a live capture, built from the -x transfers and -F:
 *
 *   inbound and tcp and (dst port 80 or dst host 192.0.2.1 and dst port 443) and (<-F as given>)
 *
 * - Destination address/port of the online service selects the client→server direction.
 * - `inbound` also drops what this host itself sends: libpcap on Linux compiles it for every live
 *   link type (packet type from the kernel: SKF_AD_PKTTYPE, or the cooked header on `any`). Without
 *   it, the copier's own packets to a target with the same port (-x 80-10.0.0.2:80) and this
 *   host's own connections to port 80 elsewhere would be captured and replayed again.
 * - -F is handed to libpcap untouched (its full grammar, not our offline subset), in parentheses
 *   so its `or` cannot escape the AND.
 * The -x match runs again per packet in the selector (it also yields the transfer index), so the
 * kernel filter only has to be a superset of what is replayed.
 */
export function buildCaptureFilter(transfers: readonly Transfer[], userFilter: string | null): string {
  const terms: string[] = [];
  for (const t of transfers) {
    const term = t.onlineIp === null ? `dst port ${t.onlinePort}` : `dst host ${ipToString(t.onlineIp)} and dst port ${t.onlinePort}`;
    if (!terms.includes(term)) terms.push(term);
  }
  // `dst port P` alone already covers `dst host H and dst port P`.
  const anyPort = new Set(transfers.filter((t) => t.onlineIp === null).map((t) => t.onlinePort));
  const kept = terms.filter((term) => !/^dst host /.test(term) || !anyPort.has(Number(term.slice(term.lastIndexOf(' ') + 1))));
  const services = kept.length === 1 ? (kept[0] as string) : kept.map((k) => `(${k})`).join(' or ');
  const base = `inbound and tcp and (${services})`;
  const extra = userFilter === null ? '' : userFilter.trim();
  return extra === '' ? base : `${base} and (${extra})`;
}
