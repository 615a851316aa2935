// Holding back states predicted to kill or hang the emulator (each costs a boot, and a hang the
// watchdog's wait as well). One state per reason runs to confirm the prediction; the others of
// that reason get the confirmed death as their verdict without running. A confirmation runs at the
// end of a lane (lanes.ts), where the death ends that instance's work instead of costing a
// reboot, and before any poisoner: a prediction is about the state alone (the verdict the drivers
// trust, oracle.md §7), and state left by a poisoner can turn the crash into an exit (measured on
// QEMU: after an INT3 loop, event delivery fails with #GP instead of aborting). When a
// confirmation does not crash, every state held back for its reason runs for real. Poisoners run
// last, in the last lane.

export type CrashOutcome = { kind: 'crash'; detail: string };

export interface HoldBackPlan<C> {
  cases: readonly C[];
  /** The adapter's name: confirmations are remembered per adapter and reason. */
  adapter: string;
  /** Why this state is known to kill or hang the emulator, or null (already gated by the engine). */
  predict: (c: C) => string | null;
  poisons: (c: C) => boolean;
  /** Emulator instances at once: the batch runs as this many lanes. */
  jobs: number;
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
 * The lanes of a batch: the states that run cut into `jobs` lanes of equal work, the poisoners at
 * the end of the last lane (which takes fewer of the others), and the confirmations dealt to the
 * lanes' ends, before the poisoners. Empty lanes are dropped.
 */
export function planLanes(clean: readonly number[], confirmations: readonly number[], poisoners: readonly number[], jobs: number): number[][] {
  const j = Math.max(1, jobs);
  const share = Math.ceil((clean.length + poisoners.length) / j);
  const lanes: number[][] = [];
  let k = 0;
  for (let l = 0; l < j - 1; l++) {
    const take = Math.min(share, clean.length - k);
    lanes.push(clean.slice(k, k + take));
    k += take;
  }
  lanes.push(clean.slice(k));
  confirmations.forEach((i, c) => lanes[c % j].push(i));
  lanes[j - 1].push(...poisoners);
  const busy = lanes.filter((l) => l.length > 0);
  return busy.length > 0 ? busy : [[]];
}

/**
 * Runs `plan.cases` through `run` (lanes of case indices, each in order on an emulator instance;
 * outcomes in lane order) with predicted crashers held back; returns every case's raw outcome and
 * the boots spent.
 */
export async function runHoldingBack<C, R extends { kind: string }>(
  plan: HoldBackPlan<C>,
  run: (lanes: number[][]) => Promise<{ outcomes: R[]; boots: number }>,
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
  const lanes = planLanes(runIdx.filter((i) => !plan.poisons(cases[i])), confirmations, poisoners, plan.jobs);
  const order = lanes.flat();
  const first = await run(lanes);
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
    const again = planLanes(unconfirmed, [], [], plan.jobs);
    const out = await run(again);
    again.flat().forEach((i, k) => (raw[i] = out.outcomes[k]));
    boots += out.boots;
  }
  return { raw, boots };
}
