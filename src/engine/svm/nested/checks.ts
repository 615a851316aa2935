// nested_vmcb_check_save / nested_vmcb_check_controls / nested_svm_check_event_inj (nested.c),
// each condition a named predicate (KVM's CC()). They run on the cache, never on vmcb12 itself.
// Ids name the violated rule; the APM rule is AMD APM vol. 2 §15.5.1 "Canonicalization and
// Consistency Checks" unless stated otherwise.

import { CR0, CR4, EFER, EVTINJ, INTERCEPT, INT_CTL, IOPM_SIZE, MISC_CTL, MSRPM_SIZE, SEG_ATTR, TLB_CONTROL, isIntercept } from '../../../arch/svm/defs.ts';
import type { VmcbControl, VmcbSave } from '../../../arch/svm/vmcb.ts';
import { has } from '../../profiles.ts';
import { cc } from '../../trace.ts';
import { __kvm_is_valid_cr4, kvm_dr6_valid, kvm_dr7_valid, kvm_pat_valid, kvm_valid_efer, kvm_vcpu_is_legal_cr3, kvm_vcpu_is_legal_gpa } from '../../x86.ts';
import type { Ctx } from '../ctx.ts';

/** nested_vmcb_check_save (NEW) / __nested_vmcb_check_save (OLD). */
export function nested_vmcb_check_save(ctx: Ctx, save: VmcbSave, check_gpat: boolean): boolean {
  const { t, v, p } = ctx;
  // APM: "EFER.SVME is zero."
  if (cc(t, 'efer-svme-clear', (save.efer & EFER.SVME) === 0n)) return false;
  // APM: "CR0.CD is zero and CR0.NW is set."
  if (cc(t, 'cr0-cd-clear-nw-set', (save.cr0 & CR0.CD) === 0n && (save.cr0 & CR0.NW) !== 0n)) return false;
  // APM: "CR0[63:32] are not zero."
  if (cc(t, 'cr0-upper-bits-set', save.cr0 >> 32n !== 0n)) return false;
  // APM: "DR6[63:32] / DR7[63:32] are not zero." (kvm_dr6_valid / kvm_dr7_valid)
  if (cc(t, 'dr6-upper-bits-set', !kvm_dr6_valid(save.dr6))) return false;
  if (cc(t, 'dr7-upper-bits-set', !kvm_dr7_valid(save.dr7))) return false;
  if ((save.efer & EFER.LME) !== 0n && (save.cr0 & CR0.PG) !== 0n) {
    // APM: "EFER.LME and CR0.PG are both set and CR4.PAE is zero."
    if (cc(t, 'long-mode-cr4-pae-clear', (save.cr4 & CR4.PAE) === 0n)) return false;
    // APM: "EFER.LME and CR0.PG are both non-zero and CR0.PE is zero."
    if (cc(t, 'long-mode-cr0-pe-clear', (save.cr0 & CR0.PE) === 0n)) return false;
    // APM: "CR3 MBZ bits are set" (checked here only in long mode; nested_svm_load_cr3 covers the rest).
    if (cc(t, 'long-mode-cr3-illegal', !kvm_vcpu_is_legal_cr3(save.cr3, v.maxphyaddr, v.guest))) return false;
    // APM: "EFER.LME, CR0.PG, CR4.PAE, CS.L, and CS.D are all non-zero." (23ccf4affa6c)
    if (has(p, 'svm-check-efer-cr0-cr4-cs')) {
      const l = (save.cs.attrib & SEG_ATTR.L) !== 0;
      const d = (save.cs.attrib & SEG_ATTR.DB) !== 0;
      if (cc(t, 'long-mode-cs-l-and-d', l && d)) return false;
    }
  }
  // APM: "CR4 MBZ bits are set" — KVM: cr4 & cr4_guest_rsvd_bits (__kvm_is_valid_cr4).
  if (cc(t, 'cr4-reserved-bits', !__kvm_is_valid_cr4(save.cr4, v.guest))) return false;
  // APM: "EFER MBZ bits are set" — KVM: kvm_valid_efer (reserved and CPUID-gated bits).
  if (cc(t, 'efer-reserved-bits', !kvm_valid_efer(save.efer, v.guest))) return false;
  // APM 15.25.4: with nested paging, an illegal gPAT type fails VMRUN (when L2 has its own PAT).
  if (check_gpat && has(p, 'svm-check-gpat')) {
    if (cc(t, 'gpat-invalid', !kvm_pat_valid(save.g_pat))) return false;
  }
  return true;
}

/** Exception vectors EVENTINJ may carry as TYPE_EXEPT (nested_svm_event_inj_valid_exept). */
function nested_svm_event_inj_valid_exept(ctx: Ctx, vector: number): boolean {
  switch (vector) {
    case 0: case 1: case 3: case 4: case 5: case 6: case 7: case 8: case 10: case 11: case 12:
    case 13: case 14: case 16: case 17: case 18: case 19: case 28: case 30:
      return true;
    case 21: // #CP only exists with shadow stacks
      return ctx.v.guest.shstk;
    case 29: // #VC only exists with SEV-ES
      return ctx.v.guest.sev_es;
    default:
      return false;
  }
}

/** nested_svm_check_event_inj: APM 15.20 "injecting an event with an illegal type or vector". */
export function nested_svm_check_event_inj(ctx: Ctx, event_inj: number): boolean {
  const { t } = ctx;
  if ((event_inj & EVTINJ.VALID) === 0) return true;
  const type = event_inj & EVTINJ.TYPE_MASK;
  const ok = type === EVTINJ.TYPE_INTR || type === EVTINJ.TYPE_NMI || type === EVTINJ.TYPE_EXEPT || type === EVTINJ.TYPE_SOFT;
  if (cc(t, 'event-inj-type-invalid', !ok)) return false;
  if (type === EVTINJ.TYPE_EXEPT) {
    const vec = event_inj & EVTINJ.VEC_MASK;
    if (cc(t, 'event-inj-exception-vector-invalid', !nested_svm_event_inj_valid_exept(ctx, vec))) return false;
  }
  return true;
}

/** Both ends of a permission map must be legal GPAs (nSVM: Check addresses of MSR and IO permission maps). */
function nested_svm_check_bitmap_pa(ctx: Ctx, pa: bigint, size: number): boolean {
  const a = (pa + 0xfffn) & ~0xfffn; // PAGE_ALIGN: a no-op after the cache masked bits 11:0
  return kvm_vcpu_is_legal_gpa(a, ctx.v.maxphyaddr) && kvm_vcpu_is_legal_gpa(a + BigInt(size) - 1n, ctx.v.maxphyaddr);
}

/**
 * nested_vmcb_check_controls. `l1_cr0` is L1's CR0 for the proposed hCR0.PG check (C9), which only
 * the unified series has.
 */
export function nested_vmcb_check_controls(ctx: Ctx, c: VmcbControl, l1_cr0: bigint): boolean {
  const { t, v, p } = ctx;
  // APM: "The VMRUN intercept bit is clear."
  if (cc(t, 'vmrun-intercept-clear', !isIntercept(c.intercepts, INTERCEPT.VMRUN))) return false;
  // APM: "The ASID is equal to zero."
  if (cc(t, 'asid-zero', c.asid === 0)) return false;
  const np = (c.misc_ctl & MISC_CTL.NP_ENABLE) !== 0n;
  // Non-architectural: NP_ENABLE while the host runs without NPT (dropped in 2026).
  if (!has(p, 'svm-drop-np-enable-host-check')) {
    if (cc(t, 'np-enable-without-host-npt', np && !v.host.npt)) return false;
  }
  // APM 15.25.3: nested paging with an nCR3 whose MBZ bits (above MAXPHYADDR) are set.
  if (has(p, 'svm-check-ncr3')) {
    if (cc(t, 'ncr3-illegal', np && !kvm_vcpu_is_legal_gpa(c.nested_cr3, v.maxphyaddr))) return false;
  }
  // APM 15.25.3: "If VMRUN is executed with hCR0.PG cleared to zero and NP_ENABLE set to 1, VMRUN
  // terminates with #VMEXIT(VMEXIT_INVALID)" (proposed in the unified series only).
  if (has(p, 'svm-check-hcr0-pg-np')) {
    if (cc(t, 'np-enable-hcr0-pg-clear', np && (l1_cr0 & CR0.PG) === 0n)) return false;
  }
  // APM: "The MSR or IOIO intercept tables extend to a physical address >= the maximum supported".
  if (cc(t, 'msrpm-beyond-maxphyaddr', !nested_svm_check_bitmap_pa(ctx, c.msrpm_base_pa, MSRPM_SIZE))) return false;
  if (cc(t, 'iopm-beyond-maxphyaddr', !nested_svm_check_bitmap_pa(ctx, c.iopm_base_pa, IOPM_SIZE))) return false;
  // 174a921b6975 rejected tlb_ctl ∉ {DO_NOTHING, FLUSH_ALL_ASID}; reverted: the APM lists no such check.
  if (!has(p, 'svm-no-tlb-ctl-check')) {
    const ok = c.tlb_ctl === TLB_CONTROL.DO_NOTHING || c.tlb_ctl === TLB_CONTROL.FLUSH_ALL_ASID;
    if (cc(t, 'tlb-ctl-reserved', !ok)) return false;
  }
  // APM 15.21.4: V_NMI_ENABLE requires the NMI intercept.
  if (has(p, 'svm-check-vnmi')) {
    const vnmi = (c.int_ctl & INT_CTL.V_NMI_ENABLE) !== 0;
    if (cc(t, 'vnmi-without-nmi-intercept', vnmi && !isIntercept(c.intercepts, INTERCEPT.NMI))) return false;
  }
  if (has(p, 'svm-check-eventinj')) {
    if (!nested_svm_check_event_inj(ctx, c.event_inj)) return false;
  }
  return true;
}

/** l2_has_separate_pat: vmcb12 enables NPT and the shared-PAT quirk is off. */
export function l2_has_separate_pat(ctx: Ctx, c: VmcbControl): boolean {
  return (c.misc_ctl & MISC_CTL.NP_ENABLE) !== 0n && !ctx.v.quirks.nested_svm_shared_pat;
}

/** nested_svm_check_cached_vmcb12: save (with gPAT when L2 has its own PAT) and controls. */
export function nested_svm_check_cached_vmcb12(ctx: Ctx, c: VmcbControl, s: VmcbSave, l1_cr0: bigint): boolean {
  if (!nested_vmcb_check_save(ctx, s, l2_has_separate_pat(ctx, c))) return false;
  return nested_vmcb_check_controls(ctx, c, l1_cr0);
}

/** Every check id this module can report, in evaluation order (for `list` and coverage). */
export const SVM_CHECK_IDS = [
  'efer-svme-clear', 'cr0-cd-clear-nw-set', 'cr0-upper-bits-set', 'dr6-upper-bits-set', 'dr7-upper-bits-set',
  'long-mode-cr4-pae-clear', 'long-mode-cr0-pe-clear', 'long-mode-cr3-illegal', 'long-mode-cs-l-and-d',
  'cr4-reserved-bits', 'efer-reserved-bits', 'gpat-invalid',
  'vmrun-intercept-clear', 'asid-zero', 'np-enable-without-host-npt', 'ncr3-illegal', 'np-enable-hcr0-pg-clear',
  'msrpm-beyond-maxphyaddr', 'iopm-beyond-maxphyaddr', 'tlb-ctl-reserved', 'vnmi-without-nmi-intercept',
  'event-inj-type-invalid', 'event-inj-exception-vector-invalid',
] as const;
