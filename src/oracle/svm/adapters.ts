// The SVM adapters: how a batch of VMCB pages reaches an emulator, which CPU model it is, and which
// states leave the emulator in a state that leaks into later VMRUNs of the same process.

import type { OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import { CR0, CR4, EFER } from '../../arch/svm/defs.ts';
import { BOCHS_SVM_CPU, runBochsSvm } from '../bochs.ts';
import { QEMU_CPU, runQemuSvm } from '../qemu.ts';
import type { BatchRun } from '../raw.ts';

export interface SvmAdapter {
  name: string;
  model: string;
  runBatch(pages: Uint8Array[], jobs: number): Promise<BatchRun>;
  /**
   * States after which later VMRUNs in the same process are known to misbehave: the driver runs
   * them at the end of a batch, and re-runs any unexplained disagreement alone.
   */
  poisons(c: OracleSvmCase): boolean;
}

export const QEMU_SVM: SvmAdapter = {
  name: 'qemu-svm',
  model: QEMU_CPU,
  runBatch: runQemuSvm,
  poisons: (c) => {
    const s = c.scenario.vmcb12.save;
    // oracle.md §7: after a guest with EFER.LME=1, CR0.PG=0, CR4.PAE=0, later NPT VMRUNs run as if NPT were off.
    const lmeNoPaging = (s.efer & EFER.LME) !== 0n && (s.cr0 & CR0.PG) === 0n && (s.cr4 & CR4.PAE) === 0n;
    // Measured here: a 64-bit L2 whose INT3 QEMU delivers through the IDT (instead of the #BP
    // intercept) leaves later states' event delivery failing with #GP(IDT vector).
    const int3 = c.choice.snippet === 'int3';
    return lmeNoPaging || int3;
  },
};

export const BOCHS_SVM: SvmAdapter = {
  name: 'bochs-svm',
  model: BOCHS_SVM_CPU,
  runBatch: runBochsSvm,
  poisons: () => false,
};

const ADAPTERS: readonly SvmAdapter[] = [QEMU_SVM, BOCHS_SVM];

export function getSvmAdapter(name: string): SvmAdapter | undefined {
  return ADAPTERS.find((a) => a.name === name);
}

export const SVM_ADAPTER_NAMES: readonly string[] = ADAPTERS.map((a) => a.name);
