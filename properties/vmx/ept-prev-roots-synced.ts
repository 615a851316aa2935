// After KVM injects a nested EPT violation or misconfiguration, L1 will fix its EPT and resume L2;
// no shadow root L0 keeps for the same EPT tables may still translate the faulting GPA, or L2 runs
// on the stale translation (or faults forever). The current root is synced by the fault path; the
// cached previous roots whose EP4TA (EPTP bits 51:12) matches must drop the GPA too. PML-full exits
// are exempt (nothing is wrong with the mapping). KVM nested_ept_invalidate_addr; spec vmx-mmu.md
// §3.1 step 4 and §6 #14 ("KVM: x86: Sync SPTEs when injecting page/EPT fault into L1").

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';
import { hex } from '../mmu/_lib.ts';

const EP4TA = 0x000ffffffffff000n;

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'ept-prev-roots-synced',
  area: 'mmu',
  title: 'after a nested EPT violation / misconfig, no valid cached shadow root with the same EP4TA still maps the faulting GPA',
  rationale: 'SDM vol. 3C §29.4 (cached guest-physical translations are associated with an EP4TA); KVM nested_ept_inject_page_fault → nested_ept_invalidate_addr (spec vmx-mmu.md §3.1, §6 #14)',
  arbitrary: () => nestedFaultCase({ flavour: 'vmx' }),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    if (s.tdp.kind !== 'ept' || !s.prev_roots?.length) return HOLDS;
    const r = runNestedFault(s, ctx.profile);
    const inj = r.injected_vmx;
    if (!inj || (inj.reason !== 48 && inj.reason !== 49)) return HOLDS;
    const page = inj.gpa & ~0xfffn;
    const roots = r.prev_roots ?? s.prev_roots;
    for (const root of roots) {
      if (!root.valid || (root.eptp & EP4TA) !== (s.tdp.eptp & EP4TA)) continue;
      if (root.mapped.includes(page)) {
        return fail('stale-prev-root', `EPT exit ${inj.reason} for GPA ${hex(inj.gpa)} injected, but the cached root for EPTP ${hex(root.eptp)} (same EP4TA as ${hex(s.tdp.eptp)}) still maps ${hex(page)}`,
          { eptp: root.eptp, gpa: page });
      }
    }
    return HOLDS;
  },
};
