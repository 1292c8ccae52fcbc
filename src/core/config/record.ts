import { ConfigError } from './errors.js';

/** --record-rotate: start a new file once the current one holds this many bytes, or is this old. */
export type RotateSpec = { kind: 'size'; bytes: number } | { kind: 'time'; ms: number };

const SIZE_UNITS: Record<string, number> = { b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1048576, g: 1e9, gb: 1e9, gib: 1073741824 };
const TIME_UNITS: Record<string, number> = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };
/** Below this a file would hold barely a few packets; above, a single file is a bad idea anyway. */
const MIN_SIZE = 4096;
const MAX_SIZE = 1024 * 1073741824;
const MIN_MS = 1000;
const MAX_MS = 7 * 86_400_000;

const FORM = 'expected a size such as 500MiB, 1GiB, 64kB or a duration such as 30s, 10m, 1h';

/** Parses `500MiB`, `1GiB`, `10m`, `1h`, ... (a number and a unit; no unit is an error: ambiguous). */
export function parseRotate(value: string, flag = '--record-rotate'): RotateSpec {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(value);
  if (m === null) throw new ConfigError(flag, value, FORM);
  const n = Number(m[1]);
  const unit = (m[2] as string).toLowerCase();
  // `m` is minutes (a size in megabytes is spelled MB or MiB).
  const ms = TIME_UNITS[unit];
  if (ms !== undefined) {
    const total = Math.round(n * ms);
    if (total < MIN_MS || total > MAX_MS) throw new ConfigError(flag, value, 'expected a duration from 1s to 7d');
    return { kind: 'time', ms: total };
  }
  const mult = SIZE_UNITS[unit];
  if (mult === undefined) throw new ConfigError(flag, value, FORM);
  const bytes = Math.round(n * mult);
  if (bytes < MIN_SIZE || bytes > MAX_SIZE) throw new ConfigError(flag, value, 'expected a size from 4KiB to 1024GiB');
  return { kind: 'size', bytes };
}

/** --record-files: how many recording files are kept (the oldest are deleted). */
export function parseRecordFiles(value: string, flag = '--record-files'): number {
  if (!/^\s*\d+\s*$/.test(value)) throw new ConfigError(flag, value, 'expected the number of files to keep, 1..100000');
  const n = Number(value);
  if (n < 1 || n > 100000) throw new ConfigError(flag, value, 'expected the number of files to keep, 1..100000');
  return n;
}
