// A property wrapper that lets a campaign stop fast-check from outside, like fast-check's own
// SkipAfterProperty / TimeoutProperty (src/check/property/): when `shouldStop()` says so, a run
// answers PreconditionFailure(interruptExecution = true) and fast-check ends the check as
// interrupted, keeping any counterexample found so far.
//
// It also turns the synchronous property into an asynchronous one that yields to the event loop
// every `yieldEveryMs`, so a SIGINT handler (and progress timers) get to run during a long check.
// The cost is a few resolved-promise awaits per run, well under the engine's cost per case.

import fc from 'fast-check';

type RunOutcome<Ts> = ReturnType<fc.IProperty<Ts>['run']>;

export interface BudgetedPropertyOptions {
  /** Checked before every run; true interrupts the check. */
  shouldStop: () => boolean;
  /** Called at each yield point (about every `yieldEveryMs`). */
  onYield?: () => void;
  yieldEveryMs?: number;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class BudgetedProperty<Ts> implements fc.IAsyncProperty<Ts> {
  private lastYield = performance.now();
  private readonly yieldEveryMs: number;

  constructor(
    private readonly inner: fc.IProperty<Ts>,
    private readonly opts: BudgetedPropertyOptions,
  ) {
    this.yieldEveryMs = opts.yieldEveryMs ?? 25;
  }

  isAsync(): true {
    return true;
  }

  generate(mrng: fc.Random, runId?: number): fc.Value<Ts> {
    return this.inner.generate(mrng, runId);
  }

  shrink(value: fc.Value<Ts>): fc.Stream<fc.Value<Ts>> {
    return this.inner.shrink(value);
  }

  async run(v: Ts): Promise<RunOutcome<Ts>> {
    const t = performance.now();
    if (t - this.lastYield >= this.yieldEveryMs) {
      await yieldToEventLoop();
      this.lastYield = performance.now();
      this.opts.onYield?.();
    }
    if (this.opts.shouldStop()) return new fc.PreconditionFailure(true);
    return this.inner.run(v);
  }

  runBeforeEach = async (): Promise<void> => {
    this.inner.runBeforeEach();
  };

  runAfterEach = async (): Promise<void> => {
    this.inner.runAfterEach();
  };
}
