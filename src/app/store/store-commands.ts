import { closeSync, openSync, writeSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import type { StoreCommand } from '../../core/config/store-commands.js';
import { PcapngEncoder } from '../../core/capture/pcapng-writer.js';
import { BatchFormatError, BatchReader } from '../../core/store/record-batch.js';
import { formatTaskList, STORE_DROP_REASONS } from '../../core/store/task.js';
import { StoreOpenError, type RecordStore } from '../../core/store/types.js';
import { CaptureFileReader } from '../../io/pcap-file.js';
import { nowUs } from '../copier.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import type { RunLog } from '../run-log.js';
import { openStore } from './open-store.js';
import { StoreRecorder } from './store-recorder.js';
import { TaskControl } from './task-control.js';
import { listTasks, resolveRange, startTask, stopTask, TaskError } from './tasks.js';

/** A command's failure that is the user's (unknown task, missing stream, unreadable file): exit 2. */
class UsageError extends Error {}

const TWO32 = 4294967296;
const EXPORT_FETCH = 256;
const WRITE_CHUNK = 1048576;

/** Runs --tasks, --task-start, --task-stop, --export or --import; resolves with the exit code. */
export async function runStoreCommand(cmd: StoreCommand, out: NodeJS.WritableStream, log: RunLog): Promise<number> {
  const flag = { list: '--tasks', start: '--task-start', stop: '--task-stop', export: '-i', import: '--record' }[cmd.kind];
  let store: RecordStore;
  try {
    store = await openStore(cmd.url, flag, `tcpcopy ${cmd.kind}`, UsageError);
  } catch (err) {
    log.errOut((err as Error).message);
    return EXIT_USAGE;
  }
  try {
    if (cmd.kind === 'list') {
      const st = await store.streamState();
      const limits = `retention ${st.maxBytes === null ? 'any size' : `max ${(st.maxBytes / 1048576).toFixed(2)} MiB`}, ${st.maxAgeMs === null ? 'any age' : `max ${st.maxAgeMs / 1000} s old`}, ${st.replicas} replica(s)`;
      out.write(`stream ${cmd.url.stream}: ${st.messages} messages, ${(st.bytes / 1048576).toFixed(2)} MiB, sequences ${st.firstSeq}..${st.lastSeq}; ${limits}\n`);
      out.write(formatTaskList(await listTasks(store, cmd.url.stream)));
    } else if (cmd.kind === 'start') {
      await store.streamState();
      const m = await startTask(store, cmd.url.stream, cmd.task, { host: null, by: 'cli', filter: null, nowUs: nowUs() });
      out.write(`task ${m.name}: recording from sequence ${m.startSeq} (${m.hosts.length === 0 ? 'every host' : m.hosts.join(', ')})\n`);
    } else if (cmd.kind === 'stop') {
      const m = await stopTask(store, cmd.url.stream, cmd.task, 'cli', nowUs());
      out.write(`task ${m.name}: stopped, sequences ${m.startSeq}..${m.stopSeq}\n`);
    } else if (cmd.kind === 'export') await exportRange(store, cmd, out);
    else if (cmd.kind === 'import') await importFile(store, cmd, out, log);
    return EXIT_OK;
  } catch (err) {
    const usage = err instanceof TaskError || err instanceof UsageError || err instanceof StoreOpenError;
    log.errOut(err instanceof UsageError ? (err as Error).message : `${flag} ${JSON.stringify(cmd.url.text)}: ${(err as Error).message}`);
    return usage ? EXIT_USAGE : EXIT_FAILED;
  } finally {
    await store.close(5000);
  }
}

/** A task or time range → one pcapng file (an interface per link type seen), in stream order. */
async function exportRange(store: RecordStore, cmd: Extract<StoreCommand, { kind: 'export' }>, out: NodeJS.WritableStream): Promise<void> {
  const range = await resolveRange(store, cmd.url);
  let fd: number;
  try {
    fd = openSync(cmd.file, 'w', 0o644);
  } catch (err) {
    throw new UsageError(`--export ${JSON.stringify(cmd.file)}: cannot create: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const enc = new PcapngEncoder('le');
  const ifIds = new Map<number, number>();
  const chunks: Buffer[] = [];
  let pending = 0;
  const put = (b: Buffer): void => {
    chunks.push(b);
    pending += b.length;
    if (pending >= WRITE_CHUNK) flush();
  };
  const flush = (): void => {
    const all = Buffer.concat(chunks);
    for (let off = 0; off < all.length; ) off += writeSync(fd, all, off, all.length - off);
    chunks.length = 0;
    pending = 0;
  };
  let packets = 0;
  const hosts = range.hosts;
  const reader = await store.openRange({ fromSeq: range.fromSeq, startTimeUs: range.startTimeUs, toSeq: range.toSeq, subject: range.subject });
  try {
    put(enc.sectionHeader());
    const b = new BatchReader();
    for (let msgs = await reader.next(EXPORT_FETCH); msgs !== null; msgs = await reader.next(EXPORT_FETCH)) {
      for (const m of msgs) {
        const host = m.subject.slice(m.subject.indexOf('.') + 1, m.subject.lastIndexOf('.'));
        if (hosts.length > 1 && !hosts.includes(host)) continue;
        try {
          b.open(m.data);
          while (b.next()) {
            if ((range.untilUs !== null && b.tsUs > range.untilUs) || (range.sinceUs !== null && b.tsUs < range.sinceUs)) continue;
            let ifId = ifIds.get(b.linkType);
            if (ifId === undefined) {
              ifId = ifIds.size;
              ifIds.set(b.linkType, ifId);
              put(enc.interfaceDescription({ linkType: b.linkType, snaplen: 65535 }));
            }
            const hi = Math.floor(b.tsUs / TWO32);
            put(enc.enhancedPacket(ifId, hi, b.tsUs - hi * TWO32, b.buf.subarray(b.dataOff, b.dataOff + b.len)));
            packets++;
          }
        } catch (err) {
          if (!(err instanceof BatchFormatError)) throw err;
          out.write(`message ${m.seq}: skipped (${err.message})\n`);
        }
      }
    }
    flush();
  } finally {
    closeSync(fd);
    await reader.close();
  }
  out.write(`exported ${range.description}: ${packets} packets to ${cmd.file}\n`);
}

/** A pcap/pcapng file → a new task (host ?host= or "import"), stored without drops (it waits for the store). */
async function importFile(store: RecordStore, cmd: Extract<StoreCommand, { kind: 'import' }>, out: NodeJS.WritableStream, log: RunLog): Promise<void> {
  let reader: CaptureFileReader;
  try {
    reader = CaptureFileReader.open(cmd.file);
  } catch (err) {
    throw new UsageError(`--import ${JSON.stringify(cmd.file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const existing = await store.tasks.getTask(cmd.url.stream, cmd.task).catch(() => null);
  if (existing !== null) throw new TaskError(`task ${cmd.task} exists already in stream ${cmd.url.stream}: import into a new task`);
  await store.ensureStream({ maxBytes: cmd.url.maxBytes, maxAgeMs: cmd.url.maxAgeMs, replicas: cmd.url.replicas });
  const recorder = new StoreRecorder({ store, stream: cmd.url.stream, host: cmd.url.host ?? 'import', clock: nowUs, info: (m) => log.warn(m) });
  const control = new TaskControl(store, cmd.url.stream, recorder, log, null, nowUs);
  await control.start(cmd.task, 'import');
  const ifIds = new Map<number, number>();
  try {
    for (;;) {
      for (let rec = reader.nextBuffered(); rec !== null; rec = reader.nextBuffered()) {
        let ifId = ifIds.get(rec.linkType);
        if (ifId === undefined) {
          ifId = recorder.addInterface(rec.linkType);
          ifIds.set(rec.linkType, ifId);
        }
        recorder.frame(ifId, rec.data, rec.capLen, rec.tsUs);
        if (recorder.busy) await recorder.room();
      }
      if (!(await reader.fill())) break;
    }
  } catch (err) {
    throw new UsageError(`--import ${JSON.stringify(cmd.file)}: ${(err as Error).message}`);
  } finally {
    reader.close();
  }
  const m = await control.stop(cmd.task, 'import');
  const t = recorder.total.stats;
  const lost = STORE_DROP_REASONS.reduce((n, r) => n + t.drops[r], 0);
  out.write(`imported ${cmd.file}: ${t.packets} packets into task ${cmd.task} (sequences ${m.startSeq}..${m.stopSeq})${lost > 0 ? `; ${lost} could not be stored` : ''}\n`);
  if (lost > 0) throw new Error(`${lost} packets could not be stored`);
}
