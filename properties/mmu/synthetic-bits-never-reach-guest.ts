// KVM's synthetic error-code bits mean what KVM says they mean: PRIVATE_ACCESS is on the fault KVM
// handles exactly when KVM's own rule puts it there (an SNP C-bit access, or a software-protected VM's
// private gfn), IMPLICIT_ACCESS never on a hardware-reported fault. Bits 48/49 arriving from the
// hardware (or a guest-controlled exit) are cleared with a WARN, never trusted ("KVM: x86/mmu: Move
// synthetic PFERR_* sanity checks to SVM's #NPF handler", "Use synthetic page fault error code to
// indicate private faults"; spec vmx-mmu.md §5.1–5.3).

import { pageFaultCase } from '../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../src/engine/mmu/page_fault/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PageFaultCase, type Verdict } from '../types.ts';
import { expectedPrivate, hex, IMPLICIT_ACCESS, PRIVATE_ACCESS } from './_pf/expect.ts';

export const property: NestfuzzProperty<PageFaultCase> = {
  id: 'synthetic-bits-never-reach-guest',
  area: 'mmu',
  title: 'IMPLICIT_ACCESS / PRIVATE_ACCESS on a fault come only from KVM\'s own rules, never from the hardware error code',
  rationale: 'KVM npf_interception (synthetic bits WARN + clear, SNP GUEST_ENC ⇒ PRIVATE_ACCESS), kvm_mmu_page_fault (SW-protected private gfn ⇒ PRIVATE_ACCESS)',
  arbitrary: () => pageFaultCase(),
  predicate(c, ctx): Verdict {
    const r = runPageFault(c.scenario, ctx.profile);
    const ec = r.error_code_handled;
    if (ec === null) return HOLDS;
    if ((ec & IMPLICIT_ACCESS) !== 0n) return fail('implicit-from-hardware', `the fault is handled as an implicit access (error code ${hex(ec)}): IMPLICIT_ACCESS came from the hardware error code`);
    const want = expectedPrivate(c.scenario);
    if (((ec & PRIVATE_ACCESS) !== 0n) !== want) {
      return fail('private-bit-wrong', `PRIVATE_ACCESS is ${(ec & PRIVATE_ACCESS) !== 0n ? 'set' : 'clear'} (error code ${hex(ec)}) but KVM's rule says ${want ? 'private' : 'shared'}`, { error_code: ec });
    }
    return HOLDS;
  },
};
