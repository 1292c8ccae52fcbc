import type { TaskManifest } from '../../core/store/task.js';
import type { RecordStore } from '../../core/store/types.js';
import type { RunLog } from '../run-log.js';
import type { HostTally, StoreRecorder } from './store-recorder.js';
import { startTask, stopTask, TaskError } from './tasks.js';

/** How often a recording host writes its entry into each task it records into. */
const STATS_MS = 1000;

interface Joined {
  tally: HostTally;
  /** Started by this copier's --task: stopped when the last host recording into it leaves. */
  own: boolean;
}

/**
 * The tasks one recording copier takes part in: started or joined by --task, a signal or HTTP
 * (`POST /tasks/NAME/start|stop` on the metrics port), each with its own tally of what this host
 * stored and lost, written to the task's host entry every second and when it leaves. Stopping
 * flushes the recorder and waits for its acknowledgements first, so the range holds what was
 * captured until the stop.
 */
export class TaskControl {
  private readonly joined = new Map<string, Joined>();
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: RecordStore,
    private readonly stream: string,
    private readonly recorder: StoreRecorder,
    private readonly log: RunLog,
    private readonly filter: string | null,
    private readonly clock: () => number,
  ) {}

  get tasks(): string[] {
    return [...this.joined.keys()];
  }

  begin(): void {
    this.timer = setInterval(() => void this.serial(() => this.writeStats()), STATS_MS);
    this.timer.unref();
  }

  /** One task operation at a time: a start racing a stop of the same task would be undefined. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.busy.then(op, op);
    this.busy = next.catch(() => undefined);
    return next;
  }

  start(name: string, by: string): Promise<TaskManifest> {
    return this.serial(async () => {
      const m = await startTask(this.store, this.stream, name, { host: this.recorder.host, by, filter: this.filter, nowUs: this.clock() });
      if (!this.joined.has(name)) {
        const tally = this.recorder.track();
        this.joined.set(name, { tally, own: by === 'copier' });
        await this.store.tasks.putHostStats(this.stream, name, tally.snapshot(this.clock()));
        this.log.info(`task ${name}: recording (${m.startedBy === by && m.hosts.length <= 1 ? 'started' : 'joined'} by ${by}, from sequence ${m.startSeq})`);
      }
      return m;
    });
  }

  stop(name: string, by: string): Promise<TaskManifest> {
    return this.serial(async () => {
      const lastSeq = await this.settle(name);
      const m = await stopTask(this.store, this.stream, name, by, this.clock(), lastSeq);
      this.log.info(`task ${name}: stopped by ${by} at sequence ${m.stopSeq}`);
      return m;
    });
  }

  /** This host leaves every task (the copier ends); a task it started stops when no host records into it any more. */
  async leaveAll(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const name of [...this.joined.keys()]) {
      const own = this.joined.get(name)?.own === true;
      await this.serial(async () => {
        const lastSeq = await this.settle(name);
        const t = await this.store.tasks.getTask(this.stream, name);
        if (t === null || t.value.state === 'stopped' || !own) return;
        const others = (await this.store.tasks.hostStats(this.stream, name)).filter((h) => h.active && h.host !== this.recorder.host);
        if (others.length > 0) {
          this.log.info(`task ${name}: left (still recorded by ${others.map((h) => h.host).join(', ')})`);
          return;
        }
        const m = await stopTask(this.store, this.stream, name, 'copier', this.clock(), lastSeq);
        this.log.info(`task ${name}: stopped at sequence ${m.stopSeq} (the last recording host left)`);
      }).catch((err: unknown) => this.log.warn(`task ${name}: cannot leave cleanly: ${(err as Error).message}`));
    }
  }

  /** Publishes what is batched, waits for the acknowledgements, writes the final host entry. */
  private async settle(name: string): Promise<number> {
    const j = this.joined.get(name);
    if (j === undefined) {
      const t = await this.store.tasks.getTask(this.stream, name);
      if (t === null) throw new TaskError(`no task ${name} in stream ${this.stream}`);
    }
    this.recorder.flush();
    await this.recorder.drained();
    if (j !== undefined) {
      this.recorder.untrack(j.tally);
      this.joined.delete(name);
      await this.store.tasks.putHostStats(this.stream, name, { ...j.tally.snapshot(this.clock()), active: false });
    }
    return this.recorder.lastSeq;
  }

  private async writeStats(): Promise<void> {
    for (const [name, j] of this.joined) {
      try {
        const t = await this.store.tasks.getTask(this.stream, name);
        if (t !== null && t.value.state === 'stopped') {
          // Stopped elsewhere (CLI, another host's HTTP): this host's part ends here.
          this.recorder.untrack(j.tally);
          this.joined.delete(name);
          await this.store.tasks.putHostStats(this.stream, name, { ...j.tally.snapshot(this.clock()), active: false });
          this.log.info(`task ${name}: stopped by ${t.value.stoppedBy ?? 'another host'}`);
          continue;
        }
        await this.store.tasks.putHostStats(this.stream, name, j.tally.snapshot(this.clock()));
      } catch {
        // The store is away: the tally keeps counting and the next write catches up.
      }
    }
  }
}
