/** Log levels of both programs, most severe first; defined once for core, io and the CLIs. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** A --log-level value (any case, surrounding spaces ignored), or null if it names no level. */
export function toLogLevel(value: string): LogLevel | null {
  const v = value.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : null;
}
