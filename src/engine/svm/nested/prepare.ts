// nested_vmcb02_prepare_control / nested_vmcb02_prepare_save / nested_vmcb02_recalc_intercepts
// (nested.c): build vmcb02 from vmcb01 (L0's choices) and the vmcb12 cache (L1's), spec §4.2–4.4.

import { DR6_ACTIVE_LOW, DR7_FIXED_1, EFER, EVTINJ, INTERCEPT, INT_CTL, MISC_CTL, MISC_CTL2, RFLAGS, TLB_CONTROL, VEC, clrIntercept, isIntercept, setIntercept } from '../../../arch/svm/defs.ts';
import { cloneSeg, type VmcbSave } from '../../../arch/svm/vmcb.ts';
import { has } from '../../profiles.ts';
import type { Ctx } from '../ctx.ts';
import { nested_vgif_enabled } from '../gif.ts';
import { l2_has_separate_pat } from './checks.ts';

const CLEAN_SEG = 1 << 8;
const CLEAN_DT = 1 << 7;
const CLEAN_DR = 1 << 6;
const CLEAN_NPT = 1 << 4;

/** nested_npt_enabled: vmcb12 (sanitised) turned nested paging on. */
export function nested_npt_enabled(ctx: Ctx): boolean {
  return (ctx.v.nested.ctl.misc_ctl & MISC_CTL.NP_ENABLE) !== 0n;
}

/**
 * nested_vmcb_needs_vls_intercept: L2 may use virtual VMLOAD/VMSAVE only when the guest has the
 * feature, nested NPT is on and vmcb12 asks for it (CVE-2021-3656).
 */
export function nested_vmcb_needs_vls_intercept(ctx: Ctx): boolean {
  const { v } = ctx;
  if (!(v.host.v_vmsave_vmload && v.guest.v_vmsave_vmload)) return true;
  if (!nested_npt_enabled(ctx)) return true;
  return (v.nested.ctl.misc_ctl2 & MISC_CTL2.V_VMLOAD_VMSAVE) === 0n;
}

/** nested_svm_transition_tlb_flush: every nested transition syncs the MMU and flushes. */
export function nested_svm_transition_tlb_flush(ctx: Ctx): void {
  ctx.v.pending.requests.add('KVM_REQ_MMU_SYNC');
  ctx.v.pending.requests.add('KVM_REQ_TLB_FLUSH_CURRENT');
}

export function nested_vmcb02_recalc_intercepts(ctx: Ctx): void {
  const { v, t, p } = ctx;
  if (v.current !== '02') {
    t.warn('nested_vmcb02_recalc_intercepts: svm->vmcb != vmcb02');
    return;
  }
  const c = v.nested.ctl;
  const i02 = v.vmcb01.control.intercepts.slice();
  if (c.int_ctl & INT_CTL.V_INTR_MASKING) {
    // L1's V_INTR_MASKING: L2's CR8 writes go to L1's virtual TPR, not L0's.
    clrIntercept(i02, INTERCEPT.CR8_WRITE);
    if ((v.vmcb01.save.rflags & RFLAGS.IF) === 0n) clrIntercept(i02, INTERCEPT.VINTR);
  }
  // Before 33d3617a52f9 recalc_intercepts dropped L0's VMMCALL intercept ("We don't want to see
  // VMMCALLs from a nested guest", 0d945bd93511), unless L1 had enabled the Hyper-V L2 TLB flush
  // (3f4a812edf5c; not modelled). vmcb12's own intercept is ORed in below either way.
  if (!has(p, 'svm-l2-vmmcall-always-intercept')) clrIntercept(i02, INTERCEPT.VMMCALL);
  for (let w = 0; w < 6; w++) i02[w] = (i02[w] | c.intercepts[w]) >>> 0;
  if (!v.host.intercept_smi) clrIntercept(i02, INTERCEPT.SMI);
  if (!isIntercept(c.intercepts, INTERCEPT.PAUSE)) clrIntercept(i02, INTERCEPT.PAUSE);
  if (has(p, 'svm-vls-intercept')) {
    if (nested_vmcb_needs_vls_intercept(ctx)) {
      setIntercept(i02, INTERCEPT.VMLOAD);
      setIntercept(i02, INTERCEPT.VMSAVE);
    } else if ((v.vmcb02.control.misc_ctl2 & MISC_CTL2.V_VMLOAD_VMSAVE) === 0n) {
      t.warn('nested_vmcb02_recalc_intercepts: VLS not needed but vmcb02 lacks V_VMLOAD_VMSAVE');
    }
  }
  v.vmcb02.control.intercepts = i02;
}

export function nested_vmcb02_prepare_control(ctx: Ctx): void {
  const { v, t, p } = ctx;
  nested_svm_transition_tlb_flush(ctx);
  // enter_guest_mode
  v.guest_mode = true;
  const c = v.nested.ctl;
  const v01 = v.vmcb01.control;
  const v02 = v.vmcb02.control;

  // int_ctl: L1 owns only the virtual-interrupt bits (CVE-2021-3653 fix, 0f923e07124d).
  let b12 = INT_CTL.V_TPR_MASK | INT_CTL.V_IRQ | INT_CTL.V_INTR_PRIO_MASK | INT_CTL.V_IGN_TPR;
  let b01: number = INT_CTL.V_INTR_MASKING;
  if (nested_vgif_enabled(v)) b12 |= INT_CTL.V_GIF | INT_CTL.V_GIF_ENABLE;
  else b01 |= INT_CTL.V_GIF | INT_CTL.V_GIF_ENABLE;
  if (v.host.vnmi) {
    if (v01.int_ctl & INT_CTL.V_NMI_PENDING) {
      v.nmi_pending++;
      v.pending.requests.add('KVM_REQ_EVENT');
    }
    if (v.guest.vnmi && c.int_ctl & INT_CTL.V_NMI_ENABLE) b12 |= INT_CTL.V_NMI_PENDING | INT_CTL.V_NMI_ENABLE | INT_CTL.V_NMI_BLOCKING;
  }
  if (has(p, 'svm-int-ctl-sanitize')) {
    v02.int_ctl = ((c.int_ctl & b12) | (v01.int_ctl & b01)) >>> 0;
  } else {
    // Before 0f923e07124d: everything but the L0-owned mask came from vmcb12.
    v02.int_ctl = ((c.int_ctl & ~b01) | (v01.int_ctl & b01)) >>> 0;
  }

  // misc_ctl: L0's NP (and GMET); vmcb12's NP only chooses the nested MMU.
  v02.misc_ctl = v01.misc_ctl & (MISC_CTL.NP_ENABLE | MISC_CTL.GMET);
  if (nested_npt_enabled(ctx)) {
    v02.misc_ctl = (v02.misc_ctl & ~MISC_CTL.GMET) | (c.misc_ctl & MISC_CTL.GMET);
    nested_svm_init_mmu_context(ctx);
  }

  // L1's bitmaps are never loaded into hardware: L0's IOPM, and a merged MSRPM later.
  v02.iopm_base_pa = v01.iopm_base_pa;
  v02.msrpm_base_pa = v01.msrpm_base_pa;
  v02.asid = v01.asid; // "Done at vmrun: asid" — KVM's own ASID, never vmcb12's
  v02.tlb_ctl = TLB_CONTROL.DO_NOTHING; // KVM flushes on every transition instead
  v.tsc_offset = v.l1_tsc_offset + c.tsc_offset;
  v02.tsc_offset = v.tsc_offset;

  v02.int_vector = c.int_vector;
  v02.int_state = c.int_state;
  v02.event_inj = c.event_inj;
  v02.event_inj_err = c.event_inj_err;

  if (v.guest.nrips || !v.nested_run_pending) v02.next_rip = c.next_rip;

  // Soft-event tracking for re-injection (NEW).
  const evValid = (c.event_inj & EVTINJ.VALID) !== 0;
  const type = c.event_inj & EVTINJ.TYPE_MASK;
  const vec = c.event_inj & EVTINJ.VEC_MASK;
  v.nmi_l1_to_l2 = evValid && type === EVTINJ.TYPE_NMI;
  if (evValid && (type === EVTINJ.TYPE_SOFT || (type === EVTINJ.TYPE_EXEPT && (vec === VEC.BP || vec === VEC.OF)))) {
    v.soft_int_injected = true;
    if (v.guest.nrips || !v.nested_run_pending) v.soft_int_next_rip = c.next_rip;
  }

  if (has(p, 'svm-vls-intercept')) {
    let m2 = v01.misc_ctl2 & MISC_CTL2.V_LBR;
    if (v.host.lbrv && v.guest.lbrv) m2 |= c.misc_ctl2 & MISC_CTL2.V_LBR;
    if (!nested_vmcb_needs_vls_intercept(ctx)) m2 |= MISC_CTL2.V_VMLOAD_VMSAVE;
    v02.misc_ctl2 = m2;
  } else {
    // Before c7dfa4009965: virt_ext copied as vmcb12 had it.
    v02.misc_ctl2 = c.misc_ctl2;
  }

  v02.pause_filter_count = v.guest.pausefilter ? c.pause_filter_count : 0;
  v02.pause_filter_thresh = v.guest.pfthreshold ? c.pause_filter_thresh : 0;
  v02.erap_ctl = 0;
  v02.bus_lock_counter = 0;
  t.emit('nested_vmcb02_prepare_control', { int_ctl: v02.int_ctl, misc_ctl: v02.misc_ctl, misc_ctl2: v02.misc_ctl2 });
  nested_vmcb02_recalc_intercepts(ctx);
}

/** nested_svm_init_mmu_context: L2 runs on a shadow of L1's NPT rooted at nCR3. */
export function nested_svm_init_mmu_context(ctx: Ctx): void {
  ctx.v.mmu = 'guest_mmu';
  ctx.t.emit('nested_svm_init_mmu_context', { nested_cr3: ctx.v.nested.ctl.nested_cr3 });
}

export function nested_svm_uninit_mmu_context(ctx: Ctx): void {
  ctx.v.mmu = 'root_mmu';
}

/**
 * svm_set_efer: KVM runs the guest with EFER.SVME forced on in the VMCB. Clearing SVME while in
 * guest mode force-leaves nested mode (c513f484c558) — reached from prepare_save only when the
 * save area was re-read after its check (3c346c0c60ab).
 */
export function svm_set_efer(ctx: Ctx, efer: bigint): void {
  const { v, t } = ctx;
  const old = v.regs.efer;
  v.regs.efer = efer;
  const vmcb = v.current === '01' ? v.vmcb01 : v.vmcb02;
  vmcb.save.efer = efer | EFER.SVME;
  if ((old & EFER.SVME) !== 0n && (efer & EFER.SVME) === 0n && v.guest_mode) {
    t.warn('svm_set_efer: EFER.SVME cleared while in guest mode (nested state freed under use)');
  }
}

/** The fields of the cached save area prepare_save reads, or of vmcb12 in memory on old kernels. */
export function prepare_save_source(ctx: Ctx): { arch: VmcbSave; rest: VmcbSave } {
  const { v, p } = ctx;
  const cache = v.nested.save;
  if (has(p, 'svm-cache-all-vmcb12-fields') && has(p, 'svm-efer-svme-cached')) return { arch: cache, rest: cache };
  const mapped = v.mem.mapVmcb(v.nested.vmcb12_gpa);
  const live = mapped ? mapped.save : cache;
  return {
    arch: has(p, 'svm-efer-svme-cached') ? cache : live,
    rest: has(p, 'svm-cache-all-vmcb12-fields') ? cache : live,
  };
}

export function nested_vmcb02_prepare_save(ctx: Ctx): void {
  const { v, t } = ctx;
  const c = v.nested.ctl;
  const s02 = v.vmcb02.save;
  const { arch, rest } = prepare_save_source(ctx);
  const new_vmcb12 = v.nested.vmcb12_gpa !== v.nested.last_vmcb12_gpa;
  if (new_vmcb12) {
    v.nested.last_vmcb12_gpa = v.nested.vmcb12_gpa;
    v.nested.force_msr_bitmap_recalc = true;
  }
  // vmcb12 clean bits are honoured only for the same vmcb12 GPA as last time.
  if (new_vmcb12 || !(c.clean & CLEAN_SEG)) {
    s02.es = cloneSeg(rest.es);
    s02.cs = cloneSeg(rest.cs);
    s02.ss = cloneSeg(rest.ss);
    s02.ds = cloneSeg(rest.ds);
    s02.cpl = rest.cpl;
  }
  if (new_vmcb12 || !(c.clean & CLEAN_DT)) {
    s02.gdtr = cloneSeg(rest.gdtr);
    s02.idtr = cloneSeg(rest.idtr);
  }
  if (l2_has_separate_pat(ctx, c)) {
    if (new_vmcb12 || !(c.clean & CLEAN_NPT)) s02.g_pat = rest.g_pat;
  } else if (v.host.npt) {
    s02.g_pat = v.pat;
  }
  v.regs.rflags = rest.rflags | RFLAGS.FIXED_1;
  s02.rflags = v.regs.rflags;
  svm_set_efer(ctx, arch.efer);
  v.regs.cr0 = arch.cr0;
  s02.cr0 = arch.cr0;
  v.regs.cr4 = arch.cr4;
  s02.cr4 = arch.cr4;
  v.regs.cr2 = rest.cr2;
  s02.cr2 = rest.cr2;
  v.regs.rax = rest.rax;
  v.regs.rsp = rest.rsp;
  v.regs.rip = rest.rip;
  s02.rax = rest.rax;
  s02.rsp = rest.rsp;
  s02.rip = rest.rip;
  if (new_vmcb12 || !(c.clean & CLEAN_DR)) {
    s02.dr7 = arch.dr7 | DR7_FIXED_1;
    v.regs.dr7 = s02.dr7;
    v.regs.dr6 = arch.dr6 | DR6_ACTIVE_LOW;
  }
  t.emit('nested_vmcb02_prepare_save', { efer: v.regs.efer, cr0: v.regs.cr0, cr4: v.regs.cr4, rip: v.regs.rip, new_vmcb12 });
}
