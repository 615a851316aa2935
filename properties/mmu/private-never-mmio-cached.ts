// A private access never goes through the MMIO machinery: no MMIO info cached, no MMIO SPTE, and a
// reserved-bit fault with PRIVATE_ACCESS is refused before the MMIO cache is consulted ("KVM: x86/mmu:
// WARN and skip MMIO cache on private, reserved page faults", "Explicitly disallow private accesses to
// emulated MMIO"; spec vmx-mmu.md §5.3 step 3, §5.5 kvm_handle_noslot_fault, invariant (b)).

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';
import { expectedPrivate, hex } from './_pf/expect.ts';

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'private-never-mmio-cached',
  area: 'mmu',
  title: 'a private access is never cached as MMIO nor mapped with an MMIO SPTE',
  rationale: 'KVM kvm_mmu_page_fault (RSVD && PRIVATE_ACCESS ⇒ WARN, -EFAULT), kvm_handle_noslot_fault (private ⇒ memory-fault exit)',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    const r = runPageFault(c.scenario, ctx.profile);
    if (!(r.fault?.is_private || expectedPrivate(c.scenario))) return HOLDS;
    if (r.mmio_cached) return fail('private-mmio-cached', `the private access to ${hex(c.scenario.address)} was handled as MMIO (MMIO info cached for gfn ${hex(r.mmio_cached.gfn)})`, { gfn: r.mmio_cached.gfn });
    if (r.spte?.kind === 'mmio') return fail('private-mmio-spte', `an MMIO SPTE was installed for the private access to ${hex(c.scenario.address)}`, { gfn: r.spte.gfn });
    return HOLDS;
  },
};
