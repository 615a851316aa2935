// No WARN fires while KVM walks L2's two-dimensional translation and injects the nested fault (e.g.
// nested_svm_inject_npf_exit's "fault stage is not exactly one bit", the PML-full WARN).

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import { KNOWN_FINDINGS } from './_data/known.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'mmu-no-warn',
  area: 'mmu',
  title: 'no WARN fires on the nested page-walk and fault-injection paths',
  rationale: 'KVM WARN_ON_ONCE sites in nested_svm_inject_npf_exit and nested_ept_inject_page_fault; panic_on_warn hosts',
  arbitrary: () => nestedFaultCase(),
  predicate(c, ctx): Verdict {
    const all = runNestedFault(c.scenario, ctx.profile).trace.warns();
    // The PML-full WARN is a listed finding (reachable from the emulator): reported under --strict-arch.
    const listed = KNOWN_FINDINGS['pml-full-from-emulator'];
    const warns = all.filter((w) => ctx.strictArch || w !== 'nested_ept_inject_page_fault-pml-full-not-ept-violation');
    if (!warns.length) return HOLDS;
    const isListed = warns.every((w) => w === 'nested_ept_inject_page_fault-pml-full-not-ept-violation');
    return fail(isListed ? 'listed-finding' : 'warn', `WARN: ${warns.join('; ')}${isListed ? ` (listed: ${listed.id}: ${listed.reason})` : ''}`);
  },
};
