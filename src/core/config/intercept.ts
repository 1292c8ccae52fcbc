import { parseIpv4 } from '../packet/ipv4.js';
import { DEFAULT_ENGINE_OPTIONS, type Cidr, type EngineOptions } from '../intercept/options.js';
import { LOG_LEVELS, toLogLevel, type LogLevel } from '../log-level.js';
import { DEFAULT_CHANNEL_PORT, MAX_FRAME_RECORDS, MAX_FRAME_RECORDS_PAYLOAD } from '../wire/constants.js';
import { ConfigError } from './errors.js';

/**
 * The interceptor's command line, parsed once. Commander hands over strings (and booleans for
 * switches); every value is checked here and a bad one throws a ConfigError naming the flag and
 * the accepted form. Stock flags keep their stock meanings and defaults.
 */
export interface InterceptConfig {
  /** -p: channel port. */
  port: number;
  /** -b: listen address; null = all. */
  bind: string | null;
  /** -x: pass-listed destinations (u32), ACCEPT instead of DROP. */
  passList: number[];
  /** -n: records per frame. */
  maxFrameRecords: number;
  /** -q: NFQUEUE maximum length (null = the tap default, 65536; the fallback backend cannot apply it). */
  queueMaxLen: number | null;
  /** -s: stock hash-table size; checked, then ignored (stock's single build ignores it too). */
  hashSize: number | null;
  /** -c */
  protect: boolean;
  /** -D a-b */
  docker: { from: number; to: number } | null;
  /** -l, -P, -d */
  logFile: string | null;
  pidFile: string | null;
  daemon: boolean;
  queueNum: number;
  withPayload: boolean;
  /** --forward-payload: payload bytes per response packet copiers may ask for (0 = none). */
  forwardPayload: number;
  allow: Cidr[];
  /** 0 = no periodic stats (still logged at exit). */
  statsIntervalMs: number;
  logLevel: LogLevel;
  /** --install-rule: service ports whose responses the daemon queues itself; empty = none. */
  installRulePorts: number[];
  /** --conn-buffer: bytes a copier connection may have queued before records are dropped. */
  connBufferBytes: number;
  /** --stuck-timeout: a copier over its buffer bound this long without reading is closed. */
  stuckTimeoutMs: number;
}

/** What commander collects (option values are strings; switches booleans). */
export interface InterceptRawOptions {
  port?: string;
  bind?: string;
  pass?: string;
  combine?: string;
  queueLen?: string;
  hashSize?: string;
  protect?: boolean;
  docker?: string;
  log?: string;
  pidFile?: string;
  daemon?: boolean;
  queueNum?: string;
  withPayload?: boolean;
  forwardPayload?: string;
  allow?: string;
  statsInterval?: string;
  logLevel?: string;
  installRule?: string;
  connBuffer?: string;
  stuckTimeout?: string;
}

export const MAX_PASS_LIST = 32;

function intIn(value: string, flag: string, min: number, max: number, form: string): number {
  if (!/^[0-9]+$/.test(value.trim())) throw new ConfigError(flag, value, form);
  const n = Number(value.trim());
  if (n < min || n > max) throw new ConfigError(flag, value, form);
  return n;
}

function ipv4(value: string, flag: string, form: string): number {
  const ip = parseIpv4(value.trim());
  if (ip === null) throw new ConfigError(flag, value, form);
  return ip;
}

/** `-x ip1,ip2,…` (at most 32, exact match, as stock). */
export function parsePassList(value: string, flag = '-x'): number[] {
  const form = `expected up to ${MAX_PASS_LIST} IPv4 addresses separated by commas, e.g. 10.0.0.5,10.0.0.6`;
  const items = value.split(',').filter((s) => s.trim() !== '');
  if (items.length === 0 || items.length > MAX_PASS_LIST) throw new ConfigError(flag, value, form);
  return items.map((s) => ipv4(s, flag, form));
}

/** `-D dockered_ip-orig_ip` */
export function parseDockerMap(value: string, flag = '-D'): { from: number; to: number } {
  const form = 'expected dockeredIp-origIp, two IPv4 addresses, e.g. 172.17.0.2-10.0.0.2';
  const parts = value.split('-');
  if (parts.length !== 2) throw new ConfigError(flag, value, form);
  return { from: ipv4(parts[0] as string, flag, form), to: ipv4(parts[1] as string, flag, form) };
}

/** `--allow cidr,…`: a bare address means /32. */
export function parseAllowList(value: string, flag = '--allow'): Cidr[] {
  const form = 'expected IPv4 networks separated by commas, e.g. 10.0.0.0/8,192.0.2.7';
  const items = value.split(',').filter((s) => s.trim() !== '');
  if (items.length === 0) throw new ConfigError(flag, value, form);
  return items.map((item) => {
    const [addr, bitsText] = item.trim().split('/') as [string, string | undefined];
    const ip = ipv4(addr, flag, form);
    const bits = bitsText === undefined ? 32 : intIn(bitsText, flag, 0, 32, form);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { net: (ip & mask) >>> 0, mask };
  });
}

/** `--install-rule port[,port…]` */
export function parsePortList(value: string, flag = '--install-rule'): number[] {
  const form = 'expected service ports 1..65535 separated by commas, e.g. 80,8080';
  const items = value.split(',').filter((s) => s.trim() !== '');
  if (items.length === 0) throw new ConfigError(flag, value, form);
  return [...new Set(items.map((s) => intIn(s, flag, 1, 65535, form)))];
}

/** Byte counts with an optional k/m suffix (binary units). */
export function parseBytes(value: string, flag: string, min: number): number {
  const form = `expected a byte count of at least ${min}, optionally with k or m (e.g. 4m)`;
  const m = /^\s*([0-9]+)\s*([kKmM]?)\s*$/.exec(value);
  if (m === null) throw new ConfigError(flag, value, form);
  const unit = (m[2] ?? '').toLowerCase();
  const n = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
  if (n < min || !Number.isSafeInteger(n)) throw new ConfigError(flag, value, form);
  return n;
}

export function parseInterceptOptions(raw: InterceptRawOptions): { config: InterceptConfig; warnings: string[] } {
  const warnings: string[] = [];
  const withPayload = raw.withPayload === true;
  const frameCap = withPayload ? MAX_FRAME_RECORDS_PAYLOAD : MAX_FRAME_RECORDS;
  let maxFrameRecords = frameCap;
  if (raw.combine !== undefined) {
    const n = intIn(raw.combine, '-n', 0, 65535, 'expected a record count, 1..16 (values outside 1..15 mean 16, as stock)');
    if (n >= 1 && n < MAX_FRAME_RECORDS) maxFrameRecords = Math.min(n, frameCap);
    else warnings.push(`-n ${n} is outside 1..15 and is ignored, as stock does: frames carry up to ${frameCap} records`);
  }
  let bind: string | null = null;
  if (raw.bind !== undefined) {
    const b = raw.bind.trim();
    if (parseIpv4(b) === null && !/^[0-9a-fA-F:.]+$/.test(b)) {
      throw new ConfigError('-b', raw.bind, 'expected an IP address to listen on, e.g. 10.0.0.2 (default: all addresses)');
    }
    bind = b;
  }
  let logLevel: LogLevel = 'info';
  if (raw.logLevel !== undefined) {
    const l = toLogLevel(raw.logLevel);
    if (l === null) throw new ConfigError('--log-level', raw.logLevel, `expected one of ${LOG_LEVELS.join(', ')}`);
    logLevel = l;
  }
  let statsIntervalMs = 30_000;
  if (raw.statsInterval !== undefined) {
    const form = 'expected seconds between stats lines, e.g. 30 or 0.5; 0 turns periodic stats off';
    if (!/^\s*[0-9]+(\.[0-9]+)?\s*$/.test(raw.statsInterval)) throw new ConfigError('--stats-interval', raw.statsInterval, form);
    statsIntervalMs = Math.round(Number(raw.statsInterval) * 1000);
    if (statsIntervalMs > 86_400_000) throw new ConfigError('--stats-interval', raw.statsInterval, form);
  }
  let stuckTimeoutMs = DEFAULT_ENGINE_OPTIONS.stuckUs / 1000;
  if (raw.stuckTimeout !== undefined) {
    const form = 'expected seconds a copier may stay over its buffer bound without reading before it is closed, e.g. 10';
    if (!/^\s*[0-9]+(\.[0-9]+)?\s*$/.test(raw.stuckTimeout)) throw new ConfigError('--stuck-timeout', raw.stuckTimeout, form);
    stuckTimeoutMs = Math.round(Number(raw.stuckTimeout) * 1000);
    if (stuckTimeoutMs < 100 || stuckTimeoutMs > 3_600_000) throw new ConfigError('--stuck-timeout', raw.stuckTimeout, form);
  }
  const config: InterceptConfig = {
    port: raw.port === undefined ? DEFAULT_CHANNEL_PORT : intIn(raw.port, '-p', 1, 65535, 'expected a TCP port, 1..65535 (default 36524)'),
    bind,
    passList: raw.pass === undefined ? [] : parsePassList(raw.pass),
    maxFrameRecords,
    queueMaxLen: raw.queueLen === undefined ? null : intIn(raw.queueLen, '-q', 1, 0xffffffff, 'expected a queue length, e.g. 65536'),
    hashSize: raw.hashSize === undefined ? null : intIn(raw.hashSize, '-s', 1, 0xffffffff, 'expected a positive table size, e.g. 65536'),
    protect: raw.protect === true,
    docker: raw.docker === undefined ? null : parseDockerMap(raw.docker),
    logFile: raw.log === undefined ? null : nonEmpty(raw.log, '-l', 'expected a log file path'),
    pidFile: raw.pidFile === undefined ? null : nonEmpty(raw.pidFile, '-P', 'expected a PID file path'),
    daemon: raw.daemon === true,
    queueNum: raw.queueNum === undefined ? 0 : intIn(raw.queueNum, '--queue-num', 0, 65535, 'expected an NFQUEUE number, 0..65535 (default 0)'),
    withPayload,
    forwardPayload: raw.forwardPayload === undefined ? 0 : parseForwardPayload(raw.forwardPayload),
    allow: raw.allow === undefined ? [] : parseAllowList(raw.allow),
    statsIntervalMs,
    logLevel,
    installRulePorts: raw.installRule === undefined ? [] : parsePortList(raw.installRule),
    connBufferBytes: raw.connBuffer === undefined ? DEFAULT_ENGINE_OPTIONS.connBufferBytes : parseBytes(raw.connBuffer, '--conn-buffer', 4096),
    stuckTimeoutMs,
  };
  if (config.installRulePorts.includes(config.port)) {
    throw new ConfigError('--install-rule', raw.installRule ?? '', `must not include the channel port (-p ${config.port}): the channel itself must never be queued`);
  }
  return { config, warnings };
}

/** Largest payload an IPv4 packet can carry: `all` means this. */
export const MAX_FORWARD_PAYLOAD = 65535;

/** `--forward-payload n|all` */
export function parseForwardPayload(value: string, flag = '--forward-payload'): number {
  if (value.trim().toLowerCase() === 'all') return MAX_FORWARD_PAYLOAD;
  return intIn(value, flag, 1, MAX_FORWARD_PAYLOAD, 'expected payload bytes per response packet, 1..65535, or all');
}

/** Largest NFQUEUE copy range the kernel takes (the netlink message must fit 65535 bytes). */
const MAX_COPY_RANGE = 65531;

/** NFQUEUE copy range: the largest IP + TCP headers (60 + 60) plus the payload forwarded. */
export function copyRangeFor(c: InterceptConfig): number {
  if (c.forwardPayload > 0) return Math.min(MAX_COPY_RANGE, 120 + c.forwardPayload);
  return c.withPayload ? 192 : 64;
}

function nonEmpty(value: string, flag: string, form: string): string {
  if (value.trim() === '') throw new ConfigError(flag, value, form);
  return value;
}

/** Engine settings from the parsed command line. */
export function engineOptionsFrom(c: InterceptConfig): EngineOptions {
  return {
    ...DEFAULT_ENGINE_OPTIONS,
    passList: c.passList,
    docker: c.docker,
    withPayload: c.withPayload,
    maxFrameRecords: c.maxFrameRecords,
    protect: c.protect,
    allow: c.allow,
    connBufferBytes: c.connBufferBytes,
    stuckUs: c.stuckTimeoutMs * 1000,
    payloadForward: c.forwardPayload,
  };
}
