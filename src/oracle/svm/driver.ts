// The SVM oracle over a batch: order the states (poisoners last), run them on the emulator in
// one boot per instance, compare each with the engine, and re-run every unexplained disagreement
// alone in a fresh emulator, so a verdict never rests on state leaked from an earlier VMRUN
// (oracle.md §7: "whenever a batch verdict matters, re-run a disagreeing input alone").

import type { OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import { encodeVmcb } from '../../arch/svm/codec.ts';
import type { Profile } from '../../engine/profiles.ts';
import type { RawOutcome } from '../raw.ts';
import type { SvmAdapter } from './adapters.ts';
import { compareSvmState, type SvmComparison } from './compare.ts';

export interface SvmStateResult {
  index: number;
  c: OracleSvmCase;
  cmp: SvmComparison;
  /** The batch verdict differed and the state was re-run alone; `cmp` is the alone verdict. */
  rerunAlone: boolean;
  /** Re-running alone changed the emulator's verdict: the batch result had leaked state. */
  leaked: boolean;
}

export interface SvmBatchResult {
  results: SvmStateResult[];
  boots: number;
  emulatorMs: number;
}

/** At most this many disagreements per batch are re-run alone (each costs one boot). */
export const MAX_ALONE_RERUNS = 256;

export interface SvmBatchOptions {
  /** Re-run unexplained disagreements alone (default true; the shrinker confirms only its result). */
  verifyAlone?: boolean;
}

export async function runSvmOracleBatch(cases: OracleSvmCase[], adapter: SvmAdapter, profile: Profile, jobs: number, opts: SvmBatchOptions = {}): Promise<SvmBatchResult> {
  const order = cases.map((_, i) => i).sort((a, b) => Number(adapter.poisons(cases[a])) - Number(adapter.poisons(cases[b])) || a - b);
  const t0 = performance.now();
  const run = await adapter.runBatch(order.map((i) => encodeVmcb(cases[i].scenario.vmcb12)), jobs);
  const raw: RawOutcome[] = new Array(cases.length);
  order.forEach((i, k) => (raw[i] = run.outcomes[k]));
  let boots = run.boots;
  const results: SvmStateResult[] = cases.map((c, index) => ({ index, c, cmp: compareSvmState(c, raw[index], profile, adapter.name), rerunAlone: false, leaked: false }));
  const suspects = opts.verifyAlone === false ? [] : results.filter((r) => r.cmp.diff.length > 0 && !r.cmp.explainedBy).slice(0, MAX_ALONE_RERUNS);
  // One boot per suspect, `jobs` at a time.
  for (let k = 0; k < suspects.length; k += jobs) {
    const wave = suspects.slice(k, k + jobs);
    const alone = await Promise.all(wave.map((r) => adapter.runBatch([encodeVmcb(r.c.scenario.vmcb12)], 1)));
    wave.forEach((r, j) => {
      boots += alone[j].boots;
      const cmp = compareSvmState(r.c, alone[j].outcomes[0], profile, adapter.name);
      r.leaked = cmp.diff.join() !== r.cmp.diff.join() || cmp.explainedBy !== r.cmp.explainedBy;
      r.cmp = cmp;
      r.rerunAlone = true;
    });
  }
  return { results, boots, emulatorMs: performance.now() - t0 };
}
