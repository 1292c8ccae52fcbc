import type { Buffer } from 'node:buffer';
import type { FilterNode } from './ast.js';
import { PROTO_SET_SCTP, PROTO_SET_TCP, PROTO_SET_UDP } from './ast.js';
import { parseFilter } from './parser.js';

/*
 * A compiled filter is a flat branch program, like classic BPF: instruction k tests one thing and
 * continues at jt[k] when true, jf[k] when false; the targets ACCEPT (-1) / REJECT (-2) end it.
 * Boolean structure becomes jumps (short-circuit), so matching is one loop over typed arrays:
 * no recursion, no closures, no allocation per packet.
 *
 * Truncation follows BPF: a test that needs bytes beyond the captured length rejects the packet
 * outright (even under `not`), which is what tcpdump does when its filter program reads past the
 * end of a packet.
 */

const ACCEPT = -1;
const REJECT = -2;

const OP_PROTO = 1;
const OP_SRC_NET = 2;
const OP_DST_NET = 3;
const OP_SRC_PORT = 4;
const OP_DST_PORT = 5;

const OP_NAMES = ['', 'proto', 'src net', 'dst net', 'src port', 'dst port'];

export class PacketFilter {
  private readonly op: Uint8Array;
  private readonly a: Uint32Array;
  private readonly b: Uint32Array;
  private readonly c: Uint8Array;
  private readonly jt: Int32Array;
  private readonly jf: Int32Array;
  private readonly entry: number;

  /** Use compileFilter(). */
  constructor(
    readonly expression: string,
    readonly tree: FilterNode,
  ) {
    const ops: { op: number; a: number; b: number; c: number; jt: number; jf: number }[] = [];
    // Emits `n` so that it continues at t when true and f when false; returns its entry point.
    const emit = (n: FilterNode, t: number, f: number): number => {
      switch (n.kind) {
        case 'true':
          return t;
        case 'false':
          return f;
        case 'not':
          return emit(n.a, f, t);
        case 'and':
          return emit(n.a, emit(n.b, t, f), f);
        case 'or':
          return emit(n.a, t, emit(n.b, t, f));
        case 'proto':
          ops.push({ op: OP_PROTO, a: n.proto, b: 0, c: 0, jt: t, jf: f });
          return ops.length - 1;
        case 'addr':
          ops.push({ op: n.dir === 'src' ? OP_SRC_NET : OP_DST_NET, a: n.net, b: n.mask, c: 0, jt: t, jf: f });
          return ops.length - 1;
        case 'port':
          ops.push({ op: n.dir === 'src' ? OP_SRC_PORT : OP_DST_PORT, a: n.lo, b: n.hi, c: n.protos, jt: t, jf: f });
          return ops.length - 1;
      }
    };
    this.entry = emit(tree, ACCEPT, REJECT);
    const len = ops.length;
    this.op = new Uint8Array(len);
    this.a = new Uint32Array(len);
    this.b = new Uint32Array(len);
    this.c = new Uint8Array(len);
    this.jt = new Int32Array(len);
    this.jf = new Int32Array(len);
    ops.forEach((o, k) => {
      this.op[k] = o.op;
      this.a[k] = o.a;
      this.b[k] = o.b;
      this.c[k] = o.c;
      this.jt[k] = o.jt;
      this.jf[k] = o.jf;
    });
  }

  /** Number of test instructions. */
  get size(): number {
    return this.op.length;
  }

  /** True when the filter accepts everything (empty expression, `ip`). */
  get matchesAll(): boolean {
    return this.entry === ACCEPT;
  }

  /**
   * Does the IPv4 packet at buf[ipOff] match? `capLen` is how many bytes from ipOff were captured
   * (default: to the end of buf).
   */
  match(buf: Buffer, ipOff: number, capLen: number = buf.length - ipOff): boolean {
    const end = ipOff + capLen;
    const { op, a, b, c, jt, jf } = this;
    let pc = this.entry;
    while (pc >= 0) {
      let hit: boolean;
      switch (op[pc]) {
        case OP_PROTO:
          if (ipOff + 10 > end) return false;
          hit = buf[ipOff + 9] === a[pc];
          break;
        case OP_SRC_NET:
          if (ipOff + 16 > end) return false;
          hit = (buf.readUInt32BE(ipOff + 12) & (b[pc] as number)) >>> 0 === a[pc];
          break;
        case OP_DST_NET:
          if (ipOff + 20 > end) return false;
          hit = (buf.readUInt32BE(ipOff + 16) & (b[pc] as number)) >>> 0 === a[pc];
          break;
        case OP_SRC_PORT:
        case OP_DST_PORT: {
          if (ipOff + 10 > end) return false;
          const p = buf[ipOff + 9];
          const set = c[pc] as number;
          const protoOk = (p === 6 && (set & PROTO_SET_TCP) !== 0) || (p === 17 && (set & PROTO_SET_UDP) !== 0) || (p === 132 && (set & PROTO_SET_SCTP) !== 0);
          if (!protoOk) {
            hit = false;
            break;
          }
          if (ipOff + 8 > end) return false;
          // Later fragments carry no transport header.
          if ((buf.readUInt16BE(ipOff + 6) & 0x1fff) !== 0) {
            hit = false;
            break;
          }
          const l4 = ipOff + (((buf[ipOff] as number) & 0x0f) << 2) + (op[pc] === OP_SRC_PORT ? 0 : 2);
          if (l4 + 2 > end) return false;
          const port = buf.readUInt16BE(l4);
          hit = port >= (a[pc] as number) && port <= (b[pc] as number);
          break;
        }
        default:
          return false;
      }
      pc = hit ? (jt[pc] as number) : (jf[pc] as number);
    }
    return pc === ACCEPT;
  }

  /** The program as text, one instruction per line (diagnostics). */
  disassemble(): string {
    const tgt = (x: number): string => (x === ACCEPT ? 'accept' : x === REJECT ? 'reject' : String(x));
    const lines = [`entry ${tgt(this.entry)}`];
    for (let k = 0; k < this.op.length; k++) {
      lines.push(`${k}: ${OP_NAMES[this.op[k] as number]} ${this.a[k]} ${this.b[k]} ${this.c[k]} ? ${tgt(this.jt[k] as number)} : ${tgt(this.jf[k] as number)}`);
    }
    return lines.join('\n');
  }
}

/** Compiles a pcap-filter expression; throws FilterError naming the position and what was expected. */
export function compileFilter(expression: string): PacketFilter {
  return new PacketFilter(expression, parseFilter(expression));
}
