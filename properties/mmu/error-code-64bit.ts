// No error-code bit is lost between the walker and the injection: a nested fault found by an NPT walk
// carries its fault-stage bit (32/33) in x86_exception.error_code, and the injected #NPF's
// exit_info_1 equals it (bits 31:0 from the walker, the stage from the walker or the CPU).
// x86_exception.error_code was u16 before 297c2fe249db.

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import { PFERR_GUEST_FAULT_STAGE_MASK } from '../../src/engine/mmu/types.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';
import { failedStage, hex, stageBit } from './_lib.ts';

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'error-code-64bit',
  area: 'mmu',
  title: 'the walker\'s 64-bit error code (fault-stage bits included) reaches the injected #NPF intact',
  rationale: 'APM vol. 2 §15.25.6; KVM struct x86_exception.error_code u64 and walk_addr_generic (297c2fe249db); spec vmx-mmu.md §4.5, §6 #2 and #17',
  arbitrary: () => nestedFaultCase({ flavour: 'svm' }),
  predicate(c, ctx): Verdict {
    const r = runNestedFault(c.scenario, ctx.profile);
    if (r.walk.ok || !r.walk.fault.nested_page_fault) return HOLDS;
    const stage = failedStage(r);
    const ec = r.walk.fault.error_code;
    if (stage !== null && (ec & PFERR_GUEST_FAULT_STAGE_MASK) !== stageBit(stage)) {
      return fail('error-code-truncated', `the walker's nested fault error code ${hex(ec)} lacks its ${stage} stage bit`, { error_code: ec, stage });
    }
    if (r.injected_svm && (r.injected_svm.exit_info_1 & 0xffffffffn) !== (ec & 0xffffffffn)) {
      return fail('error-code-changed', `exit_info_1 ${hex(r.injected_svm.exit_info_1)} does not carry the walker's error code ${hex(ec)}`, { error_code: ec });
    }
    return HOLDS;
  },
};
