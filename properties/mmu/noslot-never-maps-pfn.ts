// An SPTE is built only from what its path produced: a pfn SPTE from a memslot's real page (never an
// error pfn, never the noslot pfn), an MMIO SPTE only through kvm_handle_noslot_fault (MMIO info
// cached, caching on and the gfn encodable, pfn = KVM_PFN_NOSLOT, hva = KVM_HVA_ERR_BAD), and a
// kvm_page_fault never carries pfn 0 / hva 0 as if they were real ("Initialize kvm_page_fault's pfn and
// hva to error values", "Set kvm_page_fault.hva to KVM_HVA_ERR_BAD for 'no slot' faults", "Sanity check
// that __kvm_faultin_pfn() doesn't create noslot pfns"; spec vmx-mmu.md §5.4–5.5, invariant (e)).

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { KVM_HVA_ERR_BAD, KVM_PFN_ERR_MASK, KVM_PFN_NOSLOT } from '../../src/engine/mmu/page_fault/result.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';
import { hex } from './_pf/expect.ts';

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'noslot-never-maps-pfn',
  area: 'mmu',
  title: 'pfn SPTEs come from real memslot pages, MMIO SPTEs only from the no-slot path, and pfn/hva are never a silent 0',
  rationale: 'KVM kvm_mmu_do_page_fault (pfn/hva initial values), kvm_handle_noslot_fault, __kvm_faultin_pfn sanity check, kvm_tdp_mmu_map',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    const r = runPageFault(s, ctx.profile);
    const f = r.fault;
    if (f && (f.pfn === 0n || f.hva === 0n)) return fail('zero-pfn-hva', `kvm_page_fault ended with pfn ${hex(f.pfn)} hva ${hex(f.hva)}: 0 is a real host page / address`, { pfn: f.pfn, hva: f.hva });
    if (!r.spte) return HOLDS;
    if (r.spte.kind === 'pfn') {
      if ((r.spte.pfn & (KVM_PFN_ERR_MASK | KVM_PFN_NOSLOT)) !== 0n) return fail('error-pfn-mapped', `an SPTE maps pfn ${hex(r.spte.pfn)}`, { pfn: r.spte.pfn });
      return HOLDS;
    }
    const gfn = r.spte.gfn;
    const problems: string[] = [];
    if (!r.mmio_cached || r.mmio_cached.gfn !== gfn) problems.push('no MMIO info cached');
    if (!s.mmio_caching) problems.push('MMIO caching is off');
    if (gfn > s.max_gfn) problems.push('the gfn is beyond kvm_mmu_max_gfn');
    if (f && f.pfn !== KVM_PFN_NOSLOT) problems.push(`pfn ${hex(f.pfn)}`);
    if (f && f.hva !== KVM_HVA_ERR_BAD) problems.push(`hva ${hex(f.hva)} (not KVM_HVA_ERR_BAD)`);
    if (problems.length) return fail('mmio-spte-outside-noslot', `an MMIO SPTE for gfn ${hex(gfn)} without the no-slot path: ${problems.join('; ')}`, { gfn });
    return HOLDS;
  },
};
