import type { Buffer } from 'node:buffer';
import type { Transfer } from '../transfer.js';

/**
 * How a session ended. Every session the engine creates — and every captured connection it
 * decides not to replay — gets exactly one outcome via EngineSink.sessionClosed.
 */
export type Outcome =
  /** Both directions closed as captured (or the target reset after everything was delivered). */
  | 'completed'
  /** The target sent RST (or refused the SYN) while captured data or the close was pending. */
  | 'reset-by-target'
  /** The captured client reset the connection; the RST was replayed. */
  | 'reset-as-captured'
  /** No SYN-ACK after all SYN retransmissions (or -t). */
  | 'timeout-synack'
  /** The target stayed silent for -t while a request waited for its response. */
  | 'timeout-response'
  /** The target closed while captured requests remained; they continue in a new session
   *  (fake handshake, new port) that gets its own outcome. */
  | 'reconnected'
  /** Sent data was never acknowledged (retransmissions exhausted, or -t). */
  | 'timeout-ack'
  /** Nothing left to send and no traffic for -k (capture ended without a close). */
  | 'idle-timeout'
  /** Captured bytes missing (capture gap never filled): the target could never get them. */
  | 'capture-gap'
  /** Buffered bytes exceeded the per-session or total cap (-U / -m). */
  | 'buffer-overflow'
  /** Never started: not selected by -r / -g. */
  | 'sampled-out'
  /** Never started: no free client port for (client address, target). */
  | 'port-exhausted'
  /** Never started: no interceptor to learn responses from (and not -L). */
  | 'no-interceptor';

export const OUTCOMES: readonly Outcome[] = [
  'completed',
  'reset-by-target',
  'reset-as-captured',
  'reconnected',
  'timeout-synack',
  'timeout-response',
  'timeout-ack',
  'idle-timeout',
  'capture-gap',
  'buffer-overflow',
  'sampled-out',
  'port-exhausted',
  'no-interceptor',
];

/** What the engine reports about a session (the Session object itself implements this). */
export interface SessionInfo {
  readonly id: number;
  /** Captured (online) client and server addresses. */
  readonly onlineClientIp: number;
  readonly onlineClientPort: number;
  readonly onlineServerIp: number;
  readonly onlineServerPort: number;
  /** Rewritten client address as the target sees it (0 when never started). */
  readonly clientIp: number;
  readonly clientPort: number;
  readonly targetIp: number;
  readonly targetPort: number;
  /** 0 for the original, 1..n-1 for -n copies. */
  readonly replica: number;
  /** False for sessions started with a fake handshake (no SYN captured). */
  readonly fromSyn: boolean;
  readonly startUs: number;
  readonly endUs: number;
  /** Client payload bytes the target acknowledged. */
  readonly bytesDelivered: number;
  /** Response payload bytes seen from the target. */
  readonly responseBytes: number;
  /** Requests sent that had to wait for a response (turns). */
  readonly turns: number;
  /** Turns released by the bounded wait because the response never completed. */
  readonly responseWaitsExpired: number;
  readonly retransmits: number;
  /** Our initial sequence number towards the target (0 when never started). */
  readonly iss: number;
}

/**
 * Effects of the engine. Calls happen synchronously inside onCaptured/onResponse/onTimer.
 * `send`'s buffer is engine scratch memory: valid only during the call (copy or write it out).
 */
export interface EngineSink {
  /**
   * Send one IPv4 packet (header at buf[0]) of `len` bytes to the target `dstIp` (u32, the
   * session's target address, so the sink never parses it back out of the bytes).
   */
  send(buf: Buffer, len: number, dstIp: number): void;
  /**
   * Tell the interceptors that responses to clientIp:clientPort from targetIp:targetPort are
   * ours (CLIENT_ADD), before each SYN / fake SYN. Return false when no interceptor could be
   * told: the SYN is then not sent and the session ends as 'no-interceptor' (unless lonely).
   */
  routeAdd(clientIp: number, clientPort: number, targetIp: number, targetPort: number): boolean;
  /** The session's tuple is no longer ours (after its linger period). */
  routeDel(clientIp: number, clientPort: number, targetIp: number, targetPort: number): void;
  /**
   * A session was created (its SYN or fake SYN goes next): the replay report maps its tuple to
   * the captured connection. Optional; one call per session.
   */
  sessionStarted?(info: SessionInfo): void;
  /** One call per session or never-started connection. `info` may be reused after the call. */
  sessionClosed(info: SessionInfo, outcome: Outcome): void;
  /** Rare events worth a log line (drops, exhaustion). Optional. */
  log?(message: string): void;
}

/** Engine settings (all times in µs, sizes in bytes). Build with defaultEngineConfig(). */
export interface EngineConfig {
  transfers: Transfer[];
  /** -c pool (empty = keep the client address). */
  clientPool: number[];
  /** -H: replacement for a 127.0.0.1 source (0 = off). */
  localAddress: number;
  /** -n: sessions per captured connection (1 = no copies). */
  replicas: number;
  /**
   * --mirror: a captured connection goes to every -x entry with the same online address and port
   * (one session each), not only the first one.
   */
  mirror: boolean;
  /** -f port-shift factor (0 = off). */
  portShift: number;
  /** -r percentage 1..100. */
  samplePercent: number;
  /** -g: percentage ramps up by one per second since the first packet. */
  gradual: boolean;
  /** -O: only replay connections whose SYN was captured. */
  onlyFromSyn: boolean;
  /** -W: never wait for responses. */
  noWait: boolean;
  /** -L: keep starting sessions while no interceptor is connected. */
  lonely: boolean;
  /** -M */
  mtu: number;
  /** -D: MSS of fake SYNs, and the clamp for captured SYNs. */
  mss: number;
  /** -R as µs (0 = measure). */
  fixedRttUs: number;
  /** -t: a session whose target is silent this long while it has work pending ends. */
  sessionTimeoutUs: number;
  /** -k: same, when nothing is pending. */
  keepaliveTimeoutUs: number;
  /** -a: think-time gaps are divided by this; response waits are not. */
  acceleration: number;
  /**
   * --comet (load mode): the captured client close is not replayed, so when the target closes
   * and everything captured so far was sent, close our side too (FIN) and end 'completed'.
   */
  closeWithTarget: boolean;
  /**
   * The handshake's third ACK rides on the first data segment when that segment goes within
   * delayedAckUs of the SYN-ACK (a bare ACK is sent then otherwise, e.g. server-first
   * protocols): one packet fewer through the target's receive path per connection, which bounds
   * the establishment rate and is most of the copier's own kernel time. tcpcopy sets it in every
   * mode; the engine's default (false) sends the ACK at once, as stock tcpcopy does.
   */
  mergeHandshakeAck: boolean;
  /** Keep captured think time after each response (scaled by -a). */
  preserveThinkTime: boolean;
  /** Quiet period that ends a response smaller than the capture said (at least 4 × srtt). */
  responseQuietUs: number;
  /** Longest wait for a response that never starts before the next request goes anyway. */
  responseWaitMaxUs: number;
  /** Target TIME_WAIT (2 × MSL) during which the allocator won't reuse a tuple. */
  timeWaitUs: number;
  /** How long a closed session still answers stray target packets and keeps its tuple. */
  lingerUs: number;
  /** Delayed ACK for response data that is not yet worth an immediate ACK. */
  delayedAckUs: number;
  initialRtoUs: number;
  minRtoUs: number;
  maxRtoUs: number;
  synRetries: number;
  dataRetries: number;
  /** A capture gap not filled within this ends the session ('capture-gap'). */
  captureGapUs: number;
  /** -U: per-session buffered-bytes cap. */
  sessionBufferCap: number;
  /** -m: total buffered-bytes cap. */
  totalBufferCap: number;
  /** 'incremental': derive payload sums from the captured TCP checksum (O(header) per packet),
   *  after checking once per connection that the capture's checksums are valid (captures of
   *  locally sent packets carry offload placeholders; such connections are re-summed);
   *  'full': re-sum every payload. */
  checksum: 'incremental' | 'full';
  /** Seed of every pseudo-random choice (sampling, port-shift R, IP IDs). */
  seed: number;
}

export function defaultEngineConfig(transfers: Transfer[], overrides: Partial<EngineConfig> = {}): EngineConfig {
  return {
    transfers,
    clientPool: [],
    localAddress: 0,
    replicas: 1,
    mirror: false,
    portShift: 0,
    samplePercent: 100,
    gradual: false,
    onlyFromSyn: false,
    noWait: false,
    lonely: false,
    mtu: 1500,
    mss: 1460,
    fixedRttUs: 0,
    sessionTimeoutUs: 600_000_000,
    keepaliveTimeoutUs: 720_000_000,
    acceleration: 1,
    closeWithTarget: false,
    mergeHandshakeAck: false,
    preserveThinkTime: true,
    responseQuietUs: 50_000,
    responseWaitMaxUs: 3_000_000,
    timeWaitUs: 60_000_000,
    lingerUs: 6_000_000,
    delayedAckUs: 1_000,
    initialRtoUs: 1_000_000,
    minRtoUs: 200_000,
    maxRtoUs: 60_000_000,
    synRetries: 6,
    dataRetries: 10,
    captureGapUs: 5_000_000,
    sessionBufferCap: 16 * 1024 * 1024,
    totalBufferCap: 2048 * 1024 * 1024,
    checksum: 'incremental',
    seed: 1,
    ...overrides,
  };
}
