import type { TaskHostStats, TaskManifest } from './task.js';

/*
 * The stream store behind recordings, as the app uses it. One adapter per backend (NATS
 * JetStream: src/io/store/nats-store.ts); a Kafka adapter would map streams to topics, subjects
 * to partitions keyed by flow, sequences to offsets and the task bucket to a compacted topic.
 */

/** Stream limits set when recording (retention by size and age, copies in a cluster). */
export interface StreamLimits {
  maxBytes: number | null;
  maxAgeMs: number | null;
  replicas: number;
}

export interface StreamState {
  firstSeq: number;
  lastSeq: number;
  messages: number;
  bytes: number;
  /** Retention in force (null: unlimited). */
  maxBytes: number | null;
  maxAgeMs: number | null;
  replicas: number;
}

/** One stored message as a range reader hands it over. */
export interface StoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  /** The store's own time of the message, epoch µs. */
  timeUs: number;
}

/** Where a range read starts and what it takes. */
export interface RangeQuery {
  /** First sequence, or (when null) the first message stored at or after startTimeUs. */
  fromSeq: number | null;
  startTimeUs: number | null;
  /** Last sequence to deliver (inclusive). */
  toSeq: number;
  /** A subject filter (one; `STREAM.>` for all). */
  subject: string;
}

export interface RangeReader {
  /** The next messages (at most max), or null once the range is exhausted. */
  next(max: number): Promise<StoredMessage[] | null>;
  close(): Promise<void>;
}

/** A task entry as read back, with the revision a compare-and-set update must name. */
export interface Versioned<T> {
  value: T;
  revision: number;
}

export interface TaskBucket {
  getTask(stream: string, name: string): Promise<Versioned<TaskManifest> | null>;
  /** revision null: create (fails with TaskConflictError when it exists); else update if unchanged. */
  putTask(manifest: TaskManifest, revision: number | null): Promise<void>;
  putHostStats(stream: string, task: string, stats: TaskHostStats): Promise<void>;
  listTasks(stream: string): Promise<TaskManifest[]>;
  hostStats(stream: string, task: string): Promise<TaskHostStats[]>;
}

/** The store cannot be used as asked (unreachable, no JetStream, no such stream): a usage error. */
export class StoreOpenError extends Error {}

/** A compare-and-set lost to another writer: read again and retry. */
export class TaskConflictError extends Error {}

export type StoreStatus = 'connected' | 'disconnected' | 'closed';

export interface RecordStore {
  readonly description: string;
  /** Creates the stream (STREAM.>) or updates its limits. */
  ensureStream(limits: StreamLimits): Promise<void>;
  streamState(): Promise<StreamState>;
  /** False while the connection is down: publishing then fails at once. */
  readonly connected: boolean;
  onStatus(listener: (status: StoreStatus, detail: string) => void): void;
  /** Stores one message; resolves with its sequence once the store acknowledged it. */
  publish(subject: string, data: Uint8Array): Promise<number>;
  openRange(q: RangeQuery): Promise<RangeReader>;
  readonly tasks: TaskBucket;
  /** Waits for pending publishes (at most timeoutMs), then closes. */
  close(timeoutMs?: number): Promise<void>;
}
