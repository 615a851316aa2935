// "All checks and all vmcb02 construction use one snapshot of vmcb12" (spec §7 rows 1, 2, 8, 17):
// the state the consistency checks approved is the state L2 runs with, whatever another vCPU
// writes to vmcb12 in guest memory meanwhile (CVE-2021-29657 a58d9166a756, 3c346c0c60ab).

import { EFER, INTERCEPT, isIntercept } from '../../src/arch/svm/defs.ts';
import { run } from '../../src/engine/svm/run.ts';
import type { TraceEvent } from '../../src/engine/trace.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';
import { hex } from './_lib.ts';

function lastApproved(events: TraceEvent[]): TraceEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) if (events[i].ev === 'nested_vmcb_checks_passed') return events[i];
  return undefined;
}

export const property: NestfuzzProperty<SvmCase> = {
  id: 'checked-is-run',
  area: 'svm',
  title: 'the vmcb12 snapshot the checks approved is the one L2 runs with (no double fetch, no TOCTOU)',
  rationale: 'APM vol.2 15.5.1; KVM nested_svm_copy_vmcb12_to_cache, __nested_copy_vmcb_control_to_cache; CVE-2021-29657 (a58d9166a756), 3c346c0c60ab, "Cache all used fields from VMCB12" (2026)',
  arbitrary: () => svmCase(),
  predicate(c, ctx): Verdict {
    const r = run(c.scenario, ctx.profile);
    if (r.l2?.outcome === 'l2-vmrun-emulated') return fail('l2-vmrun-reached-l0', 'L2 executed VMRUN without the VMRUN intercept and L0 emulated it as L1\'s');
    if (!r.entry_vmcb02 || !r.entry_ctl) return HOLDS;
    const ap = lastApproved(r.trace.events);
    if (!ap) return fail('entered-unchecked', `L2 entered via ${c.scenario.entry} with no consistency check on its vmcb12`);
    if (ap.checked === false) return fail('entered-unchecked', `L2 re-entered via ${c.scenario.entry} from a vmcb12 snapshot that was never checked`);
    const ctl = r.entry_ctl;
    const i02 = r.entry_vmcb02.control.intercepts;
    const approvedIntercepts = ap.intercepts as number[];
    if (ctl.intercepts.some((w, i) => w !== approvedIntercepts[i])) {
      return fail('intercepts-differ', `cached intercepts ${ctl.intercepts.map((w) => hex(w)).join(',')} ≠ approved ${approvedIntercepts.map((w) => hex(w)).join(',')}`);
    }
    if (!isIntercept(ctl.intercepts, INTERCEPT.VMRUN) || !isIntercept(i02, INTERCEPT.VMRUN)) return fail('vmrun-intercept-missing', 'L2 runs without the VMRUN intercept');
    if (ctl.asid !== ap.asid) return fail('asid-differs', `cached asid ${ctl.asid} ≠ approved ${String(ap.asid)}`);
    if (ctl.misc_ctl !== ap.misc_ctl || ctl.nested_cr3 !== ap.nested_cr3) return fail('npt-differs', 'cached misc_ctl/nested_cr3 differ from the approved snapshot');
    if (ap.path === 'set_nested_state') return HOLDS; // L2's registers come from SET_SREGS, not vmcb12
    const regs = r.entry.regs;
    for (const k of ['efer', 'cr0', 'cr4'] as const) {
      if (regs[k] !== ap[k]) return fail(`${k}-differs`, `L2 ${k} = ${hex(regs[k])}, approved ${hex(ap[k] as bigint)}`);
    }
    if ((regs.efer & EFER.SVME) === 0n) return fail('l2-efer-svme-clear', 'L2 runs with EFER.SVME clear');
    if (r.entry_vmcb02.save.cs.attrib !== ap.cs_attrib) return fail('cs-differs', `vmcb02.cs.attrib = ${hex(r.entry_vmcb02.save.cs.attrib)}, approved ${hex(ap.cs_attrib as number)}`);
    if (r.trace.warns().some((w) => w.startsWith('svm_set_efer'))) return fail('svme-cleared-in-guest-mode', 'EFER.SVME cleared while in guest mode');
    return HOLDS;
  },
};
