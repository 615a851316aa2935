// Helpers shared by the nested-fault invariants: which stage a nested fault is in, and re-running a
// case with other stale exit information (the metamorphic relation of the "never stale" invariants).

import type { NestedFaultResult, NestedFaultScenario } from '../../src/engine/mmu/nested_fault.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import { PFERR } from '../../src/engine/mmu/types.ts';
import type { Profile } from '../../src/engine/profiles.ts';

export const hex = (v: bigint | number): string => '0x' + v.toString(16);

/** The stage of the translation that failed, as the walk that found it says ('page' or 'final'), or null. */
export function failedStage(r: NestedFaultResult): 'page' | 'final' | null {
  const w = r.cpu_walk ?? r.walk;
  if (w.ok) return null;
  if (w.stage === 'nested-page') return 'page';
  if (w.stage === 'nested-final') return 'final';
  return null;
}

export function stageBit(stage: 'page' | 'final'): bigint {
  return stage === 'page' ? PFERR.GUEST_PAGE : PFERR.GUEST_FINAL;
}

/** Stale exit information no real exit would carry: every bit set, and every bit clear. */
export const STALE_VARIANTS: readonly [bigint, bigint, bigint][] = [
  [0xffffffffffffffffn, 0xffffffffffffffffn, 0xffffffffffffffffn],
  [0n, 0n, 0n],
];

/** The same scenario with other stale vmcb02 / vmcs02 exit information (exit kind kept). */
export function withStale(s: NestedFaultScenario, v: readonly [bigint, bigint, bigint]): NestedFaultScenario {
  return {
    ...s,
    stale_svm: { exit_code: s.stale_svm.exit_code, exit_info_1: v[0], exit_info_2: v[1] },
    stale_vmx: { reason: s.stale_vmx.reason, qual: s.stale_vmx.reason === 48 ? v[0] & 0xfffn : v[0], gpa: v[1], gla: v[2] },
  };
}

export function rerun(s: NestedFaultScenario, p: Profile): NestedFaultResult {
  return runNestedFault(s, p);
}
