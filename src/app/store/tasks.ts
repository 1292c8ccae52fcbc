import type { StoreUrl } from '../../core/config/store-url.js';
import { STORE_PARTITIONS, summarizeTask, type TaskManifest, type TaskSummary } from '../../core/store/task.js';
import { TaskConflictError, type RecordStore } from '../../core/store/types.js';

/** A task operation that cannot be done (unknown task, already stopped…): the message says why. */
export class TaskError extends Error {}

const RETRIES = 20;
/** How much earlier than since= (capture time) a time-range read starts in the store's time. */
const STORE_LAG_US = 60_000_000;

export interface StartTaskOptions {
  /** The online host recording into it (null: a task over every host of the stream). */
  host: string | null;
  /** For the manifest: "copier", "cli", "http", "signal", "import". */
  by: string;
  filter: string | null;
  nowUs: number;
}

/**
 * Starts task NAME at the stream's next sequence, or joins it when it is recording (adding the
 * host to its hosts). A stopped task is never restarted: its range is fixed. Compare-and-set, so
 * two hosts starting the same task at once end up in one manifest.
 */
export async function startTask(store: RecordStore, stream: string, name: string, o: StartTaskOptions): Promise<TaskManifest> {
  for (let i = 0; i < RETRIES; i++) {
    const cur = await store.tasks.getTask(stream, name);
    try {
      if (cur === null) {
        const st = await store.streamState();
        const m: TaskManifest = {
          version: 1,
          name,
          stream,
          state: 'recording',
          startSeq: st.lastSeq + 1,
          stopSeq: null,
          startUs: o.nowUs,
          stopUs: null,
          hosts: o.host === null ? [] : [o.host],
          partitions: STORE_PARTITIONS,
          filter: o.filter,
          startedBy: o.by,
          stoppedBy: null,
        };
        await store.tasks.putTask(m, null);
        return m;
      }
      const m = cur.value;
      if (m.state === 'stopped') throw new TaskError(`task ${name} of stream ${stream} was stopped (sequences ${m.startSeq}..${m.stopSeq}); its range is fixed: record a new task under another name`);
      if (o.host === null || m.hosts.length === 0 || m.hosts.includes(o.host)) return m;
      const joined = { ...m, hosts: [...m.hosts, o.host] };
      await store.tasks.putTask(joined, cur.revision);
      return joined;
    } catch (err) {
      if (!(err instanceof TaskConflictError)) throw err;
    }
  }
  throw new TaskError(`task ${name}: too many concurrent changes`);
}

/** Stops a recording task at the stream's last sequence (everything stored so far is in it). */
export async function stopTask(store: RecordStore, stream: string, name: string, by: string, nowUs: number, lastSeq = 0): Promise<TaskManifest> {
  for (let i = 0; i < RETRIES; i++) {
    const cur = await store.tasks.getTask(stream, name);
    if (cur === null) throw new TaskError(`no task ${name} in stream ${stream}`);
    if (cur.value.state === 'stopped') return cur.value;
    const st = await store.streamState();
    const stopped: TaskManifest = { ...cur.value, state: 'stopped', stopSeq: Math.max(st.lastSeq, lastSeq, cur.value.startSeq - 1), stopUs: nowUs, stoppedBy: by };
    try {
      await store.tasks.putTask(stopped, cur.revision);
      return stopped;
    } catch (err) {
      if (!(err instanceof TaskConflictError)) throw err;
    }
  }
  throw new TaskError(`task ${name}: too many concurrent changes`);
}

export async function listTasks(store: RecordStore, stream: string): Promise<TaskSummary[]> {
  const out: TaskSummary[] = [];
  for (const m of await store.tasks.listTasks(stream)) out.push(summarizeTask(m, await store.tasks.hostStats(stream, m.name)));
  return out;
}

/** What a replay or an export reads: a sequence range, the hosts' subjects, a time window. */
export interface StoreRange {
  fromSeq: number | null;
  startTimeUs: number | null;
  toSeq: number;
  /** Hosts whose subjects belong (empty: all). */
  hosts: string[];
  /** The one subject filter the server applies. */
  subject: string;
  /** Capture-time window (records outside it are skipped); null = open. */
  sinceUs: number | null;
  untilUs: number | null;
  description: string;
  /** Packets the task is known to have (0 unknown): the progress estimate. */
  expectedPackets: number;
}

/** Resolves -i's URL: a task's range (a task still recording: up to what is stored now), or since/until. */
export async function resolveRange(store: RecordStore, url: StoreUrl): Promise<StoreRange> {
  const st = await store.streamState();
  const s = url.stream;
  if (url.task !== null) {
    const t = await store.tasks.getTask(s, url.task);
    if (t === null) {
      const known = (await store.tasks.listTasks(s)).map((m) => m.name);
      throw new TaskError(`no task "${url.task}" in stream ${s}${known.length > 0 ? ` (tasks: ${known.join(', ')})` : ' (it has no tasks)'}`);
    }
    const m = t.value;
    const toSeq = m.stopSeq ?? st.lastSeq;
    if (m.startSeq < st.firstSeq && st.firstSeq > 0) throw new TaskError(`task ${m.name} starts at sequence ${m.startSeq}, but the stream now begins at ${st.firstSeq}: its start was removed by the stream's retention`);
    const hosts = m.hosts;
    const stats = await store.tasks.hostStats(s, m.name);
    return {
      fromSeq: m.startSeq,
      startTimeUs: null,
      toSeq,
      sinceUs: null,
      hosts,
      subject: hosts.length === 1 ? `${s}.${hosts[0]}.>` : `${s}.>`,
      untilUs: null,
      description: `task ${m.name} (${m.state}, sequences ${m.startSeq}..${toSeq})`,
      expectedPackets: stats.reduce((n, h) => n + h.packets, 0),
    };
  }
  return {
    fromSeq: url.sinceUs === null ? st.firstSeq : null,
    // since= is capture time; the store's own time is a little later (batching, a late import):
    // reading starts STORE_LAG_US earlier and records before since are skipped.
    startTimeUs: url.sinceUs === null ? null : url.sinceUs - STORE_LAG_US,
    sinceUs: url.sinceUs,
    toSeq: st.lastSeq,
    hosts: url.host === null ? [] : [url.host],
    subject: url.host === null ? `${s}.>` : `${s}.${url.host}.>`,
    untilUs: url.untilUs,
    description: `time range ${url.sinceUs === null ? 'start' : new Date(url.sinceUs / 1000).toISOString()}..${url.untilUs === null ? 'now' : new Date(url.untilUs / 1000).toISOString()}`,
    expectedPackets: 0,
  };
}
