/**
 * The copier's one timer: armed for the earliest time something is due (the engine's next
 * deadline, the source's next release), never re-armed for a later time while an earlier one is
 * set. The callback is made once, so arming allocates nothing but Node's timer.
 */
export class WakeTimer {
  /** Wake-ups so far (logged at the end of the run). */
  fires = 0;
  private timer: NodeJS.Timeout | null = null;
  private at = Infinity;
  private readonly onFire = (): void => {
    this.fires++;
    this.timer = null;
    this.at = Infinity;
    this.run();
  };

  constructor(private readonly run: () => void) {}

  /** Wake at `atUs` (µs, same clock as nowUs; Infinity: nothing due). */
  arm(atUs: number, nowUs: number): void {
    if (atUs === Infinity) {
      this.clear();
      return;
    }
    if (this.timer !== null && this.at <= atUs && this.at > nowUs) return; // an earlier wake-up is set
    if (this.timer !== null) clearTimeout(this.timer);
    const ms = Math.max(0, Math.ceil((atUs - nowUs) / 1000));
    this.at = nowUs + ms * 1000;
    this.timer = setTimeout(this.onFire, ms);
  }

  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.at = Infinity;
  }
}
