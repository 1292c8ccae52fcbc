import type { Buffer } from 'node:buffer';
import { headEnd, looksLikeHttpRequest, parseHttpRequests, REQUEST_LINE } from './http-message.js';
import { looksLikeRespCommand, respCommands } from './resp.js';

/** How the report reads a request and its answers. */
export type ReportProtocol = 'http' | 'redis' | 'raw';

export const REDIS_PORT = 6379;

/** By content first (an HTTP request line, a RESP array), then by the service port. */
export function detectProtocol(request: Buffer, servicePort: number): ReportProtocol {
  if (looksLikeHttpRequest(request)) return 'http';
  if (looksLikeRespCommand(request) || servicePort === REDIS_PORT) return 'redis';
  return 'raw';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_ID = /^(?=.*\d)[0-9a-f]{8,}$/i;
const NUMBER = /^\d+$/;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
// Long opaque tokens (base64url ids, hashes with a suffix): letters and digits mixed, ≥ 20 chars.
const TOKEN = /^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_-]{20,}$/;

/** One path segment with ids collapsed: {id} numbers, {uuid}, {hex} (≥ 8 hex digits), {token}. */
function templateSegment(s: string): string {
  if (NUMBER.test(s)) return '{id}';
  if (UUID.test(s)) return '{uuid}';
  if (HEX_ID.test(s)) return '{hex}';
  if (TOKEN.test(s)) return '{token}';
  return s;
}

/**
 * The path template of a request target: query and fragment dropped, ids collapsed
 * ("/users/42/orders/9f1c…?x=1" → "/users/{id}/orders/{hex}"). An absolute-form target keeps only its path.
 */
export function pathTemplate(target: string): string {
  let path = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '');
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  if (path === '' || path === '*') return path === '' ? '/' : '*';
  return path
    .split('/')
    .map((seg) => {
      let s = seg;
      try {
        s = decodeURIComponent(seg);
      } catch {
        // Keep a malformed escape as captured.
      }
      // Endpoint names reach terminals and logs: a decoded control character stays escaped.
      if (CONTROL.test(s)) s = seg;
      return templateSegment(s);
    })
    .join('/');
}

export interface RequestInfo {
  protocol: ReportProtocol;
  /** "GET /users/{id}", "redis GET", "tcp :3306"; pipelined requests: the first one, "+N" after. */
  endpoint: string;
  /** HTTP methods of the pipelined requests (for HEAD responses). */
  methods: string[];
}

/** "METHOD path" (query and fragment cut) → the request's info (shared, never changed); bounded, emptied when full. */
const lineInfo = new Map<string, RequestInfo>();
const LINE_INFO_MAX = 4096;

/**
 * The common case without parsing the head: one HTTP request with CRLF line ends and no body,
 * named once per method and path. null: take the general path.
 */
function singleHttpRequest(b: Buffer): RequestInfo | null {
  const c = b[0] as number;
  if (c < 0x41 || c > 0x5a) return null; // methods start with A-Z
  const nl = b.indexOf(0x0a);
  if (nl < 2 || b[nl - 1] !== 0x0d || headEnd(b, 0) !== b.length) return null;
  const m = REQUEST_LINE.exec(b.toString('latin1', 0, nl - 1));
  if (m === null) return null;
  const method = m[1] as string;
  const target = m[2] as string;
  // The query and fragment do not name the endpoint: requests that differ only there share it.
  const q = target.indexOf('?');
  const h = target.indexOf('#');
  const cut = q < 0 ? h : h < 0 ? q : Math.min(q, h);
  const key = cut < 0 ? `${method} ${target}` : `${method} ${target.slice(0, cut)}`;
  let info = lineInfo.get(key);
  if (info !== undefined) return info;
  info = { protocol: 'http', endpoint: `${method} ${pathTemplate(target)}`, methods: [method] };
  if (lineInfo.size >= LINE_INFO_MAX) lineInfo.clear();
  lineInfo.set(key, info);
  return info;
}

/** How the report reads a request: protocol, endpoint name, HTTP methods. Treat the result as read-only (it may be shared). */
export function requestInfo(request: Buffer, servicePort: number): RequestInfo {
  const single = singleHttpRequest(request);
  if (single !== null) return single;
  const protocol = detectProtocol(request, servicePort);
  if (protocol === 'http') {
    const reqs = parseHttpRequests(request);
    const first = reqs[0];
    if (first === undefined) return { protocol, endpoint: `tcp :${servicePort}`, methods: [] };
    const more = reqs.length > 1 ? ` +${reqs.length - 1}` : '';
    return { protocol, endpoint: `${first.method} ${pathTemplate(first.target)}${more}`, methods: reqs.map((r) => r.method) };
  }
  if (protocol === 'redis') {
    const cmds = respCommands(request);
    const more = cmds.length > 1 ? ` +${cmds.length - 1}` : '';
    return { protocol, endpoint: cmds[0] === undefined ? `tcp :${servicePort}` : `redis ${cmds[0]}${more}`, methods: [] };
  }
  return { protocol, endpoint: `tcp :${servicePort}`, methods: [] };
}
