/** What the scheduler needs of the engine (InterceptEngine satisfies it). */
export interface TickTarget {
  /** Flushes the frames whose burst is over; true while frames still wait. */
  onTick(nowUs: number): boolean;
  readonly hasPending: boolean;
}

/**
 * Runs the engine's end-of-turn flush. `afterInput()` is called after every engine input
 * (a queued packet, copier bytes); when a frame is waiting it schedules one tick with
 * setImmediate, which runs right after the event loop's I/O phase: the tick then sees whether
 * that turn's I/O brought another record (a burst: keep filling the frame) or not (flush). An
 * isolated response is thus written in the turn it arrived in or the next one, never later,
 * while back-to-back responses share frames. One Immediate per turn with pending frames, none
 * per packet; the callback is made once.
 */
export class FlushScheduler {
  private scheduled = false;
  private readonly run = (): void => {
    this.scheduled = false;
    if (this.target.onTick(this.nowUs())) this.schedule();
  };

  constructor(
    private readonly target: TickTarget,
    private readonly nowUs: () => number,
  ) {}

  afterInput(): void {
    if (!this.scheduled && this.target.hasPending) this.schedule();
  }

  private schedule(): void {
    this.scheduled = true;
    setImmediate(this.run);
  }
}
