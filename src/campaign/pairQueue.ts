// The campaign's property×profile pairs, handed out one at a time: runner.ts takes them in order in
// one thread; with --workers N each worker thread takes its next pair from one queue in shared
// memory (no round trip through the main thread, whose wake-up took ~8 ms per pair on a busy
// machine). A pair's fast-check seed depends only on (campaign seed, property, profile), so which
// worker runs a pair changes nothing it finds.
//
// Locality: worker w starts on its own contiguous slice of the plan (plan order keeps a property's
// profiles, and an area's properties, together). A worker isolate JIT-compiles the engine code its
// pairs reach, and TurboFan's background compiling costs a few CPU-seconds per isolate; handing out
// every N-th pair made each worker reach (and compile) nearly all of it, on cores the workers needed.
// Balance: a worker whose slice is used up takes the upper half of the largest slice left, so no
// core sits idle while pairs remain (under --runs, pair lengths differ many times over).
//
// Time: a pair gets the worker-time left before the deadline (this worker's, plus each other
// worker's after its current pair's share) over the pairs not yet started, capped by the time left
// and by --time-per-property. In one thread that is remaining / pairs left. A pair that ends early
// donates its time to the rest, and the last pairs' shares reach the deadline, so the workers end
// together. The deadline is set when the first pair is handed out; with workers, once every worker
// has loaded and reached the start line (arrive / waitForAll): on a busy machine one worker was
// seen ready a second after the other, a tenth of a 10 s campaign lost on one core.

export interface PairGrant {
  /** Index of the pair in the (sharded) plan. */
  index: number;
  /** Time budget of this pair; null = no time limit (--runs alone). */
  timeMs: number | null;
}

export interface PairBudget {
  /** The whole campaign's time, counted from the first pair handed out. */
  timeMs?: number;
  /** Cap on each pair's time. */
  timePerPropertyMs?: number;
}

/** A clock every thread reads alike (performance.now() counts from each thread's own start). */
export function sharedClock(): number {
  return performance.timeOrigin + performance.now();
}

// Layout: Int32 [lock, workers at the start line, workers, then per worker: arrived (0/1)], then
// Float64 [deadline (NaN: unset), pairs not started, then per worker: lo, hi (its slice
// lo ≤ k < hi), busyUntil (when its current pair is due to end)].
const LOCK = 0;
const ARRIVED = 1;
const WORKERS = 2;
const INT_HEADER = 3;
const DEADLINE = 0;
const UNSTARTED = 1;
const PER_WORKER = 2;

/** Bytes of the Int32 part, rounded up so the Float64 part is aligned. */
function intBytes(workers: number): number {
  return Math.ceil(((INT_HEADER + workers) * 4) / 8) * 8;
}

export class PairQueue {
  private readonly i: Int32Array;
  private readonly f: Float64Array;
  private readonly workers: number;

  /** A new queue; `shared` puts it in a SharedArrayBuffer that worker threads attach to. */
  static create(pairCount: number, workers: number, budget: PairBudget = {}, shared = false): PairQueue {
    const bytes = intBytes(workers) + (PER_WORKER + 3 * workers) * 8;
    const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    new Int32Array(buffer)[WORKERS] = workers;
    const q = new PairQueue(buffer, budget);
    q.f[DEADLINE] = NaN;
    q.f[UNSTARTED] = pairCount;
    for (let w = 0; w < workers; w++) {
      q.f[q.lo(w)] = Math.floor((w * pairCount) / workers);
      q.f[q.hi(w)] = Math.floor(((w + 1) * pairCount) / workers);
      q.f[q.busy(w)] = -Infinity;
    }
    return q;
  }

  /** Attaches to a queue's buffer (another thread's `create`). */
  constructor(readonly buffer: SharedArrayBuffer | ArrayBuffer, private readonly budget: PairBudget) {
    this.workers = new Int32Array(buffer, 0, INT_HEADER)[WORKERS];
    this.i = new Int32Array(buffer, 0, INT_HEADER + this.workers);
    this.f = new Float64Array(buffer, intBytes(this.workers));
  }

  private lo(w: number): number {
    return PER_WORKER + 3 * w;
  }

  private hi(w: number): number {
    return PER_WORKER + 3 * w + 1;
  }

  private busy(w: number): number {
    return PER_WORKER + 3 * w + 2;
  }

  /** The next pair for worker `worker` (0-based) at time `now` (sharedClock), or null when none is left. */
  next(worker: number, now: number): PairGrant | null {
    // A spin lock: a worker holds it for a few microseconds once per pair.
    while (Atomics.compareExchange(this.i, LOCK, 0, 1) !== 0);
    try {
      const { f } = this;
      if (f[this.lo(worker)] >= f[this.hi(worker)] && !this.steal(worker)) return null;
      const index = f[this.lo(worker)]++;
      const timeMs = this.share(worker, now);
      f[UNSTARTED]--;
      f[this.busy(worker)] = now + (timeMs ?? 0);
      return { index, timeMs };
    } finally {
      Atomics.store(this.i, LOCK, 0);
    }
  }

  /** Worker `worker` is ready, or gone before it was: counts it at the start line once. */
  arrive(worker: number): void {
    if (Atomics.compareExchange(this.i, INT_HEADER + worker, 0, 1) !== 0) return;
    Atomics.add(this.i, ARRIVED, 1);
    Atomics.notify(this.i, ARRIVED);
  }

  /** Blocks this worker thread until every worker has arrived. */
  waitForAll(): void {
    for (let n = Atomics.load(this.i, ARRIVED); n < this.workers; n = Atomics.load(this.i, ARRIVED)) Atomics.wait(this.i, ARRIVED, n);
  }

  /** Moves the upper half of the largest remaining slice (all of it if one pair) to `worker`. */
  private steal(worker: number): boolean {
    const { f } = this;
    const left = (w: number): number => f[this.hi(w)] - f[this.lo(w)];
    let victim = -1;
    for (let w = 0; w < this.workers; w++) if (left(w) > 0 && (victim < 0 || left(w) > left(victim))) victim = w;
    if (victim < 0) return false;
    const mid = f[this.lo(victim)] + Math.floor(left(victim) / 2);
    f[this.lo(worker)] = mid;
    f[this.hi(worker)] = f[this.hi(victim)];
    f[this.hi(victim)] = mid;
    return true;
  }

  private share(worker: number, now: number): number | null {
    const { timeMs, timePerPropertyMs } = this.budget;
    let t = timePerPropertyMs ?? Infinity;
    if (timeMs !== undefined) {
      const { f } = this;
      if (Number.isNaN(f[DEADLINE])) f[DEADLINE] = now + timeMs;
      const deadline = f[DEADLINE];
      let workerTime = 0;
      for (let w = 0; w < this.workers; w++) workerTime += Math.max(0, deadline - (w === worker ? now : Math.max(now, f[this.busy(w)])));
      t = Math.min(t, Math.max(0, deadline - now), workerTime / f[UNSTARTED]);
    }
    return Number.isFinite(t) ? t : null;
  }
}
