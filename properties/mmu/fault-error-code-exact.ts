// No error-code bit is lost or invented between the hardware exit and kvm_mmu_page_fault: the u64 it
// receives is exactly what the entry point's rules make of the hardware's (a 32-bit legacy #PF code;
// an #NPF code with GUEST_FINAL/GUEST_PAGE and the SEV bits intact; an EPT violation's code built from
// the qualification). "KVM: x86/mmu: Pass full 64-bit error code when handling page faults".

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';
import { expectedEntryErrorCode, hex } from './_pf/expect.ts';

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'fault-error-code-exact',
  area: 'mmu',
  title: 'kvm_mmu_page_fault receives the full 64-bit error code the entry point derives from the hardware exit',
  rationale: 'APM vol. 2 §15.25.6 (#NPF EXITINFO1 bits 32-36), SDM Table 28-7; KVM kvm_handle_page_fault, npf_interception, __vmx_handle_ept_violation, kvm_mmu_page_fault(u64 error_code)',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    const r = runPageFault(c.scenario, ctx.profile);
    const want = expectedEntryErrorCode(c.scenario);
    if (r.error_code_in !== want) {
      return fail('error-code-changed', `kvm_mmu_page_fault got ${hex(r.error_code_in ?? 0n)}, the ${c.scenario.entry} entry should pass ${hex(want)} (lost ${hex(want & ~(r.error_code_in ?? 0n))}, added ${hex((r.error_code_in ?? 0n) & ~want)})`,
        { got: r.error_code_in, want });
    }
    return HOLDS;
  },
};
