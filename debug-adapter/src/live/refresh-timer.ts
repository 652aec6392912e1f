// The one timer of live refresh: calls `tick` about `ratePerSecond` times a second while it is
// started, never two ticks at once (the next is scheduled when one ends, for what is left of its
// period, at least `minGapMs` later). Both the debug session's live snapshots and `mmscope serve`'s
// LiveRefresher run on it. It never keeps Node alive.

export class RefreshTimer {
  private timer: NodeJS.Timeout | undefined;
  private rate: number | undefined;

  constructor(private readonly tick: () => Promise<void>, private readonly minGapMs = 0) {}

  /** Refreshes per second while started, or undefined when stopped. */
  get ratePerSecond(): number | undefined {
    return this.rate;
  }

  /** Starts (or changes the rate); the first tick comes after `firstDelayMs`. */
  start(ratePerSecond: number, firstDelayMs = 0): void {
    this.rate = ratePerSecond;
    this.arm(firstDelayMs);
  }

  /** No tick after this one (a tick in progress finishes). */
  stop(): void {
    this.rate = undefined;
    this.disarm();
  }

  /** Sets the rate without ticking yet (`resume` starts the ticks). */
  setRate(ratePerSecond: number): void {
    this.rate = ratePerSecond;
  }

  /** Holds ticks back without forgetting the rate (the guest stopped); `start` or `resume` again. */
  pause(): void {
    this.disarm();
  }

  resume(firstDelayMs: number): void {
    if (this.rate !== undefined) this.arm(firstDelayMs);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delayMs: number): void {
    this.disarm();
    this.timer = setTimeout(() => void this.run(), delayMs);
    this.timer.unref?.();
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.rate === undefined) return;
    const started = Date.now();
    try {
      await this.tick();
    } catch {
      // a tick reports its own failures; the timer goes on
    }
    if (this.rate === undefined || this.timer) return;
    this.arm(Math.max(this.minGapMs, 1000 / this.rate - (Date.now() - started)));
  }
}
