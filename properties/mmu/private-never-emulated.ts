// A private fault is never emulated: KVM cannot decode or emulate an access to private memory, so a
// private fault that would end in emulation exits to userspace with -EFAULT and a
// KVM_EXIT_MEMORY_FAULT instead ("KVM: x86/mmu: Exit to userspace with -EFAULT if private fault hits
// emulation"; spec vmx-mmu.md §5.4, invariant (b)).

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';
import { expectedPrivate, hex } from './_pf/expect.ts';

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'private-never-emulated',
  area: 'mmu',
  title: 'a private fault never reaches the instruction emulator',
  rationale: 'KVM kvm_mmu_do_page_fault (RET_PF_EMULATE && is_private ⇒ memory-fault exit, -EFAULT); "Exit to userspace with -EFAULT if private fault hits emulation"',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    const r = runPageFault(c.scenario, ctx.profile);
    if (!(r.fault?.is_private || expectedPrivate(c.scenario)) || !r.emulated) return HOLDS;
    return fail('private-emulated', `the private fault at ${hex(c.scenario.address)} was emulated (${r.path.slice(-2).join('; ')})`, { gpa: c.scenario.address });
  },
};
