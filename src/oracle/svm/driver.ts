// The SVM oracle over a batch: order the states (poisoners last), run them on the emulator in
// one boot per instance, compare each with the engine, and re-run every unexplained disagreement
// alone in a fresh emulator, so a verdict never rests on state leaked from an earlier VMRUN
// (oracle.md §7: "whenever a batch verdict matters, re-run a disagreeing input alone").

import type { OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import { encodeVmcbInto } from '../../arch/svm/codec.ts';
import type { Profile } from '../../engine/profiles.ts';
import type { RawOutcome } from '../raw.ts';
import type { SvmAdapter } from './adapters.ts';
import { runOracleBatch } from '../batch.ts';
import { encodedStates } from '../statePages.ts';
import type { OracleBatchResult, OracleStateResult } from '../tally.ts';
import { compareSvmState } from './compare.ts';
import type { SvmVerdict } from './verdict.ts';

export type SvmStateResult = OracleStateResult<OracleSvmCase, SvmVerdict>;
export type SvmBatchResult = OracleBatchResult<OracleSvmCase, SvmVerdict>;

/** At most this many disagreements per batch are re-run alone (each costs one boot). */
export const MAX_ALONE_RERUNS = 64;

/** The harness's input page of an SVM state: its VMCB12. */
export const encodeSvmCase = (dst: Uint8Array, c: OracleSvmCase): void => encodeVmcbInto(dst, c.scenario.vmcb12);

const unexplained = (r: SvmStateResult): boolean => r.cmp.diff.length > 0 && !r.cmp.explainedBy;

/** Re-runs `rs` in one fresh emulator (poisoners last) or each alone, replacing their verdicts; returns boots. */
async function rerun(rs: SvmStateResult[], adapter: SvmAdapter, profile: Profile, jobs: number, alone: boolean): Promise<number> {
  let boots = 0;
  const groups = alone ? rs.map((r) => [r]) : [[...rs].sort((a, b) => Number(adapter.poisons(a.c)) - Number(adapter.poisons(b.c)))];
  for (let k = 0; k < groups.length; k += jobs) {
    const wave = groups.slice(k, k + jobs);
    const runs = await Promise.all(wave.map((g) => adapter.runBatch([encodedStates(g.map((r) => r.c), encodeSvmCase)], 1)));
    wave.forEach((g, w) => {
      boots += runs[w].boots;
      g.forEach((r, j) => {
        const cmp = compareSvmState(r.c, runs[w].outcomes[j], profile, adapter.name);
        r.leaked ||= cmp.diff.join() !== r.cmp.diff.join() || cmp.explainedBy !== r.cmp.explainedBy;
        r.cmp = cmp;
        r.rerunAlone ||= alone;
      });
    });
  }
  return boots;
}

/**
 * Leaked state makes a batch verdict suspect (oracle.md §7). Every unexplained disagreement runs
 * again in one fresh emulator with only the suspects; then the first of each kind (same verdicts
 * and differing fields) runs alone, and when that changes its verdict, every suspect of its kind
 * does (at most MAX_ALONE_RERUNS boots).
 */
async function verifySuspects(results: SvmStateResult[], adapter: SvmAdapter, profile: Profile, jobs: number): Promise<number> {
  const suspects = results.filter(unexplained);
  if (suspects.length === 0) return 0;
  let boots = await rerun(suspects, adapter, profile, jobs, false);
  const kinds = new Map<string, SvmStateResult[]>();
  for (const r of suspects.filter(unexplained)) {
    const k = `${r.cmp.engine.kind}|${r.cmp.emu.kind}|${r.cmp.diff.join()}`;
    kinds.set(k, [...(kinds.get(k) ?? []), r]);
  }
  const firsts = [...kinds.values()].map((g) => g[0]).slice(0, MAX_ALONE_RERUNS);
  const before = new Map(firsts.map((r) => [r, r.cmp.diff.join()]));
  boots += await rerun(firsts, adapter, profile, jobs, true);
  let budget = MAX_ALONE_RERUNS - firsts.length;
  for (const g of kinds.values()) {
    if (budget <= 0) break;
    if (g[0].cmp.diff.join() === before.get(g[0])) continue;
    const rest = g.slice(1, 1 + budget);
    budget -= rest.length;
    boots += await rerun(rest, adapter, profile, jobs, true);
  }
  return boots;
}

export interface SvmBatchOptions {
  /** Re-run unexplained disagreements alone (default true; the shrinker confirms only its result). */
  verifyAlone?: boolean;
}

export function runSvmOracleBatch(cases: OracleSvmCase[], adapter: SvmAdapter, profile: Profile, jobs: number, opts: SvmBatchOptions = {}): Promise<SvmBatchResult> {
  return runOracleBatch<OracleSvmCase, RawOutcome, SvmVerdict, SvmAdapter>({
    cases, adapter, jobs,
    encodeInto: encodeSvmCase,
    compare: (c, raw) => compareSvmState(c, raw, profile, adapter.name),
    verify: opts.verifyAlone === false ? null : (results, emulator) => verifySuspects(results, emulator, profile, jobs),
  });
}
