// Oracle figures for `npm run bench` (issue #8): states/s through each emulator adapter with one
// and with N parallel instances (boot included), the whole comparison's states/s (emulator, engine
// and re-runs of suspects), and the agreement rate after listed divergences on a generated batch.

import fc from 'fast-check';
import { oracleSvmCase } from '../src/arbitraries/oracleSvm.ts';
import { oracleVmxCase } from '../src/arbitraries/oracleVmx.ts';
import { getProfile } from '../src/engine/profile_list.ts';
import { getSvmAdapter } from '../src/oracle/svm/adapters.ts';
import { forgetConfirmedPredictions } from '../src/oracle/holdBack.ts';
import { runSvmOracleBatch } from '../src/oracle/svm/driver.ts';
import { probeCpu } from '../src/oracle/session.ts';
import { getVmxAdapter } from '../src/oracle/vmx/adapters.ts';
import { runVmxOracleBatch } from '../src/oracle/vmx/driver.ts';
import { probeVmxCpu } from '../src/oracle/vmx/session.ts';

export interface OracleBenchRow {
  adapter: string;
  states: number;
  /**
   * States per second of emulator time (boots included) with one instance and with `jobs`: every
   * state gets the emulator's verdict, as the oracle driver schedules them (predicted crashers
   * held back and confirmed once, suspects re-run alone), counting only time with a run in flight.
   */
  states_per_s_1: number;
  /** Median of REPEATS batches, each from a process that has confirmed no prediction yet. */
  states_per_s_n: number;
  /**
   * The same batch again with `jobs` instances in the same process (median of REPEATS): predictions
   * already confirmed, as every batch after a ride's first one runs.
   */
  states_per_s_n_confirmed: number;
  jobs: number;
  /** Whole comparison with `jobs` instances: emulator batch + engine + re-runs of suspects. */
  compare_states_per_s: number;
  agreement_after_listed: number;
  /** States the emulator crashed or hung on (run, or held back on a confirmed prediction). */
  crashes: number;
  boots: number;
}

interface BatchFigures {
  results: { cmp: { diff: string[]; explainedBy: string | null; emu: { kind: string } } }[];
  boots: number;
  emulatorMs: number;
}

/** Batches per figure with `jobs` instances: the VM's speed drifts by 20-30% between runs, so each figure is a median. */
const REPEATS = 3;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Driver batches with one and with `jobs` instances, each from a process that has confirmed no prediction yet, then with them confirmed. */
async function row(name: string, states: number, jobs: number, runBatch: (jobs: number) => Promise<BatchFigures>): Promise<OracleBenchRow> {
  // Each batch's figures are taken as it ends and its results dropped, so the process's heap (and
  // the GC threads competing with the emulators) stays that of one batch.
  const rate = (b: BatchFigures): number => Math.round(states / (b.emulatorMs / 1000));
  // npm run bench runs with --expose-gc: collect the previous batch's garbage before timing the next.
  const collect = (): void => (globalThis as { gc?: () => void }).gc?.();
  forgetConfirmedPredictions();
  collect();
  const one = rate(await runBatch(1));
  const freshRates: number[] = [];
  const wallRates: number[] = [];
  let first: Omit<OracleBenchRow, 'adapter' | 'states' | 'jobs' | 'states_per_s_1' | 'states_per_s_n' | 'states_per_s_n_confirmed' | 'compare_states_per_s'> | null = null;
  for (let k = 0; k < REPEATS; k++) {
    forgetConfirmedPredictions();
    collect();
    const t0 = performance.now();
    const n = await runBatch(jobs);
    wallRates.push(Math.round(states / ((performance.now() - t0) / 1000)));
    freshRates.push(rate(n));
    first ??= {
      agreement_after_listed: +(1 - n.results.filter((r) => r.cmp.diff.length > 0 && !r.cmp.explainedBy).length / states).toFixed(5),
      crashes: n.results.filter((r) => r.cmp.emu.kind === 'crash').length,
      boots: n.boots,
    };
  }
  const confirmedRates: number[] = [];
  for (let k = 0; k < REPEATS; k++) {
    collect();
    confirmedRates.push(rate(await runBatch(jobs)));
  }
  return {
    adapter: name, states, jobs, states_per_s_1: one,
    states_per_s_n: median(freshRates), states_per_s_n_confirmed: median(confirmedRates), compare_states_per_s: median(wallRates),
    ...first!,
  };
}

export async function oracleBench(sizes: Record<string, number>, jobs: number): Promise<OracleBenchRow[]> {
  const kvmNext = getProfile('kvm-next')!;
  const rows: OracleBenchRow[] = [];
  for (const [name, states] of Object.entries(sizes)) {
    const svm = getSvmAdapter(name);
    if (svm) {
      const cases = fc.sample(oracleSvmCase(await probeCpu(svm)), { numRuns: states, seed: 8 });
      rows.push(await row(name, states, jobs, (j) => runSvmOracleBatch(cases, svm, kvmNext, j)));
      continue;
    }
    const vmx = getVmxAdapter(name);
    if (vmx) {
      const cases = fc.sample(oracleVmxCase(await probeVmxCpu(vmx)), { numRuns: states, seed: 8 });
      rows.push(await row(name, states, jobs, (j) => runVmxOracleBatch(cases, vmx, kvmNext, j)));
    }
  }
  return rows;
}
