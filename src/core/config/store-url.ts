import { ConfigError } from './errors.js';
import { parseRotate } from './record.js';

/*
 * A stream store's address as -i, --record, --tasks and --task-start/--task-stop take it:
 *
 *   nats://HOST[:PORT][,HOST[:PORT]...]/STREAM[?key=value&...]
 *
 * keys: task=NAME (a recording task), since=TIME & until=TIME (a time range to replay: ISO 8601
 * or epoch seconds), host=NAME (the online host's name in the subjects, when recording),
 * max-bytes=SIZE & max-age=DURATION (the stream's retention, set when recording), replicas=N
 * (the stream's replicas in a JetStream cluster).
 */

export const STORE_SCHEMES = ['nats'] as const;
export type StoreScheme = (typeof STORE_SCHEMES)[number];

export interface StoreUrl {
  scheme: StoreScheme;
  /** host:port, in the order given. */
  servers: string[];
  stream: string;
  task: string | null;
  /** Epoch µs; null = open. */
  sinceUs: number | null;
  untilUs: number | null;
  host: string | null;
  maxBytes: number | null;
  maxAgeMs: number | null;
  replicas: number;
  /** The URL as given, for messages. */
  text: string;
}

export const DEFAULT_NATS_PORT = 4222;
const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
const HOST_RE = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]{1,253})(:(\d{1,5}))?$/;
const FORM = 'expected nats://HOST[:PORT][,HOST[:PORT]...]/STREAM[?task=NAME|since=TIME&until=TIME], e.g. nats://10.0.0.5:4222/web';
const KEYS = ['task', 'since', 'until', 'host', 'max-bytes', 'max-age', 'replicas'] as const;

/** True when the value is meant as a store address (scheme://…), not a file or device. */
export function looksLikeStoreUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim());
}

/** A task or stream name: letters, digits, '-' and '_' (they become subject tokens and KV keys). */
export function parseStoreName(value: string, flag: string, what: string): string {
  if (!NAME_RE.test(value)) throw new ConfigError(flag, value, `expected a ${what} name of 1..64 letters, digits, '-' or '_'`);
  return value;
}

function parseTime(value: string, flag: string, key: string): number {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1e6);
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new ConfigError(flag, value, `${key}: expected a time as ISO 8601 (2026-12-02T08:00:00Z) or epoch seconds`);
  return ms * 1000;
}

export function parseStoreUrl(value: string, flag: string): StoreUrl {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)\/([^?#]*)(\?[^#]*)?$/i.exec(value.trim());
  if (m === null) throw new ConfigError(flag, value, FORM);
  const scheme = (m[1] as string).toLowerCase();
  if (scheme !== 'nats') throw new ConfigError(flag, value, `unsupported store "${scheme}://" (supported: ${STORE_SCHEMES.map((s) => `${s}://`).join(', ')}); ${FORM}`);
  const servers = (m[2] as string).split(',').map((s) => s.trim());
  for (const s of servers) {
    const h = HOST_RE.exec(s);
    if (h === null) throw new ConfigError(flag, value, `server "${s}": ${FORM}`);
    const port = h[3] === undefined ? DEFAULT_NATS_PORT : Number(h[3]);
    if (port < 1 || port > 65535) throw new ConfigError(flag, value, `server "${s}": port must be 1..65535`);
  }
  const withPorts = servers.map((s) => (/:\d+$/.test(s) ? s : `${s}:${DEFAULT_NATS_PORT}`));
  const stream = m[3] as string;
  if (!NAME_RE.test(stream)) throw new ConfigError(flag, value, `stream "${stream}": expected a stream name of 1..64 letters, digits, '-' or '_' after the server; ${FORM}`);
  const url: StoreUrl = { scheme: 'nats', servers: withPorts, stream, task: null, sinceUs: null, untilUs: null, host: null, maxBytes: null, maxAgeMs: null, replicas: 1, text: value };
  const query = m[4] === undefined ? '' : (m[4] as string).slice(1);
  for (const part of query.split('&').filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    if (!(KEYS as readonly string[]).includes(key)) throw new ConfigError(flag, value, `unknown parameter "${key}" (accepted: ${KEYS.join(', ')})`);
    if (key === 'task') url.task = parseStoreName(v, flag, 'task');
    else if (key === 'since') url.sinceUs = parseTime(v, flag, key);
    else if (key === 'until') url.untilUs = parseTime(v, flag, key);
    else if (key === 'host') url.host = parseStoreName(v, flag, 'host');
    else if (key === 'replicas') {
      if (!/^[1-5]$/.test(v)) throw new ConfigError(flag, value, 'replicas: expected 1..5 (a JetStream stream has at most 5 replicas)');
      url.replicas = Number(v);
    } else {
      const r = parseRotate(v, `${flag} ${key}`);
      if (key === 'max-bytes' && r.kind === 'size') url.maxBytes = r.bytes;
      else if (key === 'max-age' && r.kind === 'time') url.maxAgeMs = r.ms;
      else throw new ConfigError(flag, value, key === 'max-bytes' ? 'max-bytes: expected a size such as 10GiB' : 'max-age: expected a duration such as 7d or 12h');
    }
  }
  if (url.task !== null && (url.sinceUs !== null || url.untilUs !== null)) throw new ConfigError(flag, value, 'give either task=NAME or since=/until=, not both');
  if (url.sinceUs !== null && url.untilUs !== null && url.untilUs <= url.sinceUs) throw new ConfigError(flag, value, 'until must be later than since');
  return url;
}

/** --share K/M: this copier's part K of M copiers replaying one range together. */
export interface ShareSpec {
  index: number;
  of: number;
}

export function parseShare(value: string, partitions: number, flag = '--share'): ShareSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  const k = m === null ? NaN : Number(m[1]);
  const n = m === null ? NaN : Number(m[2]);
  if (!(n >= 1 && n <= partitions && k >= 1 && k <= n)) throw new ConfigError(flag, value, `expected K/M with 1 ≤ K ≤ M ≤ ${partitions}, e.g. 1/2 and 2/2 for two copiers`);
  return { index: k, of: n };
}
