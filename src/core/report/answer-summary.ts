import { Buffer } from 'node:buffer';
import { escapeBytes } from './byte-diff.js';
import type { RequestInfo } from './endpoint.js';
import type { Answer, AnswerEnd } from './exchange.js';
import { parseHttpResponses, type HeaderFilter } from './http-message.js';
import { parseRespReplies, respLabel, respStatusKey } from './resp.js';

/**
 * One side's answer read for comparison: protocol-aware status, headers, the body that is
 * compared, sizes and digest. Built per exchange and dropped after it (nothing retained).
 */
export interface AnswerSummary {
  end: AnswerEnd;
  /** Shown: "200", "200 404" (pipelined), "+OK", "$5", "(nil)", or the escaped first bytes. */
  status: string;
  /** Compared: status codes / RESP type and scalar value; '' for raw answers. */
  statusKey: string;
  /** HTTP only: response headers (lower-case names; pipelined responses after the first as "#2 name"; only the filter's names when summarized with one). */
  headers: Map<string, string> | null;
  /** The compared body: de-chunked HTTP bodies (concatenated when pipelined), RESP reply bytes, raw bytes. */
  body: Buffer;
  /** Body size compared: the declared HTTP body length(s), else the answer's size. */
  bodySize: number;
  /** Response payload size (all bytes, headers included). */
  size: number;
  /** False when the answer has bytes but none were kept (a sizes-only producer): only size, end and timing compare. */
  bytesKnown: boolean;
  /** A complete single HTTP response with a JSON content type: compared leaf by leaf when the bytes differ. */
  jsonBody: boolean;
  firstByteUs: number | null;
  lastByteUs: number | null;
}

const RAW_STATUS_BYTES = 24;

/** One object shape for every summary (no spreads: this runs twice or more per request). */
function summary(a: Answer, status: string, statusKey: string, headers: Map<string, string> | null, body: Buffer, bodySize: number, jsonBody: boolean): AnswerSummary {
  return {
    end: a.end,
    status,
    statusKey,
    headers,
    body,
    bodySize,
    size: a.size,
    bytesKnown: a.bytes.length > 0 || a.size === 0,
    jsonBody,
    firstByteUs: a.firstByteUs,
    lastByteUs: a.lastByteUs,
  };
}

function raw(a: Answer): AnswerSummary {
  const status = a.size === 0 ? '' : escapeBytes(a.bytes, 0, Math.min(a.bytes.length, RAW_STATUS_BYTES));
  return summary(a, status, '', null, a.bytes, a.size, false);
}

/** The parsed JSON body, or undefined when it is not JSON (parsed only when two bodies differ). */
export function parseJsonBody(s: AnswerSummary): unknown {
  if (!s.jsonBody || s.body.length === 0) return undefined;
  try {
    return JSON.parse(s.body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function http(a: Answer, req: RequestInfo, filter: HeaderFilter | null): AnswerSummary {
  const parsed = parseHttpResponses(a.bytes, req.methods, filter);
  const list = parsed.responses;
  const first = list[0];
  if (first === undefined) return raw(a);
  const headers = new Map<string, string>();
  let status = '';
  let declared = 0;
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as (typeof list)[number];
    const prefix = i === 0 ? '' : `#${i + 1} `;
    for (const [name, value] of r.headers) {
      const key = prefix + name;
      const prev = headers.get(key);
      headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
    }
    status = i === 0 ? String(r.status) : `${status} ${r.status}`;
    declared = declared < 0 || r.bodySize < 0 ? -1 : declared + r.bodySize;
  }
  const body = list.length === 1 ? first.body : Buffer.concat(list.map((r) => r.body));
  // Truncated bursts past the declared bodies: fall back to the payload size.
  const truncated = a.size > a.bytes.length && !parsed.complete;
  const bodySize = declared >= 0 && !truncated ? declared : a.size;
  const jsonBody = list.length === 1 && parsed.complete && /json/i.test(headers.get('content-type') ?? '');
  return summary(a, status, status, headers, body, bodySize, jsonBody);
}

function redis(a: Answer): AnswerSummary {
  const { replies } = parseRespReplies(a.bytes);
  if (replies.length === 0) return raw(a);
  const status = replies.map((r) => respLabel(r)).join(' ');
  const key = replies.map((r) => respStatusKey(r)).join(' ');
  return summary(a, status, key, null, a.bytes, a.size, false);
}

/** `filter`: the HTTP headers kept (null: all of them). */
export function summarizeAnswer(a: Answer, req: RequestInfo, filter: HeaderFilter | null = null): AnswerSummary {
  if (a.bytes.length === 0) return raw(a);
  if (req.protocol === 'http') return http(a, req, filter);
  if (req.protocol === 'redis') return redis(a);
  return raw(a);
}
