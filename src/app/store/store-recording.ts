import { hostname } from 'node:os';
import type { RecordConfig } from '../../core/config/tcpcopy-cli.js';
import type { StoreUrl } from '../../core/config/store-url.js';
import { STORE_DROP_REASONS } from '../../core/store/task.js';
import type { RecordStore } from '../../core/store/types.js';
import { nowUs } from '../copier.js';
import type { Disposers } from '../disposers.js';
import type { RunLog } from '../run-log.js';
import { openStore } from './open-store.js';
import { StoreRecorder } from './store-recorder.js';
import { TaskControl } from './task-control.js';

/** The online host's name in subjects: ?host=, else this machine's name (made a subject token). */
export function recordingHost(url: StoreUrl): string {
  return url.host ?? (hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'host');
}

export interface StoreRecording {
  store: RecordStore;
  recorder: StoreRecorder;
  control: TaskControl;
  /** Starts publishing, and --task when given. */
  start(): Promise<void>;
}

/**
 * --record nats://…: connects, creates the stream (or applies its limits), and prepares the
 * recorder and its task control. Their release is on the disposer stack: leave the tasks (a task
 * this copier started is stopped when no other host records into it), wait for the last
 * acknowledgements, close. Throws with a message naming --record when the store cannot be used.
 */
export async function prepareStoreRecording(rc: RecordConfig, filterText: string | null, log: RunLog, disposers: Disposers): Promise<StoreRecording> {
  const url = rc.store as StoreUrl;
  const store = await openStore(url, '--record', 'tcpcopy recorder', Error);
  try {
    await store.ensureStream({ maxBytes: url.maxBytes, maxAgeMs: url.maxAgeMs, replicas: url.replicas });
  } catch (err) {
    await store.close(1000);
    throw new Error(`--record ${JSON.stringify(url.text)}: cannot create or update stream ${url.stream}: ${(err as Error).message}`);
  }
  const recorder = new StoreRecorder({ store, stream: url.stream, host: recordingHost(url), clock: nowUs, info: (m) => log.warn(m) });
  const control = new TaskControl(store, url.stream, recorder, log, filterText, nowUs);
  store.onStatus((s, server) => {
    if (s === 'disconnected') log.warn(`store: connection to ${server} lost; packets are dropped and counted until it is back`);
    else if (s === 'connected') log.info(`store: reconnected to ${server}; storing again`);
  });
  disposers.defer('store recorder', async () => {
    recorder.stop();
    await control.leaveAll();
    await recorder.drained(5000);
    const t = recorder.total.stats;
    const dropped = STORE_DROP_REASONS.map((r) => `${r} ${t.drops[r]}`).join(', ');
    log.info(`store recording: ${recorder.frames} frames captured, ${t.packets} stored in ${url.stream} (${t.bytes} bytes, last sequence ${recorder.lastSeq}); not stored: ${dropped}`);
    await store.close();
  });
  return {
    store,
    recorder,
    control,
    start: async () => {
      recorder.start();
      control.begin();
      if (rc.task !== null) await control.start(rc.task, 'copier');
    },
  };
}

/**
 * SIGUSR1 starts a task (--task's name the first time, else one named after the time), SIGUSR2
 * stops the one recording.
 */
export function taskSignals(control: TaskControl, taskName: string | null, log: RunLog, disposers: Disposers): void {
  let current = taskName;
  let givenUsed = taskName !== null;
  const onUsr1 = (): void => {
    if (current !== null && control.tasks.includes(current)) return;
    const name = !givenUsed && taskName !== null ? taskName : `t${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
    givenUsed = true;
    current = name;
    control.start(name, 'signal').catch((err: unknown) => log.warn(`SIGUSR1: task ${name}: ${(err as Error).message}`));
  };
  const onUsr2 = (): void => {
    const name = current ?? control.tasks[0];
    if (name === undefined) {
      log.warn('SIGUSR2: no task is recording');
      return;
    }
    control.stop(name, 'signal').catch((err: unknown) => log.warn(`SIGUSR2: task ${name}: ${(err as Error).message}`));
    current = null;
  };
  process.on('SIGUSR1', onUsr1);
  process.on('SIGUSR2', onUsr2);
  disposers.defer('task signal handlers', () => {
    process.off('SIGUSR1', onUsr1);
    process.off('SIGUSR2', onUsr2);
  });
}
