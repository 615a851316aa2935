// One oracle batch, for either architecture: the states run on the emulator with predicted
// crashers held back (holdBack.ts), each is compared with the engine, and the unexplained ones are
// verified by the architecture's own re-run policy. Emulator time is what BusyClock counts.

import { BusyClock } from './busyClock.ts';
import { runHoldingBack, type CrashOutcome } from './holdBack.ts';
import type { OracleBatchResult, OracleComparison, OracleStateResult } from './tally.ts';

/** What a batch needs of an SVM or VMX adapter. */
export interface BatchAdapter<C, R> {
  name: string;
  runBatch(pages: Uint8Array[], jobs: number): Promise<{ outcomes: R[]; boots: number }>;
  poisons(c: C): boolean;
  predictCrash?(c: C): string | null;
}

export interface OracleBatchPlan<C, R, V, A extends BatchAdapter<C, R>> {
  cases: C[];
  adapter: A;
  jobs: number;
  /** The state as the harness's input page. */
  encode: (c: C) => Uint8Array;
  compare: (c: C, raw: R | CrashOutcome) => OracleComparison<V>;
  /** Re-runs unexplained disagreements on `emulator` (the timed adapter); returns boots. Null: none. */
  verify: ((results: OracleStateResult<C, V>[], emulator: A) => Promise<number>) | null;
}

export async function runOracleBatch<C, R extends { kind: string }, V, A extends BatchAdapter<C, R>>(p: OracleBatchPlan<C, R, V, A>): Promise<OracleBatchResult<C, V>> {
  const { cases, adapter, jobs } = p;
  const clock = new BusyClock();
  const emulator: A = { ...adapter, runBatch: (pages: Uint8Array[], j: number) => clock.time(() => adapter.runBatch(pages, j)) };
  const held = await runHoldingBack<C, R>(
    { cases, adapter: adapter.name, predict: (c) => adapter.predictCrash?.(c) ?? null, poisons: (c) => adapter.poisons(c) },
    (idx) => emulator.runBatch(idx.map((i) => p.encode(cases[i])), jobs),
  );
  const results: OracleStateResult<C, V>[] = cases.map((c, index) => ({ index, c, cmp: p.compare(c, held.raw[index]), rerunAlone: false, leaked: false }));
  const reruns = p.verify ? await p.verify(results, emulator) : 0;
  return { results, boots: held.boots + reruns, emulatorMs: clock.ms };
}
