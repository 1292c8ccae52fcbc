/**
 * Pacing of an offline replay: maps each captured packet's timestamp to the replay-clock time at
 * which it should be released. Pure: the caller supplies the replay clock's start (µs, any
 * monotonic clock) and compares the returned times with its own clock.
 *
 * Model. Within a loop, the replay offset of a packet is the sum of the gaps between consecutive
 * *used* packets (call releaseTimeUs only for packets that passed filtering), where
 *   - a gap longer than the idle cap (-I, capture time) counts as the cap, once;
 *   - a negative gap (timestamps going backwards in the file) counts as 0, so order is kept;
 * and the release time is start + offset / acceleration, rounded up to a whole µs so a packet is
 * never released before its time. Each packet is due at its *own* time (stock sends a packet when
 * its predecessor's time is reached — one gap early).
 *
 * Loops (-T): after the file ends, startLoop() begins the next run; its first packet is due at the
 * previous run's last release time plus `loopGapMs`, and the gaps inside the run are paced again.
 * `loop` (0-based) lets the engine pick fresh ports/ISNs per run.
 *
 * --rate (fastest): every packet is due at once (its release time is the replay start); the file
 * order is the release order.
 *
 *   const p = new Pacer({ acceleration: 2, idleCapMs: 1000, loops: 3 });
 *   p.begin(nowUs);
 *   for each used packet: const at = p.releaseTimeUs(rec.tsUs); wait until at; send
 *   at end of file: if (p.startLoop()) reopen the file (p.loop is the new run's index) else done
 */
export interface PacerOptions {
  /** -a: replay speed factor, ≥ 1 (float allowed). Default 1. */
  acceleration?: number;
  /** -I: idle gaps longer than this (capture ms) are compressed to it; 0 = off. Default 0. */
  idleCapMs?: number;
  /** --rate: ignore timestamps, release everything immediately in file order. */
  fastest?: boolean;
  /** -T: number of runs over the file, ≥ 1. Default 1. */
  loops?: number;
  /** Pause between the last packet of a run and the first of the next, replay ms. Default 0. */
  loopGapMs?: number;
}

export interface PacerStats {
  /** Packets paced (all runs). */
  packets: number;
  /** Capture time removed by the idle cap, µs. */
  compressedUs: number;
  /** Gaps compressed by the idle cap. */
  compressedGaps: number;
  /** Times a timestamp went backwards (treated as a zero gap). */
  backwardSteps: number;
}

export class Pacer {
  readonly acceleration: number;
  readonly idleCapUs: number;
  readonly fastest: boolean;
  readonly loops: number;
  readonly loopGapUs: number;
  /** Index of the current run, 0-based. */
  loop = 0;
  readonly stats: PacerStats = { packets: 0, compressedUs: 0, compressedGaps: 0, backwardSteps: 0 };

  private startUs = 0;
  private started = false;
  /** Replay offset of the current run's first packet, in replay µs from startUs. */
  private runBaseUs = 0;
  /** Capture µs elapsed in this run (gaps summed after capping). */
  private runCaptureUs = 0;
  private prevTsUs = 0;
  private havePrev = false;
  private lastReleaseUs = 0;

  constructor(opts: PacerOptions = {}) {
    const a = opts.acceleration ?? 1;
    if (!Number.isFinite(a) || a < 1) throw new RangeError(`acceleration must be a number ≥ 1, got ${a}`);
    const cap = opts.idleCapMs ?? 0;
    if (!Number.isFinite(cap) || cap < 0) throw new RangeError(`idle cap must be ≥ 0 ms, got ${cap}`);
    const loops = opts.loops ?? 1;
    if (!Number.isInteger(loops) || loops < 1) throw new RangeError(`loops must be an integer ≥ 1, got ${loops}`);
    const gap = opts.loopGapMs ?? 0;
    if (!Number.isFinite(gap) || gap < 0) throw new RangeError(`loop gap must be ≥ 0 ms, got ${gap}`);
    this.acceleration = a;
    this.idleCapUs = cap * 1000;
    this.fastest = opts.fastest ?? false;
    this.loops = loops;
    this.loopGapUs = gap * 1000;
  }

  /** Fixes the replay clock's origin: the first packet is due at nowUs. */
  begin(nowUs: number): void {
    this.startUs = nowUs;
    this.started = true;
    this.lastReleaseUs = nowUs;
  }

  /** Replay-clock time at which the packet captured at tsUs is due. Call once per packet, in order. */
  releaseTimeUs(tsUs: number): number {
    if (!this.started) throw new Error('Pacer.begin(nowUs) must be called before releaseTimeUs()');
    this.stats.packets++;
    if (this.fastest) return this.startUs;
    if (this.havePrev) {
      let gap = tsUs - this.prevTsUs;
      if (gap < 0) {
        gap = 0;
        this.stats.backwardSteps++;
      } else if (this.idleCapUs > 0 && gap > this.idleCapUs) {
        this.stats.compressedUs += gap - this.idleCapUs;
        this.stats.compressedGaps++;
        gap = this.idleCapUs;
      }
      this.runCaptureUs += gap;
    }
    // A backwards timestamp must not become the reference, or the next gap would count twice.
    if (!this.havePrev || tsUs > this.prevTsUs) this.prevTsUs = tsUs;
    this.havePrev = true;
    // Computed from the run's sums each time, so rounding never accumulates.
    const at = this.startUs + this.runBaseUs + Math.ceil(this.runCaptureUs / this.acceleration);
    this.lastReleaseUs = at;
    return at;
  }

  /** Microseconds until the packet due at `releaseUs` may go (0 = now or late). */
  static waitUs(releaseUs: number, nowUs: number): number {
    return releaseUs > nowUs ? releaseUs - nowUs : 0;
  }

  /** True while another run over the file remains after the current one. */
  get hasNextLoop(): boolean {
    return this.loop + 1 < this.loops;
  }

  /**
   * Call at end of file. Starts the next run and returns true, or returns false when all `loops`
   * runs are done. The next run's first packet is due `loopGapMs` after the last release.
   */
  startLoop(): boolean {
    if (!this.hasNextLoop) return false;
    this.loop++;
    if (!this.fastest) this.runBaseUs = this.lastReleaseUs - this.startUs + this.loopGapUs;
    this.runCaptureUs = 0;
    this.havePrev = false;
    return true;
  }

  /** Release time of the most recent packet (the replay start before any packet). */
  get lastRelease(): number {
    return this.lastReleaseUs;
  }
}
