import { Buffer } from 'node:buffer';

/**
 * HTTP/1.x parsing for the report: request lines (to name the endpoint) and responses (status,
 * headers, body), pipelined messages one after the other. Tolerant: a truncated or malformed
 * message ends the list and sets `complete: false`; nothing throws.
 */

export interface HttpRequestLine {
  method: string;
  target: string;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names, values trimmed, in order (a repeated header appears repeatedly). */
  headers: [string, string][];
  /** Body bytes after de-chunking (a view of the answer's bytes when not chunked). */
  body: Buffer;
  /** Declared body length (Content-Length, or the de-chunked length); -1 when unknown (truncated). */
  bodySize: number;
}

export interface HttpResponses {
  responses: HttpResponse[];
  /** Every byte belonged to a complete response. */
  complete: boolean;
}

export const REQUEST_LINE = /^([A-Z][A-Z_-]{0,19}) (\S+) HTTP\/1\.[01]$/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/;
const MAX_HEAD = 64 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');

/** End of the head (index after the blank line) from `from`, or -1 (native searches: this runs per answer). */
export function headEnd(b: Buffer, from: number): number {
  const limit = Math.min(b.length, from + MAX_HEAD);
  let crlf = b.indexOf(CRLFCRLF, from);
  if (crlf + 4 > limit) crlf = -1;
  // A bare-LF head (rare) ends earlier than any CRLF blank line. A backward look from the CRLF
  // one tells whether there is any, without scanning the body after it.
  if (crlf >= 0 && b.lastIndexOf(LFLF, crlf) < from) return crlf + 4;
  const lf = b.indexOf(LFLF, from);
  if (lf >= 0 && lf + 2 <= (crlf < 0 ? limit : crlf + 2)) return lf + 2;
  return crlf < 0 ? -1 : crlf + 4;
}

/**
 * A head's first line and its header fields (names lower case, values trimmed), read in one
 * pass over its latin1 text (lines end in CRLF, or LF in a bare-LF head; empty lines skipped).
 */
/** Header names a reader needs (lower case); the others are skipped without making strings of them. */
export interface HeaderFilter {
  readonly names: ReadonlySet<string>;
  /** byLength[n]: some wanted name has n characters. */
  readonly byLength: readonly boolean[];
}

export function headerFilter(names: Iterable<string>): HeaderFilter {
  const set = new Set([...names].map((n) => n.toLowerCase()));
  const byLength: boolean[] = [];
  for (const n of set) byLength[n.length] = true;
  return { names: set, byLength };
}

function parseHead(b: Buffer, from: number, end: number, filter: HeaderFilter | null = null): { first: string; headers: [string, string][] } {
  const text = b.toString('latin1', from, end);
  const crlf = text.includes('\r');
  const headers: [string, string][] = [];
  let first: string | null = null;
  let at = 0;
  while (at < text.length) {
    const nl = text.indexOf(crlf ? '\r\n' : '\n', at);
    const stop = nl < 0 ? text.length : nl;
    if (stop > at) {
      if (first === null) first = text.slice(at, stop);
      else {
        const colon = text.indexOf(':', at);
        if (colon > at && colon < stop && wanted(filter, text, at, colon)) {
          const name = text.slice(at, colon).trim().toLowerCase();
          if (filter === null || filter.names.has(name)) headers.push([name, text.slice(colon + 1, stop).trim()]);
        }
      }
    }
    at = nl < 0 ? text.length : nl + (crlf ? 2 : 1);
  }
  return { first: first ?? '', headers };
}

/** Whether the name text[at, colon) may be wanted: its length decides unless spaces pad it. */
function wanted(filter: HeaderFilter | null, text: string, at: number, colon: number): boolean {
  if (filter === null || filter.byLength[colon - at] === true) return true;
  const c0 = text.charCodeAt(at);
  const c1 = text.charCodeAt(colon - 1);
  return c0 === 0x20 || c0 === 0x09 || c1 === 0x20 || c1 === 0x09;
}

/** Value of a header (the last one when repeated), or undefined. */
export function headerValue(headers: readonly [string, string][], name: string): string | undefined {
  let v: string | undefined;
  for (const [n, value] of headers) if (n === name) v = value;
  return v;
}

/** True when the bytes start like an HTTP/1.x request line. */
export function looksLikeHttpRequest(b: Buffer): boolean {
  const nl = b.indexOf(0x0a);
  const line = b.toString('latin1', 0, nl < 0 ? Math.min(b.length, 256) : nl).replace(/\r$/, '');
  return REQUEST_LINE.test(line);
}

/** The request lines of pipelined requests (bodies skipped by Content-Length); stops at the first incomplete one. */
export function parseHttpRequests(b: Buffer, max = 64): HttpRequestLine[] {
  const out: HttpRequestLine[] = [];
  let at = 0;
  while (at < b.length && out.length < max) {
    const end = headEnd(b, at);
    const head = parseHead(b, at, end < 0 ? Math.min(b.length, at + MAX_HEAD) : end);
    const m = REQUEST_LINE.exec(head.first);
    if (m === null) break;
    out.push({ method: m[1] as string, target: m[2] as string });
    // Headers matter only to find a pipelined request after this one's body.
    if (end < 0 || end >= b.length) break;
    const length = Number(headerValue(head.headers, 'content-length') ?? '0');
    at = end + (Number.isSafeInteger(length) && length > 0 ? length : 0);
  }
  return out;
}

/** De-chunk from `at`; returns the body and the index after the last chunk, or null when truncated. */
function dechunk(b: Buffer, at: number): { body: Buffer; end: number } | null {
  const parts: Buffer[] = [];
  let i = at;
  while (true) {
    const nl = b.indexOf(0x0a, i);
    if (nl < 0) return null;
    const size = parseInt(b.toString('latin1', i, nl).split(';')[0] as string, 16);
    if (!Number.isFinite(size) || size < 0) return null;
    i = nl + 1;
    if (size === 0) {
      // Trailers, then the blank line.
      while (true) {
        const t = b.indexOf(0x0a, i);
        if (t < 0) return null;
        const blank = t === i || (t === i + 1 && b[i] === 0x0d);
        i = t + 1;
        if (blank) return { body: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), end: i };
      }
    }
    if (i + size > b.length) return null;
    parts.push(b.subarray(i, i + size));
    i += size;
    if (b[i] === 0x0d) i++;
    if (b[i] === 0x0a) i++;
  }
}

/**
 * Pipelined responses. `requestMethods[i]` (when known) tells a HEAD response, which has no body
 * whatever its Content-Length says.
 */
export function parseHttpResponses(b: Buffer, requestMethods: readonly string[] = [], filter: HeaderFilter | null = null): HttpResponses {
  const responses: HttpResponse[] = [];
  let at = 0;
  while (at < b.length) {
    const end = headEnd(b, at);
    if (end < 0) return { responses, complete: false };
    const head = parseHead(b, at, end, filter);
    const m = STATUS_LINE.exec(head.first);
    if (m === null) return { responses, complete: false };
    const status = Number(m[1]);
    const headers = head.headers;
    const noBody = (status >= 100 && status < 200) || status === 204 || status === 304 || requestMethods[responses.length] === 'HEAD';
    const chunked = /\bchunked\b/i.test(headerValue(headers, 'transfer-encoding') ?? '');
    const cl = headerValue(headers, 'content-length');
    if (noBody) {
      responses.push({ status, headers, body: b.subarray(end, end), bodySize: 0 });
      at = end;
    } else if (chunked) {
      const d = dechunk(b, end);
      if (d === null) {
        responses.push({ status, headers, body: b.subarray(end), bodySize: -1 });
        return { responses, complete: false };
      }
      responses.push({ status, headers, body: d.body, bodySize: d.body.length });
      at = d.end;
    } else if (cl !== undefined && /^\d+$/.test(cl)) {
      const n = Number(cl);
      responses.push({ status, headers, body: b.subarray(end, Math.min(b.length, end + n)), bodySize: n });
      if (end + n > b.length) return { responses, complete: false };
      at = end + n;
    } else {
      // Delimited by the close: the rest is the body.
      responses.push({ status, headers, body: b.subarray(end), bodySize: b.length - end });
      at = b.length;
    }
    // 1xx interim responses precede the real one; keep them out of the request's answer list.
    if (status >= 100 && status < 200) responses.pop();
  }
  return { responses, complete: true };
}
