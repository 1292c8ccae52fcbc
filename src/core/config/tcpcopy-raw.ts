import type { LoadRawOptions } from './load.js';
import type { ReportRawOptions } from './report.js';

/** What commander collects (strings for values, booleans for switches). */
export interface TcpcopyRawOptions extends LoadRawOptions, ReportRawOptions {
  transfer?: string;
  intercept?: string;
  pcap?: string;
  filter?: string;
  buffer?: string;
  snaplen?: string;
  accelerate?: string;
  interval?: string;
  times?: string;
  rate?: boolean;
  maxOpening?: string;
  clientIp?: string;
  /** --clients: tcpburn's name for -c. */
  clients?: string;
  localhost?: string;
  replicas?: string;
  portShift?: string;
  memory?: string;
  connections?: string;
  port?: string;
  percentage?: string;
  mtu?: string;
  mss?: string;
  poolSize?: string;
  rtt?: string;
  timeout?: string;
  keepalive?: string;
  log?: string;
  pidFile?: string;
  lonely?: boolean;
  /** commander's negatable `--no-wait` (-W): false when given. */
  wait?: boolean;
  onlySyn?: boolean;
  gradual?: boolean;
  daemon?: boolean;
  quiet?: boolean;
  logLevel?: string;
  statsInterval?: string;
  seed?: string;
  endGrace?: string;
  nice?: string;
  withPayload?: boolean;
  rawBackend?: string;
  captureBackend?: string;
  captureLatency?: string;
  record?: string;
  recordRotate?: string;
  recordFiles?: string;
  recordResponses?: boolean;
  task?: string;
  share?: string;
}
