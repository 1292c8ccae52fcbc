import type { Buffer } from 'node:buffer';

/**
 * Redis RESP (2 and 3) parsing for the report: request command names and reply type/value.
 * Tolerant like the HTTP parser: incomplete or malformed input ends the list; nothing throws.
 */

export type RespValue =
  | { type: 'simple' | 'error' | 'integer'; text: string }
  | { type: 'bulk'; start: number; end: number }
  | { type: 'null' }
  | { type: 'array'; items: RespValue[] };

const MAX_DEPTH = 16;
const MAX_ITEMS = 100_000;

function line(b: Buffer, at: number): { text: string; next: number } | null {
  const nl = b.indexOf(0x0a, at);
  if (nl < 0) return null;
  return { text: b.toString('latin1', at, b[nl - 1] === 0x0d ? nl - 1 : nl), next: nl + 1 };
}

/** One value at `at`, with the index after it; null when incomplete or not RESP. */
export function parseResp(b: Buffer, at: number, depth = 0): { value: RespValue; next: number } | null {
  if (at >= b.length || depth > MAX_DEPTH) return null;
  const l = line(b, at + 1);
  if (l === null) return null;
  const t = String.fromCharCode(b[at] as number);
  switch (t) {
    case '+':
    case '#': // RESP3 boolean, double, big number: simple scalars
    case ',':
    case '(':
      return { value: { type: 'simple', text: t === '+' ? l.text : t + l.text }, next: l.next };
    case '-':
      return { value: { type: 'error', text: l.text }, next: l.next };
    case ':':
      return /^-?\d+$/.test(l.text) ? { value: { type: 'integer', text: l.text }, next: l.next } : null;
    case '_':
      return { value: { type: 'null' }, next: l.next };
    case '$':
    case '=': // RESP3 verbatim string
    case '!': {
      // RESP3 blob error
      const n = Number(l.text);
      if (n === -1) return { value: { type: 'null' }, next: l.next };
      if (!Number.isSafeInteger(n) || n < 0) return null;
      if (l.next + n > b.length) return null;
      let next = l.next + n;
      if (b[next] === 0x0d) next++;
      if (b[next] === 0x0a) next++;
      return { value: { type: 'bulk', start: l.next, end: l.next + n }, next };
    }
    case '*':
    case '~': // RESP3 set, push, map (2 values per entry)
    case '>':
    case '%': {
      const count = Number(l.text) * (t === '%' ? 2 : 1);
      if (count < 0 && t === '*') return { value: { type: 'null' }, next: l.next };
      if (!Number.isSafeInteger(count) || count < 0 || count > MAX_ITEMS) return null;
      const items: RespValue[] = [];
      let next = l.next;
      for (let i = 0; i < count; i++) {
        const item = parseResp(b, next, depth + 1);
        if (item === null) return null;
        items.push(item.value);
        next = item.next;
      }
      return { value: { type: 'array', items }, next };
    }
    default:
      return null;
  }
}

/** Pipelined replies in order, and whether every byte was consumed. */
export function parseRespReplies(b: Buffer, max = 1024): { replies: RespValue[]; complete: boolean } {
  const replies: RespValue[] = [];
  let at = 0;
  while (at < b.length && replies.length < max) {
    const r = parseResp(b, at);
    if (r === null) return { replies, complete: false };
    replies.push(r.value);
    at = r.next;
  }
  return { replies, complete: at >= b.length };
}

/** True when the bytes start like a RESP command (an array of bulk strings). */
export function looksLikeRespCommand(b: Buffer): boolean {
  return b[0] === 0x2a && /^\*\d+\r?\n\$\d+/.test(b.toString('latin1', 0, Math.min(b.length, 32)));
}

/** Command names (upper case) of pipelined requests: RESP arrays or inline commands. */
export function respCommands(b: Buffer, max = 64): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < b.length && out.length < max) {
    if (b[at] === 0x2a) {
      const r = parseResp(b, at);
      if (r === null || r.value.type !== 'array') break;
      const first = r.value.items[0];
      // Printable names only: endpoint names reach terminals and logs.
      const name = first?.type === 'bulk' ? b.toString('latin1', first.start, Math.min(first.end, first.start + 32)).toUpperCase() : '?';
      out.push(/^[\x21-\x7e]+$/.test(name) ? name : '?');
      at = r.next;
    } else {
      const l = line(b, at);
      const word = (l?.text ?? b.toString('latin1', at, Math.min(b.length, at + 64))).trim().split(/\s+/)[0] ?? '';
      if (/^[A-Za-z][A-Za-z.-]{0,31}$/.test(word)) out.push(word.toUpperCase());
      if (l === null) break;
      at = l.next;
    }
  }
  return out;
}

/** Short label of a reply: "+OK", "-ERR wrong type", ":42", "$5", "*3", "(nil)". */
export function respLabel(v: RespValue): string {
  switch (v.type) {
    case 'simple':
      return `+${v.text.slice(0, 40)}`;
    case 'error':
      return `-${v.text.slice(0, 60)}`;
    case 'integer':
      return `:${v.text}`;
    case 'bulk':
      return `$${v.end - v.start}`;
    case 'null':
      return '(nil)';
    case 'array':
      return `*${v.items.length}`;
  }
}

/**
 * What a reply's "status" compares: the type and, for scalars, the value. Bulk strings and arrays
 * compare by type only here; their content is the body (size and digest).
 */
export function respStatusKey(v: RespValue): string {
  switch (v.type) {
    case 'simple':
      return `+${v.text}`;
    case 'error':
      return `-${v.text}`;
    case 'integer':
      return `:${v.text}`;
    case 'bulk':
      return '$';
    case 'null':
      return '(nil)';
    case 'array':
      return '*';
  }
}
