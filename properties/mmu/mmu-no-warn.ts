// No WARN fires while KVM walks L2's two-dimensional translation and injects the nested fault (e.g.
// nested_svm_inject_npf_exit's "fault stage is not exactly one bit", the PML-full WARN).

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'mmu-no-warn',
  area: 'mmu',
  title: 'no WARN fires on the nested page-walk and fault-injection paths',
  rationale: 'KVM WARN_ON_ONCE sites in nested_svm_inject_npf_exit and nested_ept_inject_page_fault; panic_on_warn hosts',
  arbitrary: () => nestedFaultCase(),
  predicate(c, ctx): Verdict {
    const warns = runNestedFault(c.scenario, ctx.profile).trace.warns();
    return warns.length ? fail('warn', `WARN: ${warns.join('; ')}`) : HOLDS;
  },
};
