/**
 * The offline replay's progress line (shown on a TTY): a bar over the bytes of the capture file
 * read, elapsed time, ETA and live counters. Pure text: the app owns the clock and the terminal.
 *
 *   [########............]  40%  4.0/10.0 MB  run 1/2  0:12 elapsed  ETA 0:30  active 12  done 340
 *
 * With -T runs, progress and ETA cover all runs (each run reads the whole file again).
 */
export interface ProgressInput {
  bytesRead: number;
  /** File size; 0 when unknown (then no bar and no ETA). */
  totalBytes: number;
  elapsedUs: number;
  /** 0-based run index and the number of runs (-T). */
  loop?: number;
  loops?: number;
  /** Shown in order after the times, as "label value". */
  counters?: readonly (readonly [string, number])[];
}

/** Remaining µs, by the share of bytes read so far; null when it cannot be estimated yet. */
export function estimateEtaUs(p: ProgressInput): number | null {
  const loops = Math.max(1, p.loops ?? 1);
  const total = p.totalBytes * loops;
  const done = p.totalBytes * Math.min(p.loop ?? 0, loops - 1) + Math.min(p.bytesRead, p.totalBytes);
  if (p.totalBytes <= 0 || done <= 0 || p.elapsedUs <= 0) return null;
  if (done >= total) return 0;
  return Math.round((p.elapsedUs * (total - done)) / done);
}

/** 0..1 over all runs, or null when the size is unknown. */
export function progressFraction(p: ProgressInput): number | null {
  if (p.totalBytes <= 0) return null;
  const loops = Math.max(1, p.loops ?? 1);
  const done = p.totalBytes * Math.min(p.loop ?? 0, loops - 1) + Math.min(p.bytesRead, p.totalBytes);
  return Math.min(1, done / (p.totalBytes * loops));
}

/** "0:07", "12:05", "1:02:03" (h:mm:ss once an hour is reached). */
export function formatDuration(us: number): string {
  const s = Math.max(0, Math.floor(us / 1e6));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Bytes with one decimal in a unit chosen from the total, e.g. "4.0/10.0 MB". */
export function formatBytesPair(done: number, total: number): string {
  const units: [string, number][] = [['GB', 1e9], ['MB', 1e6], ['kB', 1e3]];
  const ref = Math.max(total, done);
  const [unit, div] = units.find(([, d]) => ref >= d) ?? ['B', 1];
  const f = (n: number): string => (div === 1 ? String(n) : (n / div).toFixed(1));
  return total > 0 ? `${f(done)}/${f(total)} ${unit}` : `${f(done)} ${unit}`;
}

/** One line, cut to `width` columns (a terminal line must not wrap, or \r redraws break). */
export function formatProgress(p: ProgressInput, width = 100, barWidth = 20): string {
  const parts: string[] = [];
  const frac = progressFraction(p);
  if (frac !== null) {
    const filled = Math.floor(frac * barWidth);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}%`);
  }
  parts.push(formatBytesPair(p.bytesRead, p.totalBytes));
  const loops = p.loops ?? 1;
  if (loops > 1) parts.push(`run ${(p.loop ?? 0) + 1}/${loops}`);
  parts.push(`${formatDuration(p.elapsedUs)} elapsed`);
  const eta = estimateEtaUs(p);
  parts.push(eta === null ? 'ETA --:--' : `ETA ${formatDuration(eta)}`);
  for (const [label, value] of p.counters ?? []) parts.push(`${label} ${value}`);
  const line = parts.join('  ');
  return line.length > width ? line.slice(0, Math.max(0, width - 1)) + '…' : line;
}
