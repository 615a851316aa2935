// While L2 runs, L1's APIC-access page is never mapped into L2 (the access is emulated MMIO), but the
// other KVM-internal slots (TSS, identity-map page table) are ordinary memory: they are mapped, not
// forced to emulation ("KVM: x86/mmu: Don't force emulation of L2 accesses to non-APIC internal
// slots", Fixes 3a2936dedd20; spec vmx-mmu.md §5.5 step 5, invariant (f)).

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';
import { hex } from './_pf/expect.ts';

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'l2-internal-slots',
  area: 'mmu',
  title: 'in guest mode the APIC-access slot takes the no-slot path and other internal slots are mapped',
  rationale: 'KVM kvm_faultin_pfn (APIC_ACCESS_PAGE_PRIVATE_MEMSLOT && is_guest_mode ⇒ kvm_handle_noslot_fault)',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    if (!s.guest_mode) return HOLDS;
    const gfn = BigInt.asUintN(64, s.address) >> 12n;
    const slot = s.memslots.find((m) => gfn >= m.base_gfn && gfn < m.base_gfn + m.npages);
    if (!slot?.internal) return HOLDS;
    const r = runPageFault(s, ctx.profile);
    if (slot.internal === 'apic-access') {
      if (r.spte?.kind === 'pfn') return fail('apic-page-mapped-for-l2', `L1's APIC-access page (gfn ${hex(gfn)}) was mapped into L2`, { gfn });
      return HOLDS;
    }
    if (r.mmio_cached || r.spte?.kind === 'mmio' || r.emulated) {
      return fail('internal-slot-emulated', `L2's access to the ${slot.internal} slot (gfn ${hex(gfn)}) was handled as MMIO / emulated instead of mapped`, { slot: slot.internal });
    }
    return HOLDS;
  },
};
