// "L2 never reaches L0's x2APIC" (CVE-2019-3887): vmcs02's merged MSR bitmap passes an x2APIC MSR
// (0x800-0x8ff) through only when vmcs12 virtualizes x2APIC mode (so the CPU serves the access from
// the virtual-APIC page), only accesses L1's own MSR bitmap passes, and only the ones the SDM
// virtualizes: TPR read/write, every read with APIC-register virtualization, EOI and SELF_IPI writes
// with virtual-interrupt delivery (SDM vol.3C §30.5 "Virtualizing MSR-based APIC accesses").

import fc from 'fast-check';
import { CPU_BASED, SECONDARY } from '../../src/arch/vmx/controls.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import type { VmxScenario } from '../../src/engine/vmx/scenario.ts';
import { buildVmxCase, vmxBaseChoice, vmxCase, VMX_SCENARIO_MUTATION_IDS, type AppliedVmxCaseMutation } from '../../src/arbitraries/vmxScenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';
import { l1BitmapPasses } from './_lib.ts';

const TPR = 0x808, EOI = 0x80b, SELF_IPI = 0x83f;

/** vmcs12's secondary controls as they take effect (only with ACTIVATE_SECONDARY_CONTROLS). */
function sec12(s: VmxScenario): number {
  const v = s.vmcs12;
  return (v.cpu_based_vm_exec_control & CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) !== 0 ? v.secondary_vm_exec_control >>> 0 : 0;
}

/** Why a pass-through token is not allowed; null when it is. */
export function tokenProblem(s: VmxScenario, token: string): string | null {
  const m = /^([rw]):0x([0-9a-f]+)$/.exec(token);
  if (!m) return `malformed token ${token}`;
  const write = m[1] === 'w';
  const msr = parseInt(m[2], 16);
  if (msr < 0x800 || msr > 0x8ff) return `${token} is not an x2APIC MSR`;
  if ((s.vmcs12.cpu_based_vm_exec_control & CPU_BASED.USE_MSR_BITMAPS) === 0) return `${token} passed although vmcs12 has no MSR bitmaps (every access exits to L1)`;
  if (!l1BitmapPasses(s, s.vmcs12.msr_bitmap, msr, write)) return `${token} passed although L1's MSR bitmap intercepts it`;
  const sec = sec12(s);
  if (msr === TPR) return null;
  if (!write && (sec & SECONDARY.APIC_REGISTER_VIRT) !== 0) return null;
  if (write && (msr === EOI || msr === SELF_IPI) && (sec & SECONDARY.VIRTUAL_INTR_DELIVERY) !== 0) return null;
  return `${token} is not an access x2APIC virtualization serves with vmcs12's controls (secondary 0x${sec.toString(16)})`;
}

/** vmxCase biased to APIC virtualization and x2APIC RDMSR/WRMSR in L2 (plain vmxCase a quarter of the time). */
export function x2apicCase(): fc.Arbitrary<VmxCase> {
  const muts = fc.array(fc.tuple(fc.constantFrom(...VMX_SCENARIO_MUTATION_IDS), fc.nat({ max: 255 })), { maxLength: 3 });
  const biased = fc
    .tuple(vmxBaseChoice(), fc.constantFrom('apic-reg-virt', 'virt-x2apic', 'tpr-shadow') as fc.Arbitrary<'apic-reg-virt' | 'virt-x2apic' | 'tpr-shadow'>,
      fc.constantFrom('rdmsr-x2apic', 'wrmsr-x2apic') as fc.Arbitrary<'rdmsr-x2apic' | 'wrmsr-x2apic'>, muts)
    .map(([choice, apicv, l2, ms]) => buildVmxCase({ ...choice, apicv, l2 }, ms as AppliedVmxCaseMutation[]));
  return fc.oneof({ arbitrary: biased, weight: 3 }, { arbitrary: vmxCase(), weight: 1 });
}

export const property: NestfuzzProperty<VmxCase> = {
  id: 'x2apic-msrs-intercepted',
  area: 'vmx',
  title: 'vmcs02 passes x2APIC MSRs to L2 only with virtualize-x2APIC mode and only what L1 and the SDM allow',
  rationale: 'SDM vol.3C §30.5 (virtualizing MSR-based APIC accesses), §25.6.9 (MSR bitmaps); KVM nested.c nested_vmx_prepare_msr_bitmap, "KVM: x86: nVMX: close leak of L0\'s x2APIC MSRs" (CVE-2019-3887, acd6f43)',
  arbitrary: () => x2apicCase(),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    const r = runVmx(s, ctx.profile);
    if (r.l2_event === 'l0-x2apic-accessed') return fail('l0-x2apic-accessed', `L2's ${s.l2.kind} reached L0's x2APIC without a VM exit`, { l2: s.l2.kind });
    const pass = r.vmcs02?.x2apic_passthrough ?? [];
    if (pass.length === 0) return HOLDS;
    if ((r.vmcs02!.secondary & SECONDARY.VIRTUALIZE_X2APIC_MODE) === 0) {
      return fail('passthrough-without-x2apic-mode', `vmcs02 passes ${pass.join(', ')} without virtualize-x2APIC mode`, { tokens: pass });
    }
    for (const tok of pass) {
      const why = tokenProblem(s, tok);
      if (why) return fail('passthrough-not-allowed', why, { token: tok });
    }
    return HOLDS;
  },
};
