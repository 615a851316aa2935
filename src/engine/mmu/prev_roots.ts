// L0's cache of previous shadow-EPT roots (kvm_mmu.prev_roots): when L1 switches EPTPs, or the same
// EPT tables are used with other EPTP attributes (e.g. A/D enabled), KVM keeps up to three earlier
// shadow roots so a switch back is cheap. A fault KVM injects into L1 tells L1 to fix its EPT; any
// cached root built from the same EPT tables must then forget the faulting GPA, or L2 keeps running
// on a stale shadow translation after L1 fixed it (nested_ept_invalidate_addr, called from
// nested_ept_inject_page_fault for EPT violations and misconfigs; spec vmx-mmu.md §3.1 step 4, §6 #14).

import { has, type Profile } from '../profiles.ts';
import type { Trace } from '../trace.ts';

/** One cached shadow root: the EPTP it shadows and the L2 GPA pages it holds translations for. */
export interface PrevRoot {
  eptp: bigint;
  valid: boolean;
  /** Page-aligned L2 GPAs with a shadow translation in this root. */
  mapped: bigint[];
}

const EP4TA = 0x000ffffffffff000n;

/** nested_ept_invalidate_addr: drop `gpa`'s page from every valid cached root whose EP4TA is the EPTP's. */
export function nested_ept_invalidate_addr(t: Trace, p: Profile, roots: readonly PrevRoot[], eptp: bigint, gpa: bigint): PrevRoot[] {
  const page = gpa & ~0xfffn;
  if (!has(p, 'vmx-ept-invalidate-prev-roots')) return roots.map((r) => ({ ...r, mapped: [...r.mapped] }));
  return roots.map((r) => {
    if (!r.valid || (r.eptp & EP4TA) !== (eptp & EP4TA) || !r.mapped.includes(page)) return { ...r, mapped: [...r.mapped] };
    t.emit('nested_ept_invalidate_addr', { eptp: r.eptp, gpa: page });
    return { ...r, mapped: r.mapped.filter((g) => g !== page) };
  });
}
