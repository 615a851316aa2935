// Every KVM_EXIT_MEMORY_FAULT is exact and comes with -EFAULT: gpa = the faulting page, size = one
// page, flags = PRIVATE exactly for a private access. And a fault whose privacy disagrees with the
// gfn's attribute ends in that exit before any memslot is looked at ("Move private vs. shared check
// above slot validity checks"; kvm_prepare_memory_fault_exit; spec vmx-mmu.md §5.5 step 2, (c)).

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';
import { expectedHandledErrorCode, expectedPrivate, gfnIsPrivate, hex, RSVD } from './_pf/expect.ts';

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'memory-fault-exit-exact',
  area: 'mmu',
  title: 'a memory-fault exit has the exact gpa, size and flags, with -EFAULT; a private/shared mismatch always exits',
  rationale: 'KVM kvm_prepare_memory_fault_exit (include/linux/kvm_host.h), kvm_faultin_pfn private/shared check; uapi struct kvm_run.memory_fault',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    const r = runPageFault(s, ctx.profile);
    const page = (BigInt.asUintN(64, s.address) >> 12n) << 12n;
    const priv = expectedPrivate(s);
    if (r.exit) {
      if (r.errno !== -14) return fail('exit-without-efault', `a memory-fault exit was prepared but the ioctl returns ${r.errno || r.ret}`);
      const want = { gpa: page, size: 0x1000n, flags: priv ? 8n : 0n };
      for (const k of ['gpa', 'size', 'flags'] as const) {
        if (r.exit[k] !== want[k]) return fail('exit-field', `memory_fault.${k} is ${hex(r.exit[k])}, expected ${hex(want[k])}`, { field: k });
      }
    }
    // Reserved-bit faults never reach the private/shared check (MMIO cache or the WARN path).
    if ((expectedHandledErrorCode(s) & RSVD) === 0n && priv !== gfnIsPrivate(s)) {
      if (!r.exit || r.errno !== -14 || r.spte || r.emulated) {
        return fail('mismatch-not-exited', `a ${priv ? 'private' : 'shared'} fault on a ${priv ? 'shared' : 'private'} gfn ended in ${r.errno || r.ret}${r.emulated ? ' (emulated)' : ''} instead of a memory-fault exit`, { private: priv });
      }
    }
    return HOLDS;
  },
};
