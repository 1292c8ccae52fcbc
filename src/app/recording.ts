import type { RecordConfig, TcpcopyConfig } from '../core/config/tcpcopy-cli.js';
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
 * Opens the recorder of --record (its first file now: an unwritable path is a usage error) and
 * puts its flush timer and its close on the disposer stack. Defer it before the source, so the
 * source closes first and the recorder writes everything the source handed it.
 */
export function startRecorder(rc: RecordConfig, log: RunLog, disposers: Disposers): PcapngRecorder {
  const rec = new PcapngRecorder({ path: rc.path, rotate: rc.rotate, keep: rc.files, info: (m) => log.info(m) });
  rec.start();
  const timer = setInterval(() => rec.flush(), FLUSH_MS);
  timer.unref();
  disposers.defer('recorder', () => {
    clearInterval(timer);
    rec.close();
    log.info(`recording: ${rec.packets} packets, ${rec.bytesTotal} bytes in ${rec.filesOpened} file(s), last ${rec.current}`);
  });
  return rec;
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
  let rec: PcapngRecorder;
  try {
    rec = startRecorder(rc, log, disposers);
  } catch (err) {
    return fail(`--record ${JSON.stringify(rc.path)}: ${(err as Error).message}`, EXIT_USAGE);
  }
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
  await disposers.dispose((name, err) => log.warn(`clean-up of ${name} failed: ${(err as Error).message}`));
  log.info(`capture: ${t.packetsRead} packets taken, kernel drops ${t.live?.kernelDrops ?? 'unknown'}`);
  return code;
}
