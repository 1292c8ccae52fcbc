import { ok, problem, skipped, type CheckResult } from './types.js';

/** What `ip -o route get ADDR` said. */
export interface RouteLookup {
  addr: string;
  /** Output (stdout + stderr) of the command. */
  text: string;
  /** The command exited 0. */
  found: boolean;
}

export interface ParsedRoute {
  /** Route type: unicast (no keyword), local, broadcast, unreachable, blackhole, prohibit… */
  kind: string;
  dev: string | null;
  via: string | null;
}

/** Parses `ip -o route get` output ("10.1.2.3 via 10.0.0.1 dev eth0 src …", "local 10.0.0.2 dev lo …"). */
export function parseRouteGet(text: string): ParsedRoute | null {
  const line = text.split('\n')[0]?.trim() ?? '';
  if (line === '' || /^RTNETLINK|^Error/i.test(line)) return null;
  const first = line.split(/\s+/)[0] ?? '';
  const kind = /^\d/.test(first) ? 'unicast' : first;
  const dev = / dev (\S+)/.exec(line);
  const via = / via (\S+)/.exec(line);
  return { kind, dev: dev === null ? null : (dev[1] as string), via: via === null ? null : (via[1] as string) };
}

export interface RouteCheckHints {
  /** The copier host's address, when given (two-host: the route should go via it). */
  copier: string | null;
  /** How to invoke route-setup.sh in the fix text. */
  routeScript: string;
}

/**
 * A route towards the (fake) client addresses exists on the test server. Without one the kernel
 * never sends the SYN-ACK, so nothing passes OUTPUT and the handshake never completes. A local
 * address is as bad: the answer goes to lo and skips the `! -o lo` rule.
 */
export function checkClientRoutes(lookups: readonly RouteLookup[], hints: RouteCheckHints): CheckResult {
  const id = 'client-route';
  const title = 'route to the client addresses';
  if (lookups.length === 0) return skipped(id, title, 'no client address to check (give --check-clients)');
  const gw = hints.copier ?? '<copier ip>';
  const fixFor = (addr: string): string =>
    `bash ${hints.routeScript} add --clients ${addr.includes('/') ? addr : `${addr}/32`} --via ${gw}` +
    '  (two hosts; on a single host: ip route add <client range> dev <non-lo interface>)';
  const good: string[] = [];
  for (const l of lookups) {
    const r = l.found ? parseRouteGet(l.text) : null;
    if (r === null) {
      return problem(id, title, `no route to ${l.addr} (${l.text.trim() || 'ip route get failed'}): the server's kernel never answers those clients, so no SYN-ACK reaches OUTPUT/NFQUEUE`, fixFor(l.addr));
    }
    if (r.kind === 'local' || r.dev === 'lo') {
      return problem(id, title, `${l.addr} is a local address of this host: answers to it stay on lo and are not queued`, `use client addresses that are not configured on the test server (tcpcopy -c) or remove the address`);
    }
    if (r.kind !== 'unicast') {
      return problem(id, title, `${l.addr} is routed as ${r.kind}: the server cannot answer it`, fixFor(l.addr));
    }
    if (hints.copier !== null && r.via !== null && r.via !== hints.copier) {
      good.push(`${l.addr} via ${r.via} dev ${r.dev ?? '?'} (not via the copier ${hints.copier}: a response that escapes the rule goes to a real host)`);
      continue;
    }
    good.push(`${l.addr} ${r.via !== null ? `via ${r.via}` : 'directly connected'} on ${r.dev ?? '?'}`);
  }
  return ok(id, title, good.join('; '));
}

export interface RpFilterFacts {
  /** net.ipv4.conf.all.rp_filter (null = unreadable). */
  all: number | null;
  /** net.ipv4.conf.<dev>.rp_filter for the devices involved. */
  perDev: Readonly<Record<string, number | null>>;
  /** Device of the route back to the clients. */
  clientDev: string | null;
  /** Device the copier's packets come in on (route to the copier), when the copier is known. */
  copierDev: string | null;
}

const effective = (f: RpFilterFacts, dev: string): number => Math.max(f.all ?? 0, f.perDev[dev] ?? 0);

/**
 * Strict reverse-path filtering (1) drops client packets arriving on an interface other than the
 * one the route back to their source uses: the server never sees the SYN ("test server receives
 * nothing"). Loose (2) and off (0) are fine.
 */
export function checkRpFilter(f: RpFilterFacts): CheckResult {
  const id = 'rp-filter';
  const title = 'rp_filter';
  const inDev = f.copierDev;
  const values = `all=${f.all ?? '?'}` + Object.entries(f.perDev).map(([d, v]) => ` ${d}=${v ?? '?'}`).join('');
  if (inDev === null || f.clientDev === null) {
    const strict = Object.keys(f.perDev).some((d) => effective(f, d) === 1) || f.all === 1;
    return ok(id, title, `${values}` + (strict ? ' (strict: fine as long as the copier\'s packets arrive on the interface of the client route; give --check-copier to verify)' : ''));
  }
  const eff = effective(f, inDev);
  if (eff !== 1 || inDev === f.clientDev || inDev === 'lo') return ok(id, title, `${values}; copier packets arrive on ${inDev}, client route uses ${f.clientDev}`);
  return problem(
    id,
    title,
    `strict (${values}): packets from the clients arrive on ${inDev} but the route back to them uses ${f.clientDev}, so the kernel drops them before the server sees them`,
    `sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.${inDev}.rp_filter=2  (or route the clients via the copier: route-setup.sh add … --rp-filter loose)`,
  );
}
