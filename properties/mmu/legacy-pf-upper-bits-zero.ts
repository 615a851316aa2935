// A legacy #PF error code is 32 bits wide (SDM §4.7 / APM §8.4.2): what the #PF intercept hands to
// the fault handler has bits 63:32 clear, whatever the exit reported ("KVM: x86/mmu: WARN if upper 32
// bits of legacy #PF error code are non-zero"; spec vmx-mmu.md §5.2, invariant (a)).

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';
import { hex } from './_pf/expect.ts';

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'legacy-pf-upper-bits-zero',
  area: 'mmu',
  title: 'the error code of a #PF intercept reaches the fault handler with bits 63:32 clear',
  rationale: 'SDM vol. 3A §4.7 (the #PF error code); KVM kvm_handle_page_fault',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    if (c.scenario.entry !== 'pf-intercept') return HOLDS;
    const r = runPageFault(c.scenario, ctx.profile);
    const ec = r.error_code_in ?? 0n;
    if (ec >> 32n !== 0n) return fail('upper-bits', `kvm_mmu_page_fault got ${hex(ec)} from the #PF intercept: bits 63:32 are ${hex(ec >> 32n)}`, { error_code: ec });
    return HOLDS;
  },
};
