// Metamorphic: the same faulting L2 access gives L1 the same injected exit whether the CPU performed
// it (a hardware #NPF / EPT violation that L0 reflects) or L0's emulator did (a fault KVM
// synthesizes). Where KVM knowingly differs from the CPU the difference is listed data
// (_data/known.ts) and reported only under --strict-arch.

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { runNestedFault, type NestedFaultResult } from '../../src/engine/mmu/nested_fault.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';
import { PARITY_DIVERGENCES } from './_data/known.ts';
import { hex } from './_lib.ts';

interface Field {
  name: string;
  hw: bigint | number | string;
  emu: bigint | number | string;
  /** The listed divergence that allows this field to differ. */
  listed?: string;
}

function fields(hw: NestedFaultResult, emu: NestedFaultResult): Field[] {
  const out: Field[] = [{ name: 'outcome', hw: hw.outcome, emu: emu.outcome }];
  if (hw.injected_svm && emu.injected_svm) {
    out.push({ name: 'exit_code', hw: hw.injected_svm.exit_code, emu: emu.injected_svm.exit_code });
    out.push({ name: 'exit_info_1', hw: hw.injected_svm.exit_info_1, emu: emu.injected_svm.exit_info_1 });
    out.push({ name: 'exit_info_2 page', hw: hw.injected_svm.exit_info_2 & ~0xfffn, emu: emu.injected_svm.exit_info_2 & ~0xfffn });
    out.push({ name: 'exit_info_2 offset', hw: hw.injected_svm.exit_info_2 & 0xfffn, emu: emu.injected_svm.exit_info_2 & 0xfffn, listed: 'synthesized-gpa-page-aligned' });
  }
  if (hw.injected_vmx && emu.injected_vmx) {
    out.push({ name: 'reason', hw: hw.injected_vmx.reason, emu: emu.injected_vmx.reason });
    out.push({ name: 'qual bits 0-8', hw: hw.injected_vmx.qual & 0x1ffn, emu: emu.injected_vmx.qual & 0x1ffn });
    out.push({ name: 'qual bits 9-11', hw: hw.injected_vmx.qual & 0xe00n, emu: emu.injected_vmx.qual & 0xe00n, listed: 'synthesized-no-advanced-info' });
    out.push({ name: 'gpa page', hw: hw.injected_vmx.gpa & ~0xfffn, emu: emu.injected_vmx.gpa & ~0xfffn });
    out.push({ name: 'gpa offset', hw: hw.injected_vmx.gpa & 0xfffn, emu: emu.injected_vmx.gpa & 0xfffn, listed: 'synthesized-gpa-page-aligned' });
    out.push({ name: 'gla', hw: hw.injected_vmx.gla, emu: emu.injected_vmx.gla, listed: 'synthesized-gla-stale' });
  }
  return out;
}

const show = (x: bigint | number | string): string => (typeof x === 'string' ? x : hex(x));

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'hardware-emulation-parity',
  area: 'mmu',
  title: 'a faulting L2 access injects the same exit into L1 whether the CPU or L0\'s emulator performed it',
  rationale: 'SDM vol. 3C §29.3.3.2, APM §15.25.6 (what the CPU reports); KVM FNAME(page_fault) (from_hardware = true) vs the emulator\'s gva_to_gpa walk (from_hardware = false), fe0b872d7500',
  arbitrary: () => nestedFaultCase({ programs: 'never' }),
  predicate(c, ctx): Verdict {
    const hw = runNestedFault({ ...c.scenario, performer: 'hardware' }, ctx.profile);
    const emu = runNestedFault({ ...c.scenario, performer: 'emulator' }, ctx.profile);
    for (const f of fields(hw, emu)) {
      if (f.hw === f.emu) continue;
      if (f.listed && !ctx.strictArch) continue;
      const d = f.listed ? PARITY_DIVERGENCES[f.listed] : undefined;
      return fail(d ? 'listed-divergence' : 'parity', `${f.name}: CPU ${show(f.hw)}, emulator ${show(f.emu)}${d ? ` (listed: ${d.id}: ${d.reason})` : ''}`, { field: f.name, listed: d?.id ?? null });
    }
    return HOLDS;
  },
};
