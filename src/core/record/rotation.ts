/**
 * Names and rotation of recording files (pure: the recorder supplies the clock, sizes and the
 * directory listing). Files are `<base>-<NNNNNN>.pcapng` beside PATH, where `<base>` is PATH
 * without a `.pcapng`/`.pcap` extension and NNNNNN a sequence number that continues after the
 * highest one already there (a restart never overwrites an earlier recording). Sorting the
 * names sorts them by age.
 */
import type { RotateSpec } from '../config/record.js';

const SEQ_DIGITS = 6;

export interface RecordName {
  dir: string;
  /** File-name prefix, up to and including the '-' before the sequence number. */
  prefix: string;
}

/** Splits PATH into its directory and the prefix of its files. */
export function recordName(path: string): RecordName {
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '.' : slash === 0 ? '/' : path.slice(0, slash);
  const file = slash < 0 ? path : path.slice(slash + 1);
  const base = file.replace(/\.(pcapng|pcap)$/i, '');
  return { dir, prefix: `${base}-` };
}

/** The sequence number of a recording file name, or -1 when the name is not one. */
export function sequenceOf(name: RecordName, file: string): number {
  if (!file.startsWith(name.prefix) || !file.endsWith('.pcapng')) return -1;
  const mid = file.slice(name.prefix.length, file.length - '.pcapng'.length);
  return /^\d{6,}$/.test(mid) ? Number(mid) : -1;
}

export function fileNameFor(name: RecordName, seq: number): string {
  return `${name.prefix}${String(seq).padStart(SEQ_DIGITS, '0')}.pcapng`;
}

/**
 * Which files to keep: when rotating, the recorder asks the policy for the next name and which
 * existing files (oldest first) must go so that at most `keep` remain including the new one.
 */
export class RotationPolicy {
  private nextSeq: number;
  /** Sequence numbers of the files of this recording on disk, ascending. */
  private readonly onDisk: number[];

  constructor(
    readonly name: RecordName,
    readonly rotate: RotateSpec | null,
    readonly keep: number,
    existing: readonly string[],
  ) {
    this.onDisk = existing.map((f) => sequenceOf(name, f)).filter((s) => s >= 0).sort((a, b) => a - b);
    this.nextSeq = this.onDisk.length === 0 ? 1 : (this.onDisk[this.onDisk.length - 1] as number) + 1;
  }

  /** A file holding `bytes` (header blocks included) opened at `openedMs` is due for rotation before `nextBlock` more bytes at `nowMs`. */
  due(bytes: number, packets: number, nextBlock: number, openedMs: number, nowMs: number): boolean {
    const r = this.rotate;
    // A file holds at least one packet, whatever the limit.
    if (r === null || packets === 0) return false;
    return r.kind === 'size' ? bytes + nextBlock > r.bytes : nowMs - openedMs >= r.ms;
  }

  /** The next file: its name, and the files to delete (oldest first) to stay within `keep`. */
  next(): { file: string; remove: string[] } {
    const seq = this.nextSeq++;
    this.onDisk.push(seq);
    const remove: string[] = [];
    while (this.onDisk.length > this.keep) remove.push(fileNameFor(this.name, this.onDisk.shift() as number));
    return { file: fileNameFor(this.name, seq), remove };
  }
}
