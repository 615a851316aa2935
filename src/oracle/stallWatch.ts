// How long an emulator has made no progress, as its watchdog sees it on each tick. A tick that
// comes late means this process's event loop was busy (a long engine run, a collection): the
// emulator's output went unread meanwhile, so that stretch says nothing about a hang and the
// stall clock restarts instead of killing an emulator that was making progress all along.

export class StallWatch {
  private lastProgress = performance.now();
  private lastTick = performance.now();

  constructor(private readonly pollMs: number) {}

  progress(): void {
    this.lastProgress = performance.now();
  }

  /** Milliseconds without progress, on a tick every `pollMs`. */
  stalledFor(): number {
    const now = performance.now();
    if (now - this.lastTick > 3 * this.pollMs) this.lastProgress = now;
    this.lastTick = now;
    return now - this.lastProgress;
  }
}
