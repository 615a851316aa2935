// A synthesized #NPF (found by L0's own walk, e.g. while emulating an L2 instruction) reports in
// exit_info_2 the GPA the nested walk failed on, never the address of the exit that brought L0 to its
// emulator (APM §15.25.6: EXITINFO2 = the faulting guest-physical address). 297c2fe249db / fe0b872d7500.

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';
import { hex } from '../mmu/_lib.ts';

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'npf-address-from-walker',
  area: 'mmu',
  title: 'a synthesized #NPF reports the GPA the nested walk failed on in exit_info_2',
  rationale: 'APM vol. 2 §15.25.6 (EXITINFO2); KVM nested_svm_inject_npf_exit with from_hardware = false (fe0b872d7500, 297c2fe249db)',
  arbitrary: () => nestedFaultCase({ flavour: 'svm' }),
  predicate(c, ctx): Verdict {
    const r = runNestedFault(c.scenario, ctx.profile);
    if (!r.injected_svm || r.injected_from_hardware !== false || r.walk.ok) return HOLDS;
    const stale = r.exit02_at_injection?.svm;
    const want = r.walk.fault.address;
    if (r.injected_svm.exit_info_2 !== want) {
      return fail('npf-stale-address', `exit_info_2 ${hex(r.injected_svm.exit_info_2)}, but the nested walk failed on ${hex(want)} (vmcb02 held exit_code ${hex(stale?.exit_code ?? 0n)}, exit_info_2 ${hex(stale?.exit_info_2 ?? 0n)})`,
        { exit_info_2: r.injected_svm.exit_info_2, walker: want });
    }
    return HOLDS;
  },
};
