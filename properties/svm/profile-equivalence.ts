// `fuzz --compare A,B`: the same scenarios through two kernel profiles; every difference in
// L1-visible state is reported unless it is a listed, expected difference of that pair
// (EXPECTED_PROFILE_DIFFS). Against unified-v4 this shows the v4 ordering flaw (nested_svm_load_cr3
// judged on L1's paging mode) as an unexpected difference.

import { RFLAGS } from '../../src/arch/svm/defs.ts';
import { is_pae_paging } from '../../src/engine/svm/nested/cr3.ts';
import { run, type SvmRunResult } from '../../src/engine/svm/run.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';
import { EXPECTED_PROFILE_DIFFS, type ExpectedProfileDiff } from './_data/known.ts';
import { l1ViewChanges } from './_lib.ts';

function applies(d: ExpectedProfileDiff, a: SvmRunResult, b: SvmRunResult, tf: boolean): boolean {
  switch (d.when) {
    case 'late-failure':
      return a.stage === 'late' || b.stage === 'late';
    case 'early-failure-with-tf':
      return tf && (a.stage === 'early' || b.stage === 'early');
    case 'any-failure-with-tf':
      return tf && (a.stage !== null || b.stage !== null);
    case 'early-failure-l1-pae':
      return (a.stage === 'early' || b.stage === 'early') && is_pae_paging(a.before.regs);
  }
}

export function unexpectedDifferences(a: SvmRunResult, b: SvmRunResult, pa: string, pb: string, tf: boolean, strict: boolean): string[] {
  const diffs: string[] = [];
  // A triple fault shuts the VM down: nothing after it is L1-visible.
  if (a.outcome === 'triple-fault' && b.outcome === 'triple-fault') return diffs;
  if (a.outcome !== b.outcome) diffs.push(`outcome (${a.outcome} vs ${b.outcome})`);
  if (a.l2_exit_code !== b.l2_exit_code) diffs.push('l2_exit_code');
  diffs.push(...l1ViewChanges(a.after, b.after));
  if (strict) return diffs;
  const listed = EXPECTED_PROFILE_DIFFS.filter((d) => d.pair.includes(pa) && d.pair.includes(pb) && pa !== pb && applies(d, a, b, tf));
  return diffs.filter((p) => !listed.some((d) => d.paths.some((pre) => p === pre || p.startsWith(pre))));
}

export const property: NestfuzzProperty<SvmCase> = {
  id: 'profile-equivalence',
  area: 'svm',
  title: 'two kernel profiles give the same L1-visible result, apart from listed differences',
  rationale: 'spec svm.md §2.5: what the unified VMRUN-failure series changes for L1; review of v4 (load_cr3 before L2 CR0/CR4/EFER)',
  compares: true,
  arbitrary: () => svmCase(),
  predicate(c, ctx): Verdict {
    if (!ctx.other) return HOLDS;
    const a = run(c.scenario, ctx.profile);
    const b = run(c.scenario, ctx.other);
    const tf = (c.scenario.l1.rflags & RFLAGS.TF) !== 0n;
    const diffs = unexpectedDifferences(a, b, ctx.profile.name, ctx.other.name, tf, ctx.strictArch);
    if (diffs.length) {
      return fail('profiles-differ', `${ctx.profile.name} vs ${ctx.other.name}: ${diffs.join(', ')}`, {
        [ctx.profile.name]: { outcome: a.outcome, failed_checks: a.trace.failedChecks() },
        [ctx.other.name]: { outcome: b.outcome, failed_checks: b.trace.failedChecks() },
      });
    }
    return HOLDS;
  },
};
