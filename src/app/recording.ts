import type { RecordConfig, TcpcopyConfig } from '../core/config/tcpcopy-cli.js';
import { recordName } from '../core/record/rotation.js';
import { PcapngRecorder, type FrameTap } from '../io/pcapng-recorder.js';
import { prepareStoreRecording, taskSignals } from './store/store-recording.js';
import { taskRoutes } from './store/task-routes.js';
import type { TaskControl } from './store/task-control.js';
import { nowUs } from './copier.js';
import { handleSignals } from './copier-logs.js';
import type { Disposers } from './disposers.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import type { RunLog } from './run-log.js';
import { openSource, SourceOpenError } from './source/open-source.js';
import type { PacketSource } from './source/packet-source.js';

/** The buffer is written at least this often, so a crash loses at most about a second. */
const FLUSH_MS = 1000;

/** --record's recorder, to a file or a stream store, not yet started. */
export interface Recording {
  tap: FrameTap;
  start(): Promise<void>;
  /** SIGHUP: a new file (a store has nothing to rotate). */
  rotate(): void;
  /** Where it goes, for the start line. */
  where(): string;
  /** The store's task control (null for files). */
  control: TaskControl | null;
  /** Counters for the metrics endpoint (a store recorder's stored packets and drops by reason). */
  counters(): Record<string, number>;
}

/**
 * --record PATH or --record nats://…: the recorder (files, or the stream store with its tasks,
 * SIGUSR1/SIGUSR2 starting and stopping a task). Throws with a message naming --record.
 */
export async function prepareRecording(rc: RecordConfig, filterText: string | null, log: RunLog, disposers: Disposers): Promise<Recording> {
  if (rc.store !== null) {
    const sr = await prepareStoreRecording(rc, filterText, log, disposers);
    taskSignals(sr.control, rc.task, log, disposers);
    const counters = (): Record<string, number> => {
      const t = sr.recorder.total.stats;
      return { storeFrames: sr.recorder.frames, storedPackets: t.packets, storedBytes: t.bytes, storeDropsAway: t.drops['store-away'], storeDropsBusy: t.drops['store-busy'], storeDropsError: t.drops['store-error'] };
    };
    return { tap: sr.recorder, start: sr.start, rotate: () => undefined, where: () => sr.recorder.description, control: sr.control, counters };
  }
  let recording: { rec: PcapngRecorder; start(): void };
  try {
    recording = prepareRecorder(rc, log, disposers);
  } catch (err) {
    throw new Error(`--record ${JSON.stringify(rc.path)}: ${(err as Error).message}`);
  }
  const rec = recording.rec;
  return {
    tap: rec,
    start: () => {
      try {
        recording.start();
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(new Error(`--record ${JSON.stringify(rc.path)}: ${(err as Error).message}`));
      }
    },
    rotate: () => rec.rotate(),
    where: () => rec.current,
    control: null,
    counters: () => ({ recordedPackets: rec.packets, recordedBytes: rec.bytesTotal }),
  };
}

/** --metrics-port in record-only mode: the task routes (and process metrics) for remote control. */
async function recordOnlyEndpoint(where: { port: number; host: string }, recording: Recording, control: TaskControl, log: RunLog, disposers: Disposers): Promise<void> {
  const { startMetricsServer } = await import('../io/metrics.js');
  try {
    const server = await startMetricsServer({ prefix: 'tcpcopy_recorder', port: where.port, host: where.host, snapshot: () => recording.counters(), routes: taskRoutes(control) });
    disposers.defer('metrics endpoint', () => server.close());
    log.info(`metrics and task control on http://${server.address.address}:${server.address.port}/ (POST /tasks/NAME/start|stop)`);
  } catch (err) {
    throw new Error(`--metrics-port ${where.port}: cannot serve on ${where.host}:${where.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * The recorder of --record, not yet writing: the source registers its devices with it while
 * opening, and start() creates the first file only once the source is open, so a run that fails
 * to start leaves no empty file (nor deletes an old one to keep --record-files). Its close is on
 * the disposer stack before the source's, so the source closes first. Throws when PATH's
 * directory cannot be listed.
 */
export function prepareRecorder(rc: RecordConfig, log: RunLog, disposers: Disposers): { rec: PcapngRecorder; start(): void } {
  let rec: PcapngRecorder;
  try {
    rec = new PcapngRecorder({ path: rc.path, rotate: rc.rotate, keep: rc.files, info: (m) => log.info(m) });
  } catch (err) {
    throw new Error(`cannot list the directory ${recordName(rc.path).dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let timer: NodeJS.Timeout | null = null;
  disposers.defer('recorder', () => {
    if (timer === null) return;
    clearInterval(timer);
    rec.close();
    log.info(`recording: ${rec.packets} packets, ${rec.bytesTotal} bytes in ${rec.filesOpened} file(s), last ${rec.current}`);
  });
  return {
    rec,
    start: () => {
      rec.start();
      timer = setInterval(() => rec.flush(), FLUSH_MS);
      timer.unref();
    },
  };
}

/**
 * --record without -s: capture and record, nothing else (no engine, raw socket or channel).
 * SIGINT/SIGTERM end it (exit 0); SIGHUP reopens the log and starts a new recording file.
 */
export async function runRecordOnly(cfg: TcpcopyConfig, log: RunLog, disposers: Disposers, metrics: { port: number; host: string } | null = null): Promise<number> {
  const rc = cfg.record as RecordConfig;
  const fail = async (message: string, code: number): Promise<number> => {
    log.errOut(message);
    await disposers.dispose((name, err) => log.warn(`clean-up of ${name} failed: ${(err as Error).message}`));
    return code;
  };
  let recording: Recording;
  try {
    recording = await prepareRecording(rc, cfg.filterText, log, disposers);
  } catch (err) {
    return fail((err as Error).message, EXIT_USAGE);
  }
  let resolve: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => (resolve = r));
  let source: PacketSource;
  try {
    source = await openSource(cfg, {
      clock: nowUs,
      warn: (m) => log.warn(m),
      tap: recording.tap,
      events: {
        wake: () => undefined,
        info: (m) => log.info(m),
        ended: () => undefined,
        error: (m) => {
          log.errOut(`cannot read on: ${m}`);
          resolve(EXIT_FAILED);
        },
      },
    });
  } catch (err) {
    return fail(err instanceof SourceOpenError ? err.message : (err as Error).message, EXIT_USAGE);
  }
  disposers.defer('packet source', () => source.close());
  try {
    await recording.start();
    if (metrics !== null && recording.control !== null) await recordOnlyEndpoint(metrics, recording, recording.control, log, disposers);
  } catch (err) {
    return fail((err as Error).message, EXIT_USAGE);
  }
  handleSignals(
    disposers,
    log,
    (name) => {
      log.info(`${name}: recording stopped`);
      resolve(EXIT_OK);
    },
    () => recording.rotate(),
  );
  source.start(nowUs());
  log.info(`recording ${source.description} (record only${cfg.filterText === null ? '' : `, -F "${cfg.filterText}"`}) to ${recording.where()}`);
  const code = await done;
  const t = source.totals();
  // Before the disposers: the log is the last thing they close.
  log.info(`capture: ${t.packetsRead} packets taken, kernel drops ${t.live?.kernelDrops ?? 'unknown'}`);
  await disposers.dispose((name, err) => log.warn(`clean-up of ${name} failed: ${(err as Error).message}`));
  return code;
}
