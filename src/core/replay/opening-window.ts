/** --max-opening auto. */
export const OPENING_AUTO = -1;

/** After this long held back without an answer, the file goes on (see admits()). */
export const OPENING_STALL_US = 200_000;
/** heldSince once a hold was given up (see admits()): the file goes on until an answer comes. */
const STALLED = -2;
/** auto: drop signals within DROP_SPAN_US that mean the target's queues overflowed, not a lost packet. */
const DROP_BURST = 8;
const DROP_SPAN_US = 100_000;
/** auto: one cut per this long (one overflow drops many openings, seen over a few hundred ms). */
const CUT_GAP_US = 200_000;
/** auto: never below this many, and no limit again once grown past LIFT. */
const MIN_LIMIT = 64;
const LIFT = 16_384;

/**
 * How many sessions a file replay may have opening at once (handshake or first request not yet
 * answered by the target; SessionEngine.openingSessions) before it holds the file back.
 *
 * A fixed N (`--max-opening N`, 512 by default with --rate), none (0), or auto (the default with
 * -a): no limit while the target keeps up, so the capture's pace holds even against a slow target
 * with many connections open; once it drops openings in bursts (SYNs retried, SYN-ACKs repeated:
 * its SYN or accept queue is full), at most half of what was opening then, grown back by one per
 * eight answered openings and lifted past 16,384. A full queue drops SYNs and handshake ACKs, each
 * costing a retry and 200 ms or more; opening no more than the target takes keeps it busy without
 * that waste.
 */
export class OpeningWindow {
  /** The limit in force (Infinity: none). */
  limit: number;
  /** How often the file was held back, and (auto) how often the limit was cut, and its lowest value. */
  holds = 0;
  /** Holds that ended OPENING_STALL_US after the last answer, not by one. */
  stalls = 0;
  cuts = 0;
  lowest = Infinity;
  /** When the file was held back (µs), −1 while it is not. */
  heldSince = -1;
  private readonly auto: boolean;
  private lastDrops = 0;
  private lastAnswered = 0;
  private spanStart = -Infinity;
  private spanDrops = 0;
  private lastCut = -Infinity;

  constructor(readonly setting: number) {
    this.auto = setting === OPENING_AUTO;
    this.limit = setting > 0 ? setting : Infinity;
  }

  /** When a hold gives up if no answer comes first (Infinity: not held). */
  get wakeAt(): number {
    return this.heldSince >= 0 ? this.heldSince + OPENING_STALL_US : Infinity;
  }

  /** Off for good (0, or a live capture): admits() is always true. */
  get off(): boolean {
    return this.setting === 0;
  }

  /**
   * The engine's counters, now and then (each service run): drop signals (SYN retransmits +
   * repeated SYN-ACKs) and openings answered, both running totals.
   */
  update(nowUs: number, opening: number, dropSignals: number, answered: number): void {
    const grown = answered - this.lastAnswered;
    this.lastAnswered = answered;
    // Answers are coming: the target is working through them, so the stall clock starts again
    // (a hold given up is taken up again: the target answers, the limit means something again).
    if (grown > 0 && this.heldSince !== -1) {
      if (this.heldSince === STALLED) this.holds++;
      this.heldSince = nowUs;
    }
    if (!this.auto) return;
    const drops = dropSignals - this.lastDrops;
    this.lastDrops = dropSignals;
    if (nowUs - this.spanStart > DROP_SPAN_US) {
      this.spanStart = nowUs;
      this.spanDrops = 0;
    }
    this.spanDrops += drops;
    if (this.spanDrops >= DROP_BURST && nowUs - this.lastCut >= CUT_GAP_US) {
      this.lastCut = nowUs;
      this.spanDrops = 0;
      this.limit = Math.max(MIN_LIMIT, Math.floor(Math.min(this.limit, opening) / 2));
      this.cuts++;
      if (this.limit < this.lowest) this.lowest = this.limit;
    } else if (this.limit !== Infinity && grown > 0) {
      this.limit += grown / 8;
      if (this.limit > LIFT) this.limit = Infinity;
    }
  }

  /**
   * May the file go on with `opening` sessions opening? Held back at the limit until enough are
   * answered, but not for ever: sessions that wait for their own next packet, further on in the
   * file, would never be answered, so after OPENING_STALL_US without any answer it goes on.
   */
  admits(nowUs: number, opening: number): boolean {
    if (opening < this.limit) {
      this.heldSince = -1;
      return true;
    }
    if (this.heldSince === STALLED) return true;
    if (this.heldSince < 0) {
      this.heldSince = nowUs;
      this.holds++;
      return false;
    }
    if (nowUs - this.heldSince < OPENING_STALL_US) return false;
    this.stalls++;
    this.heldSince = STALLED;
    return true;
  }

  /** The summary's words for it ('' when there was nothing to say). */
  describe(): string {
    if (this.off) return '';
    const what = this.auto ? '--max-opening auto' : `--max-opening ${this.setting}`;
    const cuts = this.auto ? ` (the target dropped openings: limit cut ${this.cuts} times, lowest ${this.lowest === Infinity ? '-' : this.lowest})` : '';
    if (this.auto && this.cuts === 0) return `${what}: the target never dropped an opening, no limit`;
    const stalls = this.stalls > 0 ? `, ${this.stalls} of them given up after ${OPENING_STALL_US / 1000} ms without an answer` : '';
    return `${what} held the file back ${this.holds} times${stalls}${cuts}`;
  }
}
