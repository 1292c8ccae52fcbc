/*
 * A recording task: a named range of a stream (sequence numbers and capture time) kept as a
 * manifest in the store's key-value bucket, plus one statistics entry per online host that
 * recorded into it (each host writes only its own entry, so hosts never contend on a key).
 */

/** Subjects per online host: STREAM.<host>.<flow partition>. Fixed, recorded in each manifest. */
export const STORE_PARTITIONS = 16;

export type TaskState = 'recording' | 'stopped';

/** Why a recorder could not store packets. */
export type StoreDropReason = 'store-away' | 'store-busy' | 'store-error';
export const STORE_DROP_REASONS: readonly StoreDropReason[] = ['store-away', 'store-busy', 'store-error'];

export interface TaskManifest {
  version: 1;
  name: string;
  stream: string;
  state: TaskState;
  /** First stream sequence of the task, and its last (null while recording). */
  startSeq: number;
  stopSeq: number | null;
  /** Wall-clock µs of start and stop. */
  startUs: number;
  stopUs: number | null;
  /** Online hosts whose subjects belong to the task; empty = every host of the stream. */
  hosts: string[];
  partitions: number;
  /** The capture filter of the recording copier (-F), for the listing. */
  filter: string | null;
  /** Who started it: a copier's --task, the CLI, HTTP, a signal, an import. */
  startedBy: string;
  stoppedBy: string | null;
}

/** Packets a host could not store, over a span of capture time. */
export interface MissingRange {
  fromUs: number;
  toUs: number;
  packets: number;
  reason: StoreDropReason;
}

export interface TaskHostStats {
  host: string;
  /** Still recording into the task. */
  active: boolean;
  packets: number;
  bytes: number;
  /** Client SYNs stored (new sessions). */
  sessions: number;
  firstUs: number;
  lastUs: number;
  drops: Record<StoreDropReason, number>;
  missing: MissingRange[];
  updatedUs: number;
}

/** A task with its hosts' statistics added up, for the listing. */
export interface TaskSummary {
  manifest: TaskManifest;
  hosts: TaskHostStats[];
  packets: number;
  bytes: number;
  sessions: number;
  drops: number;
  missing: MissingRange[];
  firstUs: number;
  lastUs: number;
}

/** At most this many missing ranges are kept per host; beyond, the last one is widened. */
export const MAX_MISSING_RANGES = 100;

/** Widens the open range or opens a new one (`open` says whether the last range is still open). */
export function addMissing(list: MissingRange[], open: boolean, fromUs: number, toUs: number, packets: number, reason: StoreDropReason): void {
  const last = list[list.length - 1];
  if (last !== undefined && (open || list.length >= MAX_MISSING_RANGES)) {
    last.toUs = Math.max(last.toUs, toUs);
    last.fromUs = Math.min(last.fromUs, fromUs);
    last.packets += packets;
    return;
  }
  list.push({ fromUs, toUs, packets, reason });
}

export class TaskFormatError extends Error {}

function numField(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TaskFormatError(`field ${k}: expected a number`);
  return v;
}

function numOrNull(o: Record<string, unknown>, k: string): number | null {
  return o[k] === null ? null : numField(o, k);
}

function strOrNull(o: Record<string, unknown>, k: string): string | null {
  const v = o[k];
  if (v === null || typeof v === 'string') return v;
  throw new TaskFormatError(`field ${k}: expected a string`);
}

function record(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TaskFormatError('expected a JSON object');
  return v as Record<string, unknown>;
}

/** Checks a manifest read back from the bucket (written by another version, or by hand). */
export function decodeManifest(json: string): TaskManifest {
  const o = record(JSON.parse(json) as unknown);
  if (o.version !== 1) throw new TaskFormatError(`unknown manifest version ${String(o.version)}`);
  const state = o.state;
  if (state !== 'recording' && state !== 'stopped') throw new TaskFormatError('field state: expected recording or stopped');
  const hosts = o.hosts;
  if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string')) throw new TaskFormatError('field hosts: expected a list of names');
  return {
    version: 1,
    name: String(o.name),
    stream: String(o.stream),
    state,
    startSeq: numField(o, 'startSeq'),
    stopSeq: numOrNull(o, 'stopSeq'),
    startUs: numField(o, 'startUs'),
    stopUs: numOrNull(o, 'stopUs'),
    hosts: hosts as string[],
    partitions: numField(o, 'partitions'),
    filter: strOrNull(o, 'filter'),
    startedBy: String(o.startedBy),
    stoppedBy: strOrNull(o, 'stoppedBy'),
  };
}

export function decodeHostStats(json: string): TaskHostStats {
  const o = record(JSON.parse(json) as unknown);
  const d = record(o.drops);
  const missing = Array.isArray(o.missing) ? (o.missing as unknown[]).map((m) => record(m)) : [];
  return {
    host: String(o.host),
    active: o.active === true,
    packets: numField(o, 'packets'),
    bytes: numField(o, 'bytes'),
    sessions: numField(o, 'sessions'),
    firstUs: numField(o, 'firstUs'),
    lastUs: numField(o, 'lastUs'),
    drops: { 'store-away': numField(d, 'store-away'), 'store-busy': numField(d, 'store-busy'), 'store-error': numField(d, 'store-error') },
    missing: missing.map((m) => ({ fromUs: numField(m, 'fromUs'), toUs: numField(m, 'toUs'), packets: numField(m, 'packets'), reason: String(m.reason) as StoreDropReason })),
    updatedUs: numField(o, 'updatedUs'),
  };
}

export function summarizeTask(manifest: TaskManifest, hosts: TaskHostStats[]): TaskSummary {
  const s: TaskSummary = { manifest, hosts, packets: 0, bytes: 0, sessions: 0, drops: 0, missing: [], firstUs: 0, lastUs: 0 };
  for (const h of hosts) {
    s.packets += h.packets;
    s.bytes += h.bytes;
    s.sessions += h.sessions;
    for (const r of STORE_DROP_REASONS) s.drops += h.drops[r];
    s.missing.push(...h.missing);
    if (h.packets > 0) {
      s.firstUs = s.firstUs === 0 ? h.firstUs : Math.min(s.firstUs, h.firstUs);
      s.lastUs = Math.max(s.lastUs, h.lastUs);
    }
  }
  s.missing.sort((a, b) => a.fromUs - b.fromUs);
  return s;
}

function isoUs(us: number): string {
  // Formatted by hand: core reads no clock and builds no Date.
  const ms = Math.floor(us / 1000);
  const day = Math.floor(ms / 86_400_000);
  let rem = ms - day * 86_400_000;
  const hh = Math.floor(rem / 3_600_000);
  rem -= hh * 3_600_000;
  const mm = Math.floor(rem / 60_000);
  rem -= mm * 60_000;
  const ss = rem / 1000;
  // Civil date from days since the epoch (Howard Hinnant's algorithm).
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const mo = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (mo <= 2 ? 1 : 0);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${y}-${p2(mo)}-${p2(d)}T${p2(hh)}:${p2(mm)}:${ss.toFixed(3).padStart(6, '0')}Z`;
}

export function formatTime(us: number): string {
  return us <= 0 ? '-' : isoUs(us);
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(2);
}

/** The --tasks listing: one line per task, then its missing ranges. */
export function formatTaskList(tasks: TaskSummary[]): string {
  if (tasks.length === 0) return 'no tasks\n';
  const rows = [['task', 'state', 'seq', 'hosts', 'packets', 'MiB', 'sessions', 'dropped', 'first packet', 'span s', 'filter']];
  for (const t of tasks) {
    const m = t.manifest;
    const hosts = m.hosts.length > 0 ? m.hosts : t.hosts.map((h) => h.host);
    rows.push([
      m.name,
      m.state,
      `${m.startSeq}..${m.stopSeq ?? ''}`,
      hosts.length === 0 ? '(any)' : hosts.join(','),
      String(t.packets),
      mib(t.bytes),
      String(t.sessions),
      String(t.drops),
      formatTime(t.firstUs),
      t.lastUs > t.firstUs ? ((t.lastUs - t.firstUs) / 1e6).toFixed(1) : '0.0',
      m.filter ?? '-',
    ]);
  }
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  let out = rows.map((r) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n') + '\n';
  for (const t of tasks) {
    for (const r of t.missing) {
      out += `  ${t.manifest.name}: missing ${r.packets} packets (${r.reason}) from ${formatTime(r.fromUs)} to ${formatTime(r.toUs)}\n`;
    }
  }
  return out;
}
