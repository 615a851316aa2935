// The project's headline invariant: a synthesized nested fault never reads a stale hardware exit
// qualification. Metamorphic: the same scenario run with other stale vmcs02 (or vmcb02) exit
// information must inject exactly the same exit into L1 when L0's emulator found the fault. The one
// field KVM knowingly copies from vmcs02, the guest-linear address, is listed data (known.ts).

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { runNestedFault, type NestedFaultResult } from '../../src/engine/mmu/nested_fault.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';
import { hex, STALE_VARIANTS, withStale } from '../mmu/_lib.ts';

function injected(r: NestedFaultResult, withGla: boolean): string {
  if (r.injected_svm) return `npf ${hex(r.injected_svm.exit_code)} ${hex(r.injected_svm.exit_info_1)} ${hex(r.injected_svm.exit_info_2)}`;
  if (r.injected_vmx) return `reason ${r.injected_vmx.reason} qual ${hex(r.injected_vmx.qual)} gpa ${hex(r.injected_vmx.gpa)}${withGla ? ` gla ${hex(r.injected_vmx.gla)}` : ''}`;
  return r.outcome;
}

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'ept-qual-never-stale',
  area: 'mmu',
  title: 'a synthesized EPT violation / #NPF does not depend on the stale exit information in vmcs02 / vmcb02',
  rationale: 'SDM vol. 3C §29.3.3.2 / APM §15.25.6: the exit information describes this fault; KVM nested_ept_inject_page_fault and nested_svm_inject_npf_exit with from_hardware = false (96b067b59ad9, fe0b872d7500, 297c2fe249db)',
  arbitrary: () => nestedFaultCase(),
  predicate(c, ctx): Verdict {
    const base = runNestedFault(c.scenario, ctx.profile);
    if ((!base.injected_svm && !base.injected_vmx) || base.injected_from_hardware !== false) return HOLDS;
    // A PML-full exit from the emulator reads bit 12 of the unrelated exit: a listed finding (known.ts).
    if (base.injected_vmx?.reason === 62 && !ctx.strictArch) return HOLDS;
    const want = injected(base, ctx.strictArch);
    for (const v of STALE_VARIANTS) {
      const got = injected(runNestedFault(withStale(c.scenario, v), ctx.profile), ctx.strictArch);
      if (got !== want) {
        return fail(ctx.strictArch && got.replace(/ gla .*/, '') === want.replace(/ gla .*/, '') ? 'listed-stale-gla' : 'stale-exit-info',
          `the injected exit changed with vmcs02/vmcb02's stale exit information: ${want} vs ${got} (stale ${v.map(hex).join(', ')})`, { want, got });
      }
    }
    return HOLDS;
  },
};
