// One oracle batch, for either architecture: the states run on the emulator with predicted
// crashers held back (holdBack.ts), each is compared with the engine, and the unexplained ones are
// verified by the architecture's own re-run policy. Emulator time is what BusyClock counts.

import { BusyClock } from './busyClock.ts';
import { runHoldingBack, type CrashOutcome } from './holdBack.ts';
import { encodedStates, pickStates, type StatePages } from './statePages.ts';
import type { OracleBatchResult, OracleComparison, OracleStateResult } from './tally.ts';

/** What a batch needs of an SVM or VMX adapter. */
export interface BatchAdapter<C, R> {
  name: string;
  runBatch(lanes: readonly StatePages[], jobs: number): Promise<{ outcomes: R[]; boots: number }>;
  poisons(c: C): boolean;
  predictCrash?(c: C): string | null;
}

export interface OracleBatchPlan<C, R, V, A extends BatchAdapter<C, R>> {
  cases: C[];
  adapter: A;
  jobs: number;
  /** Writes the state as the harness's input page into `dst` (zeroed). */
  encodeInto: (dst: Uint8Array, c: C) => void;
  compare: (c: C, raw: R | CrashOutcome) => OracleComparison<V>;
  /** Re-runs unexplained disagreements on `emulator` (the timed adapter); returns boots. Null: none. */
  verify: ((results: OracleStateResult<C, V>[], emulator: A) => Promise<number>) | null;
}

export async function runOracleBatch<C, R extends { kind: string }, V, A extends BatchAdapter<C, R>>(p: OracleBatchPlan<C, R, V, A>): Promise<OracleBatchResult<C, V>> {
  const { cases, adapter, jobs } = p;
  const clock = new BusyClock();
  const emulator: A = { ...adapter, runBatch: (lanes: readonly StatePages[], j: number) => clock.time(() => adapter.runBatch(lanes, j)) };
  const states = encodedStates(cases, p.encodeInto);
  const held = await runHoldingBack<C, R>(
    { cases, adapter: adapter.name, predict: (c) => adapter.predictCrash?.(c) ?? null, poisons: (c) => adapter.poisons(c), jobs },
    (lanes) => emulator.runBatch(lanes.map((idx) => pickStates(states, idx)), jobs),
  );
  const results: OracleStateResult<C, V>[] = cases.map((c, index) => ({ index, c, cmp: p.compare(c, held.raw[index]), rerunAlone: false, leaked: false }));
  const reruns = p.verify ? await p.verify(results, emulator) : 0;
  return { results, boots: held.boots + reruns, emulatorMs: clock.ms };
}
