// Small helpers shared by the SVM invariants (no engine logic here).

import { diffVmcb } from '../../src/arch/svm/diff.ts';
import type { Vmcb } from '../../src/arch/svm/vmcb.ts';
import type { ArchRegs } from '../../src/engine/vcpu.ts';
import type { L1View } from '../../src/engine/svm/run.ts';

export const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** Paths of vmcb12 fields that differ ('vmcb12.control.exit_code', 'vmcb12.save.cs.attrib', ...). */
export function vmcbChanges(a: Vmcb | null, b: Vmcb | null): string[] {
  if (!a || !b) return a === b ? [] : ['vmcb12'];
  return diffVmcb(a, b).map((d) => `vmcb12.${d.path}`);
}

export function regChanges(a: ArchRegs, b: ArchRegs): string[] {
  return (Object.keys(a) as (keyof ArchRegs)[]).filter((k) => a[k] !== b[k]).map((k) => `regs.${k}`);
}

/** Every L1-visible difference between two views, as paths. */
export function l1ViewChanges(a: L1View, b: L1View): string[] {
  const out = [...regChanges(a.regs, b.regs), ...vmcbChanges(a.vmcb12, b.vmcb12)];
  if (a.gif !== b.gif) out.push('gif');
  if (a.guest_mode !== b.guest_mode) out.push('guest_mode');
  if (a.cpl !== b.cpl) out.push('cpl');
  if (JSON.stringify(a.exception) !== JSON.stringify(b.exception)) out.push('exception');
  if (a.triple_fault !== b.triple_fault) out.push('triple_fault');
  return out;
}

export const VMRUN_LEN = 3n;
