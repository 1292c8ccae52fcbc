import type { Outcome } from './types.js';

/**
 * Engine counters as plain numbers (DESIGN: stats are counters with a snapshot). The app logs
 * snapshot() periodically; gauges (active sessions, buffered bytes) are filled in by the engine.
 */
export class EngineStats {
  // Captured side.
  captured = 0;
  capturedInvalid = 0;
  capturedNoTransfer = 0;
  capturedLocalhostSkipped = 0;
  capturedSyn = 0;
  capturedSynRetransmits = 0;
  capturedPureAcks = 0;
  capturedForUnknown = 0;
  clientRetransmitsSkipped = 0;
  captureGaps = 0;
  /** Connections whose captured checksums were wrong (offload): their payloads are re-summed. */
  capturedBadChecksumConns = 0;
  sampledOutPackets = 0;
  skippedNoSynPackets = 0;
  // Sessions.
  sessionsStarted = 0;
  sessionsFromSyn = 0;
  /** Sessions started with a fake handshake because their SYN was not captured. */
  sessionsWithoutSyn = 0;
  connectionsEstablished = 0;
  portReassigned = 0;
  /** Sessions started to continue a connection the target closed early. */
  reconnects = 0;
  // Sent to the target.
  packetsSent = 0;
  dataPacketsSent = 0;
  payloadBytesSent = 0;
  synsSent = 0;
  synRetransmits = 0;
  /** SYN-ACKs the target sent again: our handshake ACK was lost (or dropped by a full accept queue). */
  synAckRepeats = 0;
  /** Opening sessions the target answered (see openingSessions). */
  openingAnswered = 0;
  finsSent = 0;
  rstsSent = 0;
  acksSent = 0;
  retransmits = 0;
  fastRetransmits = 0;
  persistProbes = 0;
  // Responses (interceptor records).
  responses = 0;
  responsesWithData = 0;
  responseBytes = 0;
  responsesUnmatched = 0;
  responsesMalformed = 0;
  responseFins = 0;
  responseRsts = 0;
  staleResponsesReset = 0;
  // Pacing.
  turns = 0;
  quietReleases = 0;
  responseWaitsExpired = 0;
  thinkHolds = 0;
  // Memory.
  bufferDrops = 0;
  // Outcomes (one per session or never-started connection).
  outcomeCompleted = 0;
  outcomeResetByTarget = 0;
  outcomeResetAsCaptured = 0;
  outcomeReconnected = 0;
  outcomeTimeoutSynAck = 0;
  outcomeTimeoutResponse = 0;
  outcomeTimeoutAck = 0;
  outcomeIdleTimeout = 0;
  outcomeCaptureGap = 0;
  outcomeBufferOverflow = 0;
  outcomeSampledOut = 0;
  outcomePortExhausted = 0;
  outcomeNoInterceptor = 0;
  // Gauges.
  activeSessions = 0;
  /** Sessions whose handshake, or first request, the target has not answered yet (see lifecycle.ts openSession). */
  openingSessions = 0;
  /** Sessions past the handshake and not finished, and the most there were at once. */
  establishedSessions = 0;
  establishedPeak = 0;
  lingeringSessions = 0;
  timeWaitTuples = 0;
  bufferedBytes = 0;

  countOutcome(o: Outcome): void {
    switch (o) {
      case 'completed': this.outcomeCompleted++; break;
      case 'reset-by-target': this.outcomeResetByTarget++; break;
      case 'reset-as-captured': this.outcomeResetAsCaptured++; break;
      case 'reconnected': this.outcomeReconnected++; break;
      case 'timeout-synack': this.outcomeTimeoutSynAck++; break;
      case 'timeout-response': this.outcomeTimeoutResponse++; break;
      case 'timeout-ack': this.outcomeTimeoutAck++; break;
      case 'idle-timeout': this.outcomeIdleTimeout++; break;
      case 'capture-gap': this.outcomeCaptureGap++; break;
      case 'buffer-overflow': this.outcomeBufferOverflow++; break;
      case 'sampled-out': this.outcomeSampledOut++; break;
      case 'port-exhausted': this.outcomePortExhausted++; break;
      case 'no-interceptor': this.outcomeNoInterceptor++; break;
    }
  }

  /** How many sessions ended with outcome `o`. */
  outcomeCount(o: Outcome): number {
    switch (o) {
      case 'completed': return this.outcomeCompleted;
      case 'reset-by-target': return this.outcomeResetByTarget;
      case 'reset-as-captured': return this.outcomeResetAsCaptured;
      case 'reconnected': return this.outcomeReconnected;
      case 'timeout-synack': return this.outcomeTimeoutSynAck;
      case 'timeout-response': return this.outcomeTimeoutResponse;
      case 'timeout-ack': return this.outcomeTimeoutAck;
      case 'idle-timeout': return this.outcomeIdleTimeout;
      case 'capture-gap': return this.outcomeCaptureGap;
      case 'buffer-overflow': return this.outcomeBufferOverflow;
      case 'sampled-out': return this.outcomeSampledOut;
      case 'port-exhausted': return this.outcomePortExhausted;
      case 'no-interceptor': return this.outcomeNoInterceptor;
    }
  }

  /** A copy of every counter, for logging and metrics. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this)) if (typeof v === 'number') out[k] = v;
    return out;
  }
}
