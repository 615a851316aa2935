// Bits L1 must not control never reach vmcb02 (spec §4.2–4.4, §7 rows 3, 4, 5, 17): int_ctl keeps
// L0's AVIC/x2AVIC/V_INTR_MASKING (CVE-2021-3653), virtual VMLOAD/VMSAVE only with nested NPT
// (CVE-2021-3656), KVM's own ASID, bitmaps and TLB control, and every intercept KVM needs.

import { EVTINJ, INTERCEPT, INT_CTL, MISC_CTL, MISC_CTL2, isIntercept } from '../../src/arch/svm/defs.ts';
import { run } from '../../src/engine/svm/run.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';
import { hex } from './_lib.ts';

/** int_ctl bits that are L0's alone, apart from the GIF bits svm_set_gif writes. */
const L0_INT_CTL = INT_CTL.AVIC_ENABLE | INT_CTL.X2APIC_MODE | INT_CTL.V_INTR_MASKING | (1 << 10) | (0x7 << 13) | (0x7 << 21) | (0x7 << 27);

export const property: NestfuzzProperty<SvmCase> = {
  id: 'vmcb02-sanitized',
  area: 'svm',
  title: 'bits L1 must not control never reach vmcb02',
  rationale: 'APM vol.2 15.21, 15.33 (virtual VMLOAD/VMSAVE); KVM nested_vmcb02_prepare_control, nested_vmcb02_recalc_intercepts, __nested_copy_vmcb_control_to_cache; CVE-2021-3653 (0f923e07124d), CVE-2021-3656 (c7dfa4009965)',
  arbitrary: () => svmCase(),
  predicate(c, ctx): Verdict {
    const r = run(c.scenario, ctx.profile);
    const v02 = r.entry_vmcb02;
    const cache = r.entry_ctl;
    if (!v02 || !cache) return HOLDS;
    const v = r.vcpu;
    const v01 = v.vmcb01.control;
    const c02 = v02.control;
    const leaked = ((c02.int_ctl ^ v01.int_ctl) & L0_INT_CTL) >>> 0;
    if (leaked) return fail('int-ctl-l0-bits', `vmcb02.int_ctl ${hex(c02.int_ctl)} differs from L0's in ${hex(leaked)}`);
    if (c02.asid !== v01.asid) return fail('asid-from-vmcb12', `vmcb02.asid = ${c02.asid}, L0's is ${v01.asid}`);
    if (c02.iopm_base_pa !== v01.iopm_base_pa || c02.msrpm_base_pa !== v01.msrpm_base_pa) return fail('bitmap-from-vmcb12', 'vmcb02 uses an L1-supplied IOPM/MSRPM address');
    if (c02.tlb_ctl !== 0) return fail('tlb-ctl-from-vmcb12', `vmcb02.tlb_ctl = ${c02.tlb_ctl}`);
    if ((c02.misc_ctl & MISC_CTL.NP_ENABLE) !== (v01.misc_ctl & MISC_CTL.NP_ENABLE)) return fail('np-from-vmcb12', 'vmcb02 NP_ENABLE is not L0\'s');
    if (c02.misc_ctl & (MISC_CTL.SEV_ENABLE | MISC_CTL.SEV_ES_ENABLE)) return fail('sev-from-vmcb12', 'SEV bits in vmcb02.misc_ctl');
    if (c02.event_inj & EVTINJ.RESERVED_BITS) return fail('event-inj-reserved', `vmcb02.event_inj = ${hex(c02.event_inj)} has reserved bits`);
    if (c02.int_vector > 0xff || c02.int_state & ~1) return fail('int-fields-reserved', `int_vector ${hex(c02.int_vector)} int_state ${hex(c02.int_state)}`);
    // Virtual VMLOAD/VMSAVE only when the guest has it, nested NPT is on and vmcb12 asks (CVE-2021-3656).
    const npt = (cache.misc_ctl & MISC_CTL.NP_ENABLE) !== 0n;
    const vlsOk = v.host.v_vmsave_vmload && v.guest.v_vmsave_vmload && npt && (cache.misc_ctl2 & MISC_CTL2.V_VMLOAD_VMSAVE) !== 0n;
    if ((c02.misc_ctl2 & MISC_CTL2.V_VMLOAD_VMSAVE) !== 0n && !vlsOk) return fail('vls-without-nested-npt', 'vmcb02 enables virtual VMLOAD/VMSAVE for L2 without nested NPT / guest support');
    if (!vlsOk && !(isIntercept(c02.intercepts, INTERCEPT.VMLOAD) && isIntercept(c02.intercepts, INTERCEPT.VMSAVE))) return fail('vmload-vmsave-not-intercepted', 'L2 VMLOAD/VMSAVE not intercepted though L2 must not use virtual VMLOAD/VMSAVE');
    // Every intercept L1 asked for (SMI aside, when L0 does not intercept SMIs) is in vmcb02.
    for (let bit = 0; bit < 192; bit++) {
      if (bit === INTERCEPT.SMI && !v.host.intercept_smi) continue;
      if (isIntercept(cache.intercepts, bit) && !isIntercept(c02.intercepts, bit)) return fail('l1-intercept-dropped', `vmcb12 intercept bit ${bit} missing from vmcb02`);
    }
    // Every intercept KVM itself needs (vmcb01's), bar those L1 may own (CR8 write, VINTR, PAUSE)
    // and VMMCALL, which trees before 33d3617a52f9 dropped on purpose (spec §4.4); what an L2
    // VMMCALL then does is l2-vmmcall-routing's to judge.
    for (let bit = 0; bit < 192; bit++) {
      if (bit === INTERCEPT.CR8_WRITE || bit === INTERCEPT.VINTR || bit === INTERCEPT.PAUSE || bit === INTERCEPT.VMMCALL) continue;
      if (isIntercept(v01.intercepts, bit) && !isIntercept(c02.intercepts, bit)) return fail('l0-intercept-dropped', `L0 intercept bit ${bit} missing from vmcb02`);
    }
    return HOLDS;
  },
};
