// No WARN fires on the MMU page-fault path for input real hardware and a correct KVM can produce.
// The sanity checks that exist to catch impossible input (upper bits of a legacy #PF code, synthetic
// bits in an #NPF code, a reserved-bit fault on a private access: KVM never installs an MMIO SPTE for
// a private gfn) are allowed to fire on exactly that input, which the generator makes on purpose.

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';

/** WARN site → the impossible input it guards against. */
const GUARDS: Record<string, string> = {
  'kvm_handle_page_fault-upper-bits': 'a legacy #PF error code with bits 63:32 set',
  'npf_interception-synthetic-bits': 'an #NPF error code with KVM-synthetic bits',
  'kvm_mmu_page_fault-private-rsvd': 'a reserved-bit (MMIO SPTE) fault on a private access',
};

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'page-fault-no-warn',
  area: 'mmu',
  title: 'the MMU page-fault path WARNs only on the impossible input its sanity checks exist for',
  rationale: 'KVM WARN_ON_ONCE sites in kvm_handle_page_fault, npf_interception, kvm_mmu_page_fault, __kvm_faultin_pfn',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    const r = runPageFault(c.scenario, ctx.profile);
    for (const w of r.trace.warns()) {
      if (!(w in GUARDS)) return fail('warn', `WARN: ${w}`, { site: w });
    }
    return HOLDS;
  },
};
