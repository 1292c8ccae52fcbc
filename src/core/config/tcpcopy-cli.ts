import { compileFilter, FilterError, type PacketFilter } from '../filter/index.js';
import { defaultEngineConfig, type EngineConfig } from '../session/types.js';
import { DEFAULT_CHANNEL_PORT } from '../wire/constants.js';
import {
  parseAcceleration,
  parseAddress,
  parseClientPool,
  parseConnections,
  parseFixedRtt,
  parseGapThreshold,
  parseInterceptors,
  parseIntRange,
  parseKeepaliveTimeout,
  parseMemoryMb,
  parseMss,
  parseMtu,
  parsePort,
  parsePortShift,
  parseReplayTimes,
  parseReplicas,
  parseSampleRate,
  parseSessionBufferKb,
  parseSessionTimeout,
  parseTransfers,
  type InterceptorAddress,
  type Transfer,
} from './copier.js';
import { ConfigError } from './errors.js';
import { OPENING_AUTO } from '../replay/opening-window.js';
import {
  parseCaptureBackend,
  parseCaptureInput,
  parseLiveCaptureOptions,
  parseRawBackend,
  type CaptureBackendName,
  type CaptureInput,
  type RawBackend,
} from './tcpcopy-input.js';

export * from './tcpcopy-input.js';
import { parseLoadOptions, refuseWithLoad, type LoadConfig } from './load.js';
import type { TcpcopyRawOptions } from './tcpcopy-raw.js';
import { flagWarnings } from './tcpcopy-warnings.js';
export type { LoadConfig } from './load.js';
import { parseRecordFiles, parseRotate, type RotateSpec } from './record.js';
import { looksLikeStoreUrl, parseShare, parseStoreName, parseStoreUrl, type ShareSpec, type StoreUrl } from './store-url.js';
import { STORE_PARTITIONS } from '../store/task.js';
import { mirrorRequested, parseReportOptions, type ReportConfig } from './report.js';
import { LOG_LEVELS, toLogLevel, type LogLevel } from '../log-level.js';

/**
 * The copier's (tcpcopy's) command line, parsed once: commander hands over strings and switch
 * booleans, every value is checked here, and a bad one throws a ConfigError naming the flag and
 * the accepted form (the CLI prints it and exits 2). Stock flags keep stock meanings; defaults
 * that differ on purpose are noted on the field.
 */

export type { TcpcopyRawOptions } from './tcpcopy-raw.js';

/** --record and its companions (live only). */
export interface RecordConfig {
  /** The file name pattern, or the store URL as given. */
  path: string;
  /** --record nats://…: the stream store (then rotate/files do not apply), and --task. */
  store: StoreUrl | null;
  task: string | null;
  rotate: RotateSpec | null;
  files: number;
  responses: boolean;
}

export const DEFAULT_RECORD_FILES = 10;

export interface TcpcopyConfig {
  /** --report / --report-html and companions (core/config/report.ts); null = no report. */
  report: ReportConfig | null;
  /** --record: write what the live capture took to pcapng files; null = no recording. */
  record: RecordConfig | null;
  /** --record without -s: record only (no engine, raw socket or interceptor channel). */
  recordOnly: boolean;
  /** -u: load mode (users replaying the capture's sessions), null = copy/replay as captured. */
  load: LoadConfig | null;
  transfers: Transfer[];
  interceptors: InterceptorAddress[];
  /** -i: a capture file, live capture on devices (no -i: `any`), or a stream store. */
  input: CaptureInput;
  /** --share K/M: this copier's part of a stream-store replay (null: all of it). */
  share: ShareSpec | null;
  /**
   * -F compiled by our offline filter (null = every packet, and always null live: libpcap
   * applies -F there, in its own grammar, so it is neither parsed nor matched twice).
   */
  filter: PacketFilter | null;
  filterText: string | null;
  /** -B: libpcap's kernel buffer, MiB (live only; the copier's own packet ring is sized from it). */
  bufferMb: number;
  /** -S: bytes kept of each captured frame (live only). */
  snapLen: number;
  /** --capture-latency: ms a packet may wait in the kernel buffer (pcap backend); 0 = immediate mode. */
  captureLatencyMs: number;
  /** -a, -I (ms), -T, --rate */
  acceleration: number;
  idleCapMs: number;
  loops: number;
  fastest: boolean;
  /**
   * --max-opening: a file replay holds back its next packets while this many sessions wait for
   * the target to answer their handshake or first request (core/replay/opening-window.ts).
   * 0 = no limit (live); OPENING_AUTO (−1, the default with -a) = none until the target drops
   * openings; 512 by default with --rate, where nothing else stops the copier from opening
   * connections faster than the target accepts them.
   */
  maxOpening: number;
  /** -C */
  connections: number;
  /** -L */
  lonely: boolean;
  /** -m in MB: process RSS limit (checked periodically) and the engine's total buffer cap. */
  memoryMb: number;
  logFile: string | null;
  pidFile: string | null;
  daemon: boolean;
  quiet: boolean;
  logLevel: LogLevel;
  /** Periodic stats lines, ms (0 = only at exit). */
  statsIntervalMs: number;
  /**
   * After the last captured packet (all -T runs): when nothing was sent to the target and no
   * record arrived for this long, the sessions still open end ('idle-timeout').
   */
  endGraceUs: number;
  /** --nice: how much lower the copier's CPU priority is (0 = unchanged). */
  nice: number;
  /** --with-payload: 192-byte records (the interceptor must use --with-payload too). */
  withPayload: boolean;
  /**
   * --seed, or a fresh random one per process (a fixed default made two copiers with the same
   * capture and -f choose the same ports). The summary prints it so a run can be repeated.
   */
  seed: number;
  seedSource: 'given' | 'random';
  /**
   * --raw-backend: how packets go out. 'auto' (default): the project's sendmmsg addon when it is
   * built, else the `raw-socket` package; a named backend is used or the start fails.
   */
  rawBackend: RawBackend;
  /**
   * --capture-backend: how live capture reads. 'auto' (default): the project's pcapbatch addon
   * when it is built, else the `cap` package; a named backend is used or the start fails.
   */
  captureBackend: CaptureBackendName;
  engine: EngineConfig;
}

/** What the parser cannot compute itself, core being pure: supplied by the CLI. */
export interface TcpcopyParseInputs {
  /** Used when --seed is absent: a random 0..MAX_SEED value. */
  randomSeed: number;
  /** Whether -i names an existing file (absent: nothing is taken for a file by existence). */
  isFile?: (path: string) => boolean;
}

/** Seeds are 32-bit: every value the summary can print is accepted back by --seed. */
export const MAX_SEED = 0xffffffff;

/**
 * Offline -t default, seconds. Stock uses 600 s (and -k = t + 120), sized for live traffic; a
 * replay whose target stays silent that long is broken anyway, and a finished replay should
 * not sit for ten minutes waiting for a session that will never move.
 */
export const OFFLINE_SESSION_TIMEOUT_S = 30;
/** Stock -k default (600 + 120 s). */
export const STOCK_KEEPALIVE_S = 720;
/** Default of --end-grace, ms. */
export const DEFAULT_END_GRACE_MS = 3000;
/** --max-opening with --rate (see TcpcopyConfig.maxOpening): about nginx's default listen backlog (511). */
export const DEFAULT_MAX_OPENING_RATE = 512;
/** Live -t default, seconds: stock's 600 (a live service's connections may idle for minutes). */
export const LIVE_SESSION_TIMEOUT_S = 600;
/** A plain path check (existence and readability are checked by the app when it opens the file). */
function parseFile(value: string, flag: string, form: string): string {
  if (value.trim() === '') throw new ConfigError(flag, value, form);
  return value;
}

function parseLogLevel(value: string, flag = '--log-level'): LogLevel {
  const level = toLogLevel(value);
  if (level === null) throw new ConfigError(flag, value, `expected one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

export function parseFilterExpression(value: string, flag = '-F'): PacketFilter {
  try {
    return compileFilter(value);
  } catch (err) {
    if (err instanceof FilterError) {
      // The message keeps the filter's caret line under the expression.
      throw new ConfigError(
        flag,
        value,
        `at character ${err.position + 1}: ${err.reason}; expected a pcap-filter expression such as "tcp and dst port 80"\n  ${value}\n  ${' '.repeat(err.position)}^`,
      );
    }
    throw err;
  }
}

/** Commander's view → typed config. Throws ConfigError on the first bad value. */
export function parseTcpcopyOptions(raw: TcpcopyRawOptions, inputs: TcpcopyParseInputs): { config: TcpcopyConfig; warnings: string[] } {
  const warnings: string[] = [];
  const record = parseRecordOptions(raw);
  // --record without -s only records: -x (its online side) and/or -F say what.
  const recordOnly = record !== null && raw.intercept === undefined;
  if (recordOnly && raw.transfer === undefined && (raw.filter === undefined || raw.filter.trim() === '')) {
    throw new ConfigError('--record', record.path, 'recording without -s (record only) needs -x or -F to say what to capture, e.g. -F "tcp dst port 80"');
  }
  if (raw.transfer === undefined && !recordOnly) {
    throw new ConfigError('-x', '', 'required: [onlineIp:]port-targetIp:targetPort[,...], e.g. -x 80-10.0.0.2:8080');
  }
  const transfers = raw.transfer === undefined ? [] : parseTransfers(raw.transfer, '-x');
  const port = raw.port === undefined ? DEFAULT_CHANNEL_PORT : parsePort(raw.port, '-p');
  if (raw.intercept === undefined && !recordOnly) {
    throw new ConfigError('-s', '', 'required: the interceptor(s) as ip[:port][,ip[:port]...], e.g. -s 10.0.0.2');
  }
  const interceptors = raw.intercept === undefined ? [] : parseInterceptors(raw.intercept, port, '-s');
  const input = parseCaptureInput(raw.pcap, inputs.isFile ?? (() => false), '-i');
  const live = input.kind === 'live';
  if (record !== null && input.kind === 'file') throw new ConfigError('--record', record.path, `only for live capture; -i ${JSON.stringify(input.path)} is a file (it is a recording already; --import FILE stores it)`);
  if (record !== null && input.kind === 'store') throw new ConfigError('--record', record.path, `only for live capture; -i is a stream store (--export FILE writes its range to pcapng)`);
  if (raw.share !== undefined && input.kind !== 'store') throw new ConfigError('--share', raw.share, 'only when replaying from a stream store (-i nats://HOST/STREAM?task=NAME)');
  const share = raw.share === undefined ? null : parseShare(raw.share, STORE_PARTITIONS);
  // Live, libpcap compiles -F (and reports its errors when the capture opens).
  const filter = raw.filter === undefined || live ? null : parseFilterExpression(raw.filter, '-F');
  if (live && raw.filter !== undefined && raw.filter.trim() === '') throw new ConfigError('-F', raw.filter, 'expected a pcap-filter expression such as "src net 10.8.0.0/16"');
  const { bufferMb, snapLen, captureLatencyMs } = parseLiveCaptureOptions(raw);

  const targetIps = transfers.map((t) => t.targetIp);
  if (raw.clientIp !== undefined && raw.clients !== undefined) throw new ConfigError('--clients', raw.clients, 'the same as -c: give one of them');
  const poolText = raw.clientIp ?? raw.clients;
  const clientPool = poolText === undefined ? [] : parseClientPool(poolText, targetIps, raw.clientIp === undefined ? '--clients' : '-c');
  const load = parseLoadOptions(raw, input, clientPool, raw.replicas === undefined ? 1 : parseReplicas(raw.replicas, '-n'), raw.times);
  const localAddress = raw.localhost === undefined ? 0 : parseAddress(raw.localhost, '-H');
  const replicas = raw.replicas === undefined ? 1 : parseReplicas(raw.replicas, '-n');
  const portShift = raw.portShift === undefined ? 0 : parsePortShift(raw.portShift, '-f');
  const memoryMb = raw.memory === undefined ? 2048 : parseMemoryMb(raw.memory, '-m');
  const connections = raw.connections === undefined ? 2 : parseConnections(raw.connections, '-C');
  const samplePercent = raw.percentage === undefined ? 100 : parseSampleRate(raw.percentage, '-r');
  const mtu = raw.mtu === undefined ? 1500 : parseMtu(raw.mtu, '-M');
  const mss = raw.mss === undefined ? 1460 : parseMss(raw.mss, '-D');
  const sessionBufferKb = raw.poolSize === undefined ? null : parseSessionBufferKb(raw.poolSize, '-U');
  const fixedRttMs = raw.rtt === undefined ? 0 : parseFixedRtt(raw.rtt, '-R');
  const timeoutS = raw.timeout !== undefined ? parseSessionTimeout(raw.timeout, '-t') : live ? LIVE_SESSION_TIMEOUT_S : OFFLINE_SESSION_TIMEOUT_S;
  // -k keeps the stock default (720 s) unless -t is given: a keep-alive connection that idles
  // in the capture must survive its think time; a finished replay is ended by --end-grace.
  // --comet holds idle connections until the server closes them: no -k unless given.
  const keepaliveS =
    raw.keepalive !== undefined ? parseKeepaliveTimeout(raw.keepalive, timeoutS, '-k') : load?.comet === true ? Infinity : raw.timeout !== undefined ? timeoutS + 120 : STOCK_KEEPALIVE_S;
  // Checked live too (a typo is still an error), but a live copy runs at the traffic's own pace.
  const givenAcceleration = raw.accelerate === undefined ? 1 : parseAcceleration(raw.accelerate, '-a');
  const acceleration = live ? 1 : givenAcceleration;
  if (givenAcceleration < 1) throw new ConfigError('-a', raw.accelerate ?? '', 'expected a speed-up factor of at least 1, such as 1, 2.5 or 10');
  const idleCapMs = raw.interval === undefined || live ? 0 : parseGapThreshold(raw.interval, '-I');
  // Load mode reads the file once; its -T counts passes over the sessions (LoadConfig.passes).
  const loops = raw.times === undefined || live || load !== null ? 1 : parseReplayTimes(raw.times, '-T');
  const logLevel = raw.logLevel === undefined ? 'info' : parseLogLevel(raw.logLevel);
  const statsS = raw.statsInterval === undefined ? 30 : parseIntRange(raw.statsInterval, '--stats-interval', 0, 86400, 'seconds between stats lines (0 = only at exit)');
  const seed = raw.seed === undefined ? inputs.randomSeed >>> 0 : parseIntRange(raw.seed, '--seed', 0, MAX_SEED, 'the seed of sampling and port choices');
  const rawBackend = raw.rawBackend === undefined ? 'auto' : parseRawBackend(raw.rawBackend);
  const captureBackend = raw.captureBackend === undefined ? 'auto' : parseCaptureBackend(raw.captureBackend);
  const fastest = raw.rate === true && !live;
  // A live capture cannot wait; load mode (-u) paces its users itself.
  const maxOpening = live || load !== null
    ? 0
    : raw.maxOpening === undefined
      ? fastest
        ? DEFAULT_MAX_OPENING_RATE
        : OPENING_AUTO
      : raw.maxOpening.trim() === 'auto'
        ? OPENING_AUTO
        : parseIntRange(raw.maxOpening, '--max-opening', 0, 1_000_000, 'how many sessions may wait for their handshake or first answer at once (0 = no limit), or auto');
  const endGraceMs = raw.endGrace === undefined ? DEFAULT_END_GRACE_MS : parseIntRange(raw.endGrace, '--end-grace', 0, 3_600_000, 'milliseconds of silence after the capture ended before open sessions are ended');

  const report = parseReportOptions(raw, transfers);
  const mirror = mirrorRequested(raw);
  if (load !== null) refuseWithLoad(raw);
  warnings.push(...flagWarnings(raw, transfers, input, mirror));

  const engine = defaultEngineConfig(transfers, {
    // Load mode: the users' source picks every address and port from -c itself.
    clientPool: load === null ? clientPool : [],
    localAddress,
    replicas,
    mirror,
    portShift,
    samplePercent,
    gradual: raw.gradual === true,
    onlyFromSyn: raw.onlySyn === true,
    noWait: raw.wait === false,
    lonely: raw.lonely === true,
    mtu,
    mss,
    fixedRttUs: fixedRttMs * 1000,
    sessionTimeoutUs: timeoutS * 1_000_000,
    keepaliveTimeoutUs: keepaliveS * 1_000_000,
    acceleration,
    closeWithTarget: load?.comet === true,
    mergeHandshakeAck: true,
    totalBufferCap: memoryMb * 1024 * 1024,
    seed,
    ...(sessionBufferKb === null ? {} : { sessionBufferCap: sessionBufferKb * 1024 }),
  });

  return {
    config: {
      report,
      record,
      recordOnly,
      load,
      transfers,
      interceptors,
      input,
      share,
      filter,
      filterText: raw.filter ?? null,
      bufferMb,
      snapLen,
      captureLatencyMs,
      acceleration,
      idleCapMs,
      loops,
      fastest,
      maxOpening,
      connections,
      lonely: raw.lonely === true,
      memoryMb,
      logFile: raw.log === undefined ? null : parseFile(raw.log, '-l', 'expected the path of a log file'),
      pidFile: raw.pidFile === undefined ? null : parseFile(raw.pidFile, '-P', 'expected the path of a pid file'),
      daemon: raw.daemon === true,
      quiet: raw.quiet === true,
      logLevel,
      statsIntervalMs: statsS * 1000,
      endGraceUs: endGraceMs * 1000,
      nice: raw.nice === undefined ? 0 : parseIntRange(raw.nice, '--nice', 0, 19, 'how much to lower the copier\'s CPU priority'),
      withPayload: raw.withPayload === true,
      seed,
      seedSource: raw.seed === undefined ? 'random' : 'given',
      rawBackend,
      captureBackend,
      engine,
    },
    warnings,
  };
}

/** --record PATH [--record-rotate SIZE|DURATION] [--record-files N] [--record-responses]. */
function parseRecordOptions(raw: TcpcopyRawOptions): RecordConfig | null {
  if (raw.record === undefined) {
    const stray = (
      [
        ['--record-rotate', raw.recordRotate],
        ['--record-files', raw.recordFiles],
        ['--record-responses', raw.recordResponses === true ? 'on' : undefined],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (stray !== undefined) throw new ConfigError(stray[0], stray[1] ?? '', 'only with --record PATH');
    if (raw.task !== undefined) throw new ConfigError('--task', raw.task, 'only with --record nats://HOST/STREAM (or --task-start/--task-stop/--import)');
    return null;
  }
  if (looksLikeStoreUrl(raw.record)) {
    const url = parseStoreUrl(raw.record, '--record');
    if (raw.recordRotate !== undefined) throw new ConfigError('--record-rotate', raw.recordRotate, 'only with --record PATH (a file); a stream keeps what its max-bytes=/max-age= allow');
    if (raw.recordFiles !== undefined) throw new ConfigError('--record-files', raw.recordFiles, 'only with --record PATH (a file); a stream keeps what its max-bytes=/max-age= allow');
    if (url.sinceUs !== null || url.untilUs !== null) throw new ConfigError('--record', raw.record, 'since=/until= select what to replay (-i); a recording takes task=NAME');
    const task = raw.task === undefined ? url.task : parseStoreName(raw.task, '--task', 'task');
    return { path: raw.record, store: url, task, rotate: null, files: DEFAULT_RECORD_FILES, responses: raw.recordResponses === true };
  }
  if (raw.task !== undefined) throw new ConfigError('--task', raw.task, 'only with --record nats://HOST/STREAM (a stream store), not with a file');
  return {
    store: null,
    task: null,
    path: parseFile(raw.record, '--record', 'expected the path of the recording (files PATH-NNNNNN.pcapng are written)'),
    rotate: raw.recordRotate === undefined ? null : parseRotate(raw.recordRotate, '--record-rotate'),
    files: raw.recordFiles === undefined ? DEFAULT_RECORD_FILES : parseRecordFiles(raw.recordFiles, '--record-files'),
    responses: raw.recordResponses === true,
  };
}
