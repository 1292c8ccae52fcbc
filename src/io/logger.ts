import { closeSync, openSync, writeSync } from 'node:fs';
import type { LogLevel } from '../core/log-level.js';

// Re-exported for importers not yet moved to core/log-level.ts (app/tcpcopy.ts).

/**
 * Small levelled logger shared by both daemons.
 *
 * - To stderr by default. Under systemd (JOURNAL_STREAM set) each line carries the kernel-style
 *   `<N>` priority prefix and no timestamp, so journald records the level and its own time.
 * - `-l FILE` appends to FILE with ISO timestamps; `reopen()` (on SIGHUP) reopens it so logrotate
 *   can move the old file away.
 * - Writes are synchronous: lines are rare (never per packet) and must survive a crash.
 * - `enabled('debug')` lets callers skip building debug strings when debug is off.
 */
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const SYSLOG_PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export interface LoggerOptions {
  /** Program name in each line, e.g. "intercept". */
  name: string;
  level: LogLevel;
  /** Log file (appended); null = stderr. */
  file: string | null;
  /** Force (true) or suppress (false) journald prefixes on stderr; default: JOURNAL_STREAM set. */
  journald?: boolean;
}

export class Logger {
  private fd: number;
  private level: number;
  private readonly journald: boolean;

  constructor(private readonly opts: LoggerOptions) {
    this.level = RANK[opts.level];
    this.journald = opts.file === null && (opts.journald ?? process.env.JOURNAL_STREAM !== undefined);
    this.fd = opts.file === null ? 2 : openSync(opts.file, 'a');
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= this.level;
  }

  setLevel(level: LogLevel): void {
    this.level = RANK[level];
  }

  log(level: LogLevel, message: string): void {
    if (RANK[level] > this.level) return;
    const line = this.journald
      ? `<${SYSLOG_PRIORITY[level]}>${message}\n`
      : `${new Date().toISOString()} ${this.opts.name}[${process.pid}] ${level.toUpperCase()} ${message}\n`;
    try {
      writeSync(this.fd, line);
    } catch {
      // A full disk or a closed stderr must not take the daemon down.
    }
  }

  error(message: string): void {
    this.log('error', message);
  }
  warn(message: string): void {
    this.log('warn', message);
  }
  info(message: string): void {
    this.log('info', message);
  }
  debug(message: string): void {
    this.log('debug', message);
  }

  /** Reopens the log file (SIGHUP after logrotate). A no-op on stderr. */
  reopen(): void {
    if (this.opts.file === null) return;
    let fd: number;
    try {
      fd = openSync(this.opts.file, 'a');
    } catch (err) {
      this.error(`cannot reopen log file ${this.opts.file}: ${(err as Error).message}; still writing to the old one`);
      return;
    }
    const old = this.fd;
    this.fd = fd;
    try {
      closeSync(old);
    } catch {
      // already closed
    }
  }

  close(): void {
    if (this.opts.file === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = 2;
  }
}
