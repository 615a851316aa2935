// Every #NPF KVM injects into L1 carries exactly one of PFERR_GUEST_PAGE (bit 33) and
// PFERR_GUEST_FINAL (bit 32), and GUEST_PAGE exactly when the failed translation was of an L2
// paging-structure GPA (APM vol. 2 §15.25.6 "Nested versus Guest Page Faults, Fault Ordering":
// EXITINFO1 bit 32 = final guest-physical address, bit 33 = guest page table). 297c2fe249db.

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import { PFERR_GUEST_FAULT_STAGE_MASK } from '../../src/engine/mmu/types.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';
import { failedStage, hex, stageBit } from '../mmu/_lib.ts';

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'npf-fault-stage-exact',
  area: 'mmu',
  title: 'an injected #NPF has exactly one fault-stage bit, GUEST_PAGE iff a paging-structure GPA failed to translate',
  rationale: 'APM vol. 2 §15.25.6 (EXITINFO1 bits 32/33); KVM nested_svm_inject_npf_exit and walk_addr_generic (297c2fe249db "KVM: SVM: Fix nested NPF injection to set PFERR_GUEST_{PAGE,FINAL}_MASK")',
  arbitrary: () => nestedFaultCase({ flavour: 'svm' }),
  predicate(c, ctx): Verdict {
    const r = runNestedFault(c.scenario, ctx.profile);
    if (!r.injected_svm) return HOLDS;
    const stage = failedStage(r);
    const bits = r.injected_svm.exit_info_1 & PFERR_GUEST_FAULT_STAGE_MASK;
    if (stage === null) return fail('npf-without-nested-fault', `an #NPF was injected (exit_info_1 ${hex(r.injected_svm.exit_info_1)}) but no nested translation failed`);
    if (bits !== stageBit(stage)) {
      return fail('npf-wrong-stage', `the ${stage === 'page' ? 'paging-structure' : 'final'} translation failed (${r.injected_from_hardware ? 'hardware #NPF' : 'synthesized'}), but exit_info_1 ${hex(r.injected_svm.exit_info_1)} has stage bits ${hex(bits)}`,
        { from_hardware: r.injected_from_hardware, stage, exit_info_1: r.injected_svm.exit_info_1 });
    }
    return HOLDS;
  },
};
