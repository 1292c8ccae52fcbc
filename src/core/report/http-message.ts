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

const REQUEST_LINE = /^([A-Z][A-Z_-]{0,19}) (\S+) HTTP\/1\.[01]$/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/;
const MAX_HEAD = 64 * 1024;

/** End of the head (index after the blank line) from `from`, or -1 (native searches: this runs per answer). */
function headEnd(b: Buffer, from: number): number {
  const head = b.subarray(from, Math.min(b.length, from + MAX_HEAD));
  const crlf = head.indexOf('\r\n\r\n', 0, 'latin1');
  // A bare-LF head (rare) ends earlier than any CRLF blank line: look only before it.
  const lf = (crlf < 0 ? head : head.subarray(0, crlf + 2)).indexOf('\n\n', 0, 'latin1');
  if (lf >= 0) return from + lf + 2;
  return crlf < 0 ? -1 : from + crlf + 4;
}

function headLines(b: Buffer, from: number, end: number): string[] {
  const text = b.toString('latin1', from, end);
  // CRLF heads (nearly all) split without a regular expression.
  return (text.includes('\r') ? text.split('\r\n') : text.split('\n')).filter((l) => l !== '');
}

function parseHeaders(lines: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return out;
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
    const lines = headLines(b, at, end < 0 ? Math.min(b.length, at + MAX_HEAD) : end);
    const m = REQUEST_LINE.exec(lines[0] ?? '');
    if (m === null) break;
    out.push({ method: m[1] as string, target: m[2] as string });
    // Headers matter only to find a pipelined request after this one's body.
    if (end < 0 || end >= b.length) break;
    const length = Number(headerValue(parseHeaders(lines.slice(1)), 'content-length') ?? '0');
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
export function parseHttpResponses(b: Buffer, requestMethods: readonly string[] = []): HttpResponses {
  const responses: HttpResponse[] = [];
  let at = 0;
  while (at < b.length) {
    const end = headEnd(b, at);
    if (end < 0) return { responses, complete: false };
    const lines = headLines(b, at, end);
    const m = STATUS_LINE.exec(lines[0] ?? '');
    if (m === null) return { responses, complete: false };
    const status = Number(m[1]);
    const headers = parseHeaders(lines.slice(1));
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
