// Wall-clock time during which at least one emulator run is in flight: a batch's emulator time,
// boots included, without counting the engine's work between runs or counting parallel
// instances twice.

export class BusyClock {
  ms = 0;
  private active = 0;
  private since = 0;

  async time<T>(f: () => Promise<T>): Promise<T> {
    if (this.active++ === 0) this.since = performance.now();
    try {
      return await f();
    } finally {
      if (--this.active === 0) this.ms += performance.now() - this.since;
    }
  }
}
