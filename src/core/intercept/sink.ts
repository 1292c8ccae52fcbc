import type { Buffer } from 'node:buffer';
import type { LogLevel } from '../log-level.js';

/** NFQUEUE verdicts, numerically equal to the kernel's NF_DROP / NF_ACCEPT. */
export const VERDICT_DROP = 0;
export const VERDICT_ACCEPT = 1;
export type Verdict = typeof VERDICT_DROP | typeof VERDICT_ACCEPT;

/** Effects of the engine, applied by the app (sockets, logger). */
export interface InterceptSink {
  /**
   * Sends a frame to a copier; returns the bytes now queued on that connection. `done` must be
   * called exactly once when the frame's bytes are no longer needed (the write completed or
   * failed, or the connection is gone): the frame's buffer is reused after that.
   */
  write(conn: number, frame: Buffer, done: () => void): number;
  /** Closes a copier connection the engine gave up on (the engine has already forgotten it). */
  close(conn: number, reason: string): void;
  log(level: LogLevel, message: string): void;
}
