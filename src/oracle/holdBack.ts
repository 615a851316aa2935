// Holding back states predicted to kill or hang the emulator (each costs a boot, and a hang the
// watchdog's wait as well). One state per reason runs, first, in a fresh emulator, to confirm the
// prediction; the others of that reason get the confirmed death as their verdict without running.
// A prediction is about the state alone (the verdict the drivers trust, oracle.md §7): later in a
// batch, state left by earlier runs can turn the crash into an exit (measured on QEMU: after a
// poisoner, event delivery fails with #GP instead of aborting). When a confirmation does not
// crash, every state held back for its reason runs for real. Poisoners run last.

export type CrashOutcome = { kind: 'crash'; detail: string };

export interface HoldBackPlan<C> {
  cases: readonly C[];
  /** The adapter's name: confirmations are remembered per adapter and reason. */
  adapter: string;
  /** Why this state is known to kill or hang the emulator, or null (already gated by the engine). */
  predict: (c: C) => string | null;
  poisons: (c: C) => boolean;
}

/**
 * Predictions confirmed in this process, by adapter and reason, with the death that confirmed
 * them: later batches (a campaign's ride runs one every few seconds) hold those states back
 * without paying a boot to confirm them again.
 */
const confirmed = new Map<string, string>();

/** Forgets every confirmed prediction (a bench or test that measures the confirmation starts here). */
export function forgetConfirmedPredictions(): void {
  confirmed.clear();
}

/**
 * Runs `plan.cases` through `run` (a batch of case indices, in order, on the emulator) with
 * predicted crashers held back; returns every case's raw outcome and the boots spent.
 */
export async function runHoldingBack<C, R extends { kind: string }>(
  plan: HoldBackPlan<C>,
  run: (indices: number[]) => Promise<{ outcomes: R[]; boots: number }>,
): Promise<{ raw: (R | CrashOutcome)[]; boots: number }> {
  const { cases, adapter } = plan;
  const held = new Map<string, number[]>();
  const runIdx: number[] = [];
  cases.forEach((c, i) => {
    const why = plan.predict(c);
    if (why) held.set(why, [...(held.get(why) ?? []), i]);
    else runIdx.push(i);
  });
  const key = (why: string): string => `${adapter}|${why}`;
  const confirmations = [...held].filter(([why]) => !confirmed.has(key(why))).map(([, idx]) => idx[0]);
  const poisoners = runIdx.filter((i) => plan.poisons(cases[i]));
  const order = [...confirmations, ...runIdx.filter((i) => !plan.poisons(cases[i])), ...poisoners];
  const first = await run(order);
  const raw: (R | CrashOutcome)[] = new Array(cases.length);
  order.forEach((i, k) => (raw[i] = first.outcomes[k]));
  let boots = first.boots;
  const unconfirmed: number[] = [];
  for (const [why, idx] of held) {
    const earlier = confirmed.get(key(why));
    let detail: string;
    let where: string;
    let rest = idx;
    if (earlier !== undefined) {
      detail = earlier;
      where = 'on a state of an earlier batch of this process';
    } else {
      const seen = raw[idx[0]] as R | CrashOutcome;
      rest = idx.slice(1);
      if (seen.kind !== 'crash') {
        unconfirmed.push(...rest);
        continue;
      }
      detail = (seen as CrashOutcome).detail;
      where = `on state ${idx[0]} of this batch`;
      confirmed.set(key(why), detail);
    }
    for (const i of rest) raw[i] = { kind: 'crash', detail: `not run, predicted (${why}; confirmed ${where}): ${detail}` };
  }
  if (unconfirmed.length > 0) {
    const again = await run(unconfirmed);
    unconfirmed.forEach((i, k) => (raw[i] = again.outcomes[k]));
    boots += again.boots;
  }
  return { raw, boots };
}
