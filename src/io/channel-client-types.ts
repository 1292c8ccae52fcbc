import { DEFAULT_CHANNEL_PORT } from '../core/wire/index.js';
import type { Buffer } from 'node:buffer';

/** The copier channel's options, events and counters (the client is in channel-client.ts). */

export interface InterceptorEndpoint {
  /** IPv4 as u32 (the config parser's form). */
  ip: number;
  port: number;
}

export interface ChannelClientOptions {
  interceptors: readonly InterceptorEndpoint[];
  /** -C: connections per interceptor, 1..11. Default 2. */
  connections?: number;
  /** -L: keep going (and reconnecting) with no interceptor. */
  lonely?: boolean;
  /** Each response record: buf[off .. off+recordSize). `interceptor` is the index in `interceptors`. */
  onRecord: (buf: Buffer, off: number, interceptor: number) => void;
  /** 64, or 192 for the payload variant. */
  recordSize?: number;
  /** Largest frame count accepted (16; 6 in the payload variant). */
  maxFrameRecords?: number;
  /** false for --disable-combined peers (bare records). */
  combined?: boolean;
  /**
   * Ask every interceptor for response payloads with the channel extension
   * (docs/wire-extension.md): `payloadBytes` per response packet (0xffffffff = all). Records that
   * come with payload go to `onRecordPayload` instead of `onRecord` (the record first, then
   * `payLen` payload bytes at `payOff`; views valid only during the call). Absent: stock channel.
   */
  extension?: {
    payloadBytes: number;
    onRecordPayload: (buf: Buffer, off: number, payOff: number, payLen: number, interceptor: number) => void;
  };
  /** Give up a connect attempt after this long. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** First reconnect delay; doubles per failure up to reconnectMaxMs. Default 100 ms. */
  reconnectMinMs?: number;
  /** Default 12 000 ms (stock -L retries every 12 s). */
  reconnectMaxMs?: number;
}

export interface ConnectionInfo {
  interceptor: number;
  /** 0-based index among the interceptor's connections. */
  conn: number;
  /** "ip:port" of the interceptor. */
  address: string;
}

export interface ChannelClientEvents {
  connected: [ConnectionInfo];
  /** An open connection ended (EOF, error, bad frame, close()). */
  disconnected: [ConnectionInfo, string];
  /** A connect attempt failed; a retry follows after `retryMs` (-1: no retry). */
  connectFailed: [ConnectionInfo, string, number];
  /** A frame count above the limit arrived; the connection is being closed. */
  badFrame: [ConnectionInfo, number];
  /** First connection of an interceptor is up / its last one went down. */
  interceptorUp: [number, string];
  interceptorDown: [number, string];
  /** No interceptor is connected and not lonely: the client has stopped. */
  allDown: [];
  /** An interceptor answered the extension request: payload bytes per packet it grants. */
  extension: [ConnectionInfo, number];
}

export interface ChannelClientStats {
  connectsOk: number;
  connectsFailed: number;
  disconnects: number;
  badFrames: number;
  frames: number;
  records: number;
  bytesIn: number;
  /** Socket reads ('data' events): each is an event-loop wake-up of its own at low rates. */
  reads: number;
  clientAddSent: number;
  /** sendClientAdd calls that reached no interceptor. */
  clientAddFailed: number;
}

/** No interceptor could be reached at start (and not lonely). */
export class ChannelConnectError extends Error {
  constructor(readonly failures: { address: string; reason: string }[]) {
    const ports = [...new Set(failures.map((f) => f.address.slice(f.address.lastIndexOf(':') + 1)))].join(', ');
    super(
      `no interceptor reachable: ${failures.map((f) => `${f.address} (${f.reason})`).join('; ')}. ` +
        `Check that intercept is running on that host, that it listens on the port given here ` +
        `(-s ip:port or -p; intercept's -p, default ${DEFAULT_CHANNEL_PORT}; tried ${ports}), and that no firewall ` +
        `or route blocks TCP from this host to it. Use -L to start without an interceptor.`,
    );
    this.name = 'ChannelConnectError';
  }
}
