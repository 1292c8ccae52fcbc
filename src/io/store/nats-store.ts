import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType, type Consumer, type ConsumerMessages, type JetStreamClient, type JsMsg, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { StoreUrl } from '../../core/config/store-url.js';
import { decodeHostStats, decodeManifest, type TaskHostStats, type TaskManifest } from '../../core/store/task.js';
import {
  StoreOpenError,
  TaskConflictError,
  type RangeQuery,
  type RangeReader,
  type RecordStore,
  type StoredMessage,
  type StoreStatus,
  type StreamLimits,
  type StreamState,
  type TaskBucket,
  type Versioned,
} from '../../core/store/types.js';

/** The key-value bucket of task manifests (one per server, keys STREAM.TASK[.h.HOST]). */
export const TASK_BUCKET = 'tcpcopy_tasks';
/** A publish not acknowledged within this is counted as failed (the store is away or stuck). */
const PUBLISH_TIMEOUT_MS = 5000;
/** How long a first connection may take before the server counts as unreachable. */
const CONNECT_TIMEOUT_MS = 3000;


const enc = new TextEncoder();
const dec = new TextDecoder();

function isoTime(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

/**
 * The stream store on NATS JetStream: a file-backed stream STREAM with subjects STREAM.>, task
 * manifests in the KV bucket tcpcopy_tasks, range reads through ordered consumers (no server
 * state left behind). The connection reconnects forever; while it is down `connected` is false
 * and the recorder drops and counts instead of letting the client buffer.
 */
export class NatsStore implements RecordStore {
  readonly description: string;
  private up = true;
  private readonly listeners: ((s: StoreStatus, detail: string) => void)[] = [];
  private kvBucket: KV | null = null;

  private constructor(
    private readonly url: StoreUrl,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
  ) {
    this.description = `NATS JetStream ${url.servers.join(',')} stream ${url.stream}`;
    void this.watchStatus();
  }

  /** Connects (a server that does not answer in time is a StoreOpenError) and checks JetStream. */
  static async open(url: StoreUrl, name: string): Promise<NatsStore> {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: url.servers, name, timeout: CONNECT_TIMEOUT_MS, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: false });
    } catch (err) {
      throw new StoreOpenError(`cannot connect to ${url.servers.join(',')}: ${(err as Error).message}`);
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: CONNECT_TIMEOUT_MS });
      return new NatsStore(url, nc, jsm, jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS }));
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw new StoreOpenError(`${url.servers.join(',')}: JetStream is not available (start nats-server with -js): ${(err as Error).message}`);
    }
  }

  get connected(): boolean {
    return this.up;
  }

  onStatus(listener: (status: StoreStatus, detail: string) => void): void {
    this.listeners.push(listener);
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      let st: StoreStatus | null = null;
      if (s.type === 'disconnect') st = 'disconnected';
      else if (s.type === 'reconnect') st = 'connected';
      else if (s.type === 'close') st = 'closed';
      if (st === null) continue;
      this.up = st === 'connected';
      for (const l of this.listeners) l(st, 'server' in s ? s.server : '');
    }
  }

  /** Limits not given are left as they are on an existing stream (another host may have set them). */
  async ensureStream(limits: StreamLimits): Promise<void> {
    const s = this.url.stream;
    const given: { max_bytes?: number; max_age?: number } = {};
    if (limits.maxBytes !== null) given.max_bytes = limits.maxBytes;
    if (limits.maxAgeMs !== null) given.max_age = limits.maxAgeMs * 1_000_000;
    try {
      const info = await this.jsm.streams.info(s);
      const changed = (given.max_bytes !== undefined && info.config.max_bytes !== given.max_bytes) || (given.max_age !== undefined && info.config.max_age !== given.max_age);
      if (changed) await this.jsm.streams.update(s, given);
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.status !== 404) throw err;
      await this.jsm.streams.add({
        name: s,
        subjects: [`${s}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: limits.replicas,
        ...given,
      });
    }
  }

  async streamState(): Promise<StreamState> {
    try {
      const info = await this.jsm.streams.info(this.url.stream);
      const st = info.state;
      const c = info.config;
      return {
        firstSeq: st.first_seq,
        lastSeq: st.last_seq,
        messages: st.messages,
        bytes: st.bytes,
        maxBytes: c.max_bytes > 0 ? c.max_bytes : null,
        maxAgeMs: c.max_age > 0 ? c.max_age / 1_000_000 : null,
        replicas: c.num_replicas,
      };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.status === 404) throw new StoreOpenError(`no stream "${this.url.stream}" on ${this.url.servers.join(',')} (nothing was recorded there)`);
      throw err;
    }
  }

  async publish(subject: string, data: Uint8Array): Promise<number> {
    return (await this.js.publish(subject, data)).seq;
  }

  async openRange(q: RangeQuery): Promise<RangeReader> {
    const opts =
      q.fromSeq !== null
        ? { filter_subjects: q.subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: q.fromSeq }
        : { filter_subjects: q.subject, deliver_policy: DeliverPolicy.StartTime, opt_start_time: isoTime(q.startTimeUs ?? 0) };
    if (q.fromSeq !== null && q.fromSeq > q.toSeq) return { next: () => Promise.resolve(null), close: () => Promise.resolve() };
    const consumer = await this.js.consumers.get(this.url.stream, opts);
    return new NatsRangeReader(consumer, q.toSeq);
  }

  get tasks(): TaskBucket {
    return new NatsTaskBucket(() => this.bucket());
  }

  private async bucket(): Promise<KV> {
    if (this.kvBucket === null) this.kvBucket = await new Kvm(this.nc).create(TASK_BUCKET, { history: 1, replicas: this.url.replicas });
    return this.kvBucket;
  }

  async close(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
    await Promise.race([this.nc.drain().catch(() => this.nc.close()), late]);
    clearTimeout(timer);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }
}

/** Bytes a range read keeps buffered ahead (the client asks for more at 75 %): memory stays bounded. */
const READ_AHEAD_BYTES = 1048576;
/** A range whose first message does not come in this long is empty; later, the store is stuck. */
const FIRST_WAIT_MS = 3000;
const STALL_MS = 15_000;

/**
 * Reads a range through one ordered consumer's consume(): the client keeps pull requests going
 * with at most READ_AHEAD_BYTES buffered, so reading overlaps with the caller's work. Each
 * message says how many matching ones are still pending: the range ends at toSeq, when nothing
 * is pending, or when its first message never comes.
 */
class NatsRangeReader implements RangeReader {
  private done = false;
  private first = true;
  private msgs: ConsumerMessages | null = null;
  private iter: AsyncIterator<JsMsg> | null = null;

  constructor(
    private readonly consumer: Consumer,
    private readonly toSeq: number,
  ) {}

  private async take(): Promise<JsMsg | null> {
    const iter = this.iter as AsyncIterator<JsMsg>;
    let timer: NodeJS.Timeout | undefined;
    const wait = this.first ? FIRST_WAIT_MS : STALL_MS;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), wait)));
    const r = await Promise.race([iter.next(), late]);
    clearTimeout(timer);
    if (r === 'late') {
      if (this.first) return null;
      throw new Error(`no message from the store for ${STALL_MS / 1000} s`);
    }
    this.first = false;
    return r.done === true ? null : r.value;
  }

  async next(max: number): Promise<StoredMessage[] | null> {
    if (this.done) return null;
    if (this.msgs === null) {
      this.msgs = await this.consumer.consume({ max_bytes: READ_AHEAD_BYTES });
      this.iter = this.msgs[Symbol.asyncIterator]();
    }
    const out: StoredMessage[] = [];
    do {
      const m = await this.take();
      if (m === null || m.seq > this.toSeq) {
        this.done = true;
        break;
      }
      // info parses the reply subject on every access.
      const info = m.info;
      out.push({ seq: m.seq, subject: m.subject, data: m.data, timeUs: Math.floor(info.timestampNanos / 1000) });
      if (m.seq === this.toSeq || info.pending === 0) this.done = true;
    } while (!this.done && out.length < max && this.msgs.getPending() > 0);
    if (this.done) this.msgs.stop();
    return out.length === 0 ? null : out;
  }

  async close(): Promise<void> {
    this.done = true;
    this.msgs?.stop();
    await this.consumer.delete().catch(() => false);
  }
}

class NatsTaskBucket implements TaskBucket {
  constructor(private readonly kv: () => Promise<KV>) {}

  async getTask(stream: string, name: string): Promise<Versioned<TaskManifest> | null> {
    const e = await (await this.kv()).get(`${stream}.${name}`);
    if (e === null || e.operation !== 'PUT') return null;
    return { value: decodeManifest(dec.decode(e.value)), revision: e.revision };
  }

  async putTask(m: TaskManifest, revision: number | null): Promise<void> {
    const kv = await this.kv();
    const key = `${m.stream}.${m.name}`;
    try {
      if (revision === null) await kv.create(key, enc.encode(JSON.stringify(m)));
      else await kv.update(key, enc.encode(JSON.stringify(m)), revision);
    } catch (err) {
      // Wrong last sequence: another writer got there first.
      if (err instanceof JetStreamApiError && err.code === 10071) throw new TaskConflictError(`task ${m.name} changed meanwhile`);
      throw err;
    }
  }

  async putHostStats(stream: string, task: string, stats: TaskHostStats): Promise<void> {
    await (await this.kv()).put(`${stream}.${task}.h.${stats.host}`, enc.encode(JSON.stringify(stats)));
  }

  async listTasks(stream: string): Promise<TaskManifest[]> {
    const kv = await this.kv();
    const names: string[] = [];
    for await (const k of await kv.keys(`${stream}.*`)) names.push(k);
    const out: TaskManifest[] = [];
    for (const k of names.sort()) {
      const e = await kv.get(k);
      if (e !== null && e.operation === 'PUT') out.push(decodeManifest(dec.decode(e.value)));
    }
    return out.sort((a, b) => a.startSeq - b.startSeq);
  }

  async hostStats(stream: string, task: string): Promise<TaskHostStats[]> {
    const kv = await this.kv();
    const keys: string[] = [];
    for await (const k of await kv.keys(`${stream}.${task}.h.*`)) keys.push(k);
    const out: TaskHostStats[] = [];
    for (const k of keys.sort()) {
      const e = await kv.get(k);
      if (e !== null && e.operation === 'PUT') out.push(decodeHostStats(dec.decode(e.value)));
    }
    return out;
  }
}
