// An async page fault is never set up for a private fault: guest_memfd pages are not faulted in by
// the async worker, and the work item's stored error code must not carry PRIVATE_ACCESS ("KVM:
// x86/mmu: check for invalid async page faults involving private memory"; spec vmx-mmu.md §5.5).

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';
import { expectedPrivate, hex, PRIVATE_ACCESS } from './_pf/expect.ts';

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'async-pf-never-private',
  area: 'mmu',
  title: 'no async page fault is queued for a private fault',
  rationale: 'KVM __kvm_faultin_pfn / kvm_faultin_pfn_private (no async path), kvm_arch_async_page_ready (WARN on PRIVATE_ACCESS)',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    const r = runPageFault(c.scenario, ctx.profile);
    if (!r.async_pf) return HOLDS;
    if ((r.async_pf.error_code & PRIVATE_ACCESS) !== 0n || r.fault?.is_private || expectedPrivate(c.scenario)) {
      return fail('private-async-pf', `an async PF was queued for the private fault at gfn ${hex(r.async_pf.gfn)} (error code ${hex(r.async_pf.error_code)})`, { gfn: r.async_pf.gfn });
    }
    return HOLDS;
  },
};
