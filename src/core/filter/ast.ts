/**
 * The filter after parsing: qualifiers are already resolved, so every leaf is one concrete test
 * on the IPv4 header or the transport ports. `src or dst` / `src and dst` are expanded into or/and
 * nodes by the parser.
 */
export type FilterNode =
  | { kind: 'true' }
  | { kind: 'false' }
  | { kind: 'and' | 'or'; a: FilterNode; b: FilterNode }
  | { kind: 'not'; a: FilterNode }
  /** IP protocol field equals `proto`. */
  | { kind: 'proto'; proto: number }
  /** (address & mask) == net, on the source or destination address. */
  | { kind: 'addr'; dir: 'src' | 'dst'; net: number; mask: number }
  /** Transport is one of `protos` (PROTO_SET_* bits), not a later fragment, port in [lo, hi]. */
  | { kind: 'port'; dir: 'src' | 'dst'; lo: number; hi: number; protos: number };

export const PROTO_SET_TCP = 1;
export const PROTO_SET_UDP = 2;
export const PROTO_SET_SCTP = 4;
/** `port N` without a protocol: tcp, udp or sctp, as libpcap does. */
export const PROTO_SET_ANY_PORT = PROTO_SET_TCP | PROTO_SET_UDP | PROTO_SET_SCTP;

/** Readable form of a tree, for tests and `--debug` output. */
export function formatNode(n: FilterNode): string {
  switch (n.kind) {
    case 'true':
    case 'false':
      return n.kind;
    case 'and':
    case 'or':
      return `(${formatNode(n.a)} ${n.kind} ${formatNode(n.b)})`;
    case 'not':
      return `not ${formatNode(n.a)}`;
    case 'proto':
      return `proto ${n.proto}`;
    case 'addr':
      return `${n.dir} ${fmtIp(n.net)}/${fmtIp(n.mask)}`;
    case 'port':
      return `${n.dir} port ${n.lo === n.hi ? n.lo : `${n.lo}-${n.hi}`} [${n.protos}]`;
  }
}

function fmtIp(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}
