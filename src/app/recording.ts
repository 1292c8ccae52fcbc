import type { RecordConfig, TcpcopyConfig } from '../core/config/tcpcopy-cli.js';
import { recordName } from '../core/record/rotation.js';
import { PcapngRecorder } from '../io/pcapng-recorder.js';
import { nowUs } from './copier.js';
import type { Disposers } from './disposers.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import type { RunLog } from './run-log.js';
import { openSource, SourceOpenError } from './source/open-source.js';
import type { PacketSource } from './source/packet-source.js';

/** The buffer is written at least this often, so a crash loses at most about a second. */
const FLUSH_MS = 1000;

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
export async function runRecordOnly(cfg: TcpcopyConfig, log: RunLog, disposers: Disposers): Promise<number> {
  const rc = cfg.record as RecordConfig;
  const fail = async (message: string, code: number): Promise<number> => {
    log.errOut(message);
    await disposers.dispose((name, err) => log.warn(`clean-up of ${name} failed: ${(err as Error).message}`));
    return code;
  };
  let recording: { rec: PcapngRecorder; start(): void };
  try {
    recording = prepareRecorder(rc, log, disposers);
  } catch (err) {
    return fail(`--record ${JSON.stringify(rc.path)}: ${(err as Error).message}`, EXIT_USAGE);
  }
  const rec = recording.rec;
  let resolve: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => (resolve = r));
  let source: PacketSource;
  try {
    source = await openSource(cfg, {
      clock: nowUs,
      warn: (m) => log.warn(m),
      tap: rec,
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
    recording.start();
  } catch (err) {
    return fail(`--record ${JSON.stringify(rc.path)}: ${(err as Error).message}`, EXIT_USAGE);
  }
  const onStop = (name: string) => (): void => {
    log.info(`${name}: recording stopped`);
    resolve(EXIT_OK);
  };
  const onInt = onStop('SIGINT');
  const onTerm = onStop('SIGTERM');
  const onHup = (): void => {
    log.reopen();
    log.info('log file reopened (SIGHUP)');
    rec.rotate();
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  disposers.defer('signal handlers', () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
  });
  source.start(nowUs());
  log.info(`recording ${source.description} (record only${cfg.filterText === null ? '' : `, -F "${cfg.filterText}"`}) to ${rec.current}`);
  const code = await done;
  const t = source.totals();
  // Before the disposers: the log is the last thing they close.
  log.info(`capture: ${t.packetsRead} packets taken, kernel drops ${t.live?.kernelDrops ?? 'unknown'}`);
  await disposers.dispose((name, err) => log.warn(`clean-up of ${name} failed: ${(err as Error).message}`));
  return code;
}
