/** An IPv4 network for `--allow`: address & mask === net. */
export interface Cidr {
  net: number;
  mask: number;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & c.mask) >>> 0) === c.net;
}

/** Engine settings; the app fills them from the parsed command line (core/config/intercept.ts). */
export interface EngineOptions {
  /** `-x`: destinations whose packets get ACCEPT and are not forwarded. */
  passList: readonly number[];
  /** `-D a-b`: a response to `from` is recorded as going to `to`. */
  docker: { from: number; to: number } | null;
  /** `--with-payload`: 192-byte records. */
  withPayload: boolean;
  /** Records per frame (`-n`, at most 16, 6 with payload). */
  maxFrameRecords: number;
  /** `-c`: refuse a second copier while one is connected. */
  protect: boolean;
  /** `--allow`: copier addresses allowed to connect; empty = everyone. */
  allow: readonly Cidr[];
  /** Bytes a copier connection may have queued (socket backlog + frame being built). */
  connBufferBytes: number;
  /** A copier over its bound this long without draining is closed ("sends and never reads"). */
  stuckUs: number;
  /** Longest a record waits in a frame while responses keep coming in the same burst. */
  holdUs: number;
  delayLifetimeUs: number;
  delayMaxRecords: number;
  routeIdleUs: number;
  maxRoutes: number;
  /** Connections opened this close to the first one are one copier (its -C parallel links). */
  groupWindowUs: number;
  maxConnections: number;
  /**
   * A connection that has not sent its whole hello this long after connecting is closed: a
   * half-open peer, a port scan or a stalled short hello must not hold a connection slot (and
   * keep responses in the delay table, waiting for it) forever. Stock copiers send the hello
   * immediately.
   */
  helloTimeoutUs: number;
  /**
   * `--forward-payload`: payload bytes per response packet that can be forwarded to copiers
   * asking with the extension (the NFQUEUE copy range is widened to match); 0 = none.
   */
  payloadForward: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  passList: [],
  docker: null,
  withPayload: false,
  maxFrameRecords: 16,
  protect: false,
  allow: [],
  connBufferBytes: 4 * 1024 * 1024,
  stuckUs: 10_000_000,
  holdUs: 500,
  delayLifetimeUs: 30_000_000,
  delayMaxRecords: 65536,
  routeIdleUs: 300_000_000,
  maxRoutes: 1 << 20,
  groupWindowUs: 3_000_000,
  maxConnections: 256,
  helloTimeoutUs: 10_000_000,
  payloadForward: 0,
};
