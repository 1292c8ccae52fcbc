import { Buffer } from 'node:buffer';
import { closeSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RotateSpec } from '../core/config/record.js';
import { PcapngEncoder } from '../core/capture/pcapng-writer.js';
import { recordName, RotationPolicy } from '../core/record/rotation.js';

/** The file operations the recorder needs (node:fs; a fake in unit tests). */
export interface RecordFs {
  list(dir: string): string[];
  open(path: string): number;
  write(fd: number, buf: Buffer, len: number): void;
  close(fd: number): void;
  remove(path: string): void;
}

export const nodeRecordFs: RecordFs = {
  list: (dir) => readdirSync(dir),
  // 'wx': never overwrite; the sequence number already skips what is there.
  open: (path) => openSync(path, 'wx', 0o644),
  write: (fd, buf, len) => {
    for (let off = 0; off < len; ) off += writeSync(fd, buf, off, len - off);
  },
  close: (fd) => closeSync(fd),
  remove: (path) => unlinkSync(path),
};

export interface RecorderOptions {
  /** --record PATH (files are named from it, see core/record/rotation.ts). */
  path: string;
  rotate: RotateSpec | null;
  keep: number;
  fs?: RecordFs;
  /** Wall-clock ms (rotation by time). */
  nowMs?: () => number;
  /** Write buffer: filled by packets, written when full, at flush(), rotation and close. */
  bufferBytes?: number;
  /** Rare events (a new file, a deleted file, a write error). */
  info?: (message: string) => void;
}

/** The tap a live source feeds: one interface per captured device, then its frames. */
export interface FrameTap {
  addInterface(linkType: number, snapLen: number): number;
  frame(ifId: number, buf: Buffer, len: number, tsUs: number): void;
}

const EPB_HEAD = 28;
const TWO32 = 4294967296;

/**
 * Writes captured frames to pcapng: one section per file, one interface description block per
 * captured device (its link type and snap length, microsecond timestamps: the default
 * resolution), one enhanced packet block per frame stamped with its arrival time (cap gives no
 * capture timestamp). Blocks are built in place in one preallocated buffer (nothing allocated per
 * packet) and written with synchronous writes when it fills, on flush() (the owner calls it every
 * second), at rotation and at close. A write error stops the recording (logged once), not the run.
 */
export class PcapngRecorder implements FrameTap {
  packets = 0;
  bytesTotal = 0;
  filesOpened = 0;
  private readonly enc = new PcapngEncoder('le');
  private readonly fs: RecordFs;
  private readonly policy: RotationPolicy;
  private readonly dir: string;
  private readonly buf: Buffer;
  private used = 0;
  private fd = -1;
  private fileBytes = 0;
  private filePackets = 0;
  private openedMs = 0;
  private failed = false;
  private readonly interfaces: { linkType: number; snapLen: number }[] = [];
  private readonly nowMs: () => number;
  /** The file being written (empty before the first). */
  current = '';

  constructor(private readonly o: RecorderOptions) {
    this.fs = o.fs ?? nodeRecordFs;
    this.nowMs = o.nowMs ?? Date.now;
    const name = recordName(o.path);
    this.dir = name.dir;
    this.policy = new RotationPolicy(name, o.rotate, o.keep, this.fs.list(name.dir));
    this.buf = Buffer.alloc(Math.max(o.bufferBytes ?? 1048576, 131072));
  }

  /** Opens the first file (a failure here is a usage error: the caller reports it). */
  start(): void {
    this.openNext();
  }

  addInterface(linkType: number, snapLen: number): number {
    this.interfaces.push({ linkType, snapLen });
    if (this.fd >= 0) this.put(this.enc.interfaceDescription({ linkType, snaplen: snapLen }));
    return this.interfaces.length - 1;
  }

  frame(ifId: number, data: Buffer, len: number, tsUs: number): void {
    if (this.failed || this.fd < 0) return;
    const padded = (len + 3) & ~3;
    const block = EPB_HEAD + padded + 4;
    if (this.policy.due(this.fileBytes, this.filePackets, block, this.openedMs, this.nowMs())) {
      this.rotate();
      if (this.failed) return;
    }
    if (this.used + block > this.buf.length) {
      this.flush();
      if (this.failed) return;
      if (block > this.buf.length) return; // cannot happen: snap length ≤ 65535
    }
    const b = this.buf;
    let o = this.used;
    const hi = Math.floor(tsUs / TWO32);
    b.writeUInt32LE(6, o);
    b.writeUInt32LE(block, o + 4);
    b.writeUInt32LE(ifId, o + 8);
    b.writeUInt32LE(hi >>> 0, o + 12);
    b.writeUInt32LE((Math.floor(tsUs) - hi * TWO32) >>> 0, o + 16);
    b.writeUInt32LE(len, o + 20);
    b.writeUInt32LE(len, o + 24);
    data.copy(b, o + EPB_HEAD, 0, len);
    o += EPB_HEAD + len;
    if (padded > len) b.fill(0, o, o + padded - len);
    b.writeUInt32LE(block, o + padded - len);
    this.used += block;
    this.fileBytes += block;
    this.filePackets++;
    this.packets++;
    this.bytesTotal += block;
  }

  /** Also checks rotation by time, so an idle recording still rotates. */
  flush(): void {
    if (this.fd < 0 || this.failed) return;
    if (this.policy.due(this.fileBytes, this.filePackets, 0, this.openedMs, this.nowMs()) && this.policy.rotate?.kind === 'time') {
      this.rotate();
      return;
    }
    this.writeOut();
  }

  /** A new file now (rotation, SIGHUP). */
  rotate(): void {
    if (this.failed) return;
    this.writeOut();
    this.closeFile();
    this.openNext();
  }

  close(): void {
    this.writeOut();
    this.closeFile();
  }

  private writeOut(): void {
    if (this.used === 0 || this.fd < 0 || this.failed) return;
    try {
      this.fs.write(this.fd, this.buf, this.used);
    } catch (err) {
      this.fail(`cannot write ${this.current}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    this.used = 0;
  }

  private closeFile(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      this.fs.close(fd);
    } catch {
      // Nothing left to save.
    }
  }

  private openNext(): void {
    const { file, remove } = this.policy.next();
    const path = join(this.dir, file);
    try {
      this.fd = this.fs.open(path);
    } catch (err) {
      this.fail(`cannot create ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      if (this.filesOpened === 0) throw new Error(`cannot create ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return;
    }
    this.current = path;
    this.filesOpened++;
    this.openedMs = this.nowMs();
    this.fileBytes = 0;
    this.filePackets = 0;
    this.put(this.enc.sectionHeader());
    for (const i of this.interfaces) this.put(this.enc.interfaceDescription({ linkType: i.linkType, snaplen: i.snapLen }));
    this.o.info?.(`recording to ${path}`);
    for (const old of remove) {
      try {
        this.fs.remove(join(this.dir, old));
        this.o.info?.(`recording: removed ${join(this.dir, old)} (--record-files ${this.o.keep})`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.o.info?.(`recording: cannot remove ${join(this.dir, old)}: ${(err as Error).message}`);
      }
    }
  }

  private put(block: Buffer): void {
    if (this.used + block.length > this.buf.length) this.writeOut();
    block.copy(this.buf, this.used);
    this.used += block.length;
    this.fileBytes += block.length;
    this.bytesTotal += block.length;
  }

  private fail(message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.o.info?.(`recording stopped: ${message}`);
  }
}
