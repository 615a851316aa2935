// Emulated #VMEXIT to L1 (APM 15.6 "#VMEXIT"): nested_svm_vmexit (kvm-next), and the unified
// series' nested_svm_vmrun_error_vmexit / __nested_svm_vmexit (spec §2.4, §2.5).

import { CR0, DR7_FIXED_1, RFLAGS, VEC } from '../../../arch/svm/defs.ts';
import { SVM_EXIT_ERR, SVM_EXIT_ERR_LOW32, svmExitName } from '../../../arch/svm/exit_codes.ts';
import { cloneSeg, type Vmcb } from '../../../arch/svm/vmcb.ts';
import { has } from '../../profiles.ts';
import type { Ctx } from '../ctx.ts';
import { svm_set_gif } from '../gif.ts';
import { l2_has_separate_pat } from './checks.ts';
import { nested_svm_load_cr3 } from './cr3.ts';
import { nested_svm_transition_tlb_flush, nested_svm_uninit_mmu_context, svm_set_efer } from './prepare.ts';

/** svm_is_vmrun_failure: VMEXIT_INVALID in either width KVM has ever written. */
export function svm_is_vmrun_failure(code: bigint): boolean {
  return code === SVM_EXIT_ERR || code === SVM_EXIT_ERR_LOW32;
}

/** The exit code as this kernel writes it into a VMCB: before the u64 series, INVALID had bits 63:32 clear. */
export function vmexit_code_as_written(ctx: Ctx, code: bigint): bigint {
  if (code === SVM_EXIT_ERR && !has(ctx.p, 'svm-exit-code-64bit')) return SVM_EXIT_ERR_LOW32;
  return code;
}

export function svm_switch_vmcb(ctx: Ctx, to: '01' | '02'): void {
  ctx.v.current = to;
}

/** nested_svm_vmexit_update_vmcb12: L2's state and the exit information into vmcb12. */
function nested_svm_vmexit_update_vmcb12(ctx: Ctx, vmcb12: Vmcb): void {
  const { v, p } = ctx;
  const s02 = v.vmcb02.save;
  const c02 = v.vmcb02.control;
  const s = vmcb12.save;
  const c = vmcb12.control;
  s.es = cloneSeg(s02.es);
  s.cs = cloneSeg(s02.cs);
  s.ss = cloneSeg(s02.ss);
  s.ds = cloneSeg(s02.ds);
  s.gdtr = cloneSeg(s02.gdtr);
  s.idtr = cloneSeg(s02.idtr);
  s.efer = v.regs.efer;
  s.cr0 = v.regs.cr0;
  s.cr3 = v.regs.cr3;
  // d218a0e8a63c: KVM keeps CR2 in arch.cr2; vmcb02's copy can be stale.
  s.cr2 = has(p, 'svm-vmexit-cr2-from-arch') ? v.regs.cr2 : s02.cr2;
  s.cr4 = v.regs.cr4;
  s.rflags = v.regs.rflags;
  s.rip = v.regs.rip;
  s.rsp = v.regs.rsp;
  s.rax = v.regs.rax;
  s.dr7 = s02.dr7;
  s.dr6 = v.regs.dr6;
  s.cpl = s02.cpl;
  if (l2_has_separate_pat(ctx, v.nested.ctl)) s.g_pat = s02.g_pat;
  c.int_state = c02.int_state;
  c.exit_code = vmexit_code_as_written(ctx, c02.exit_code);
  c.exit_info_1 = c02.exit_info_1;
  c.exit_info_2 = c02.exit_info_2;
  if (!svm_is_vmrun_failure(c02.exit_code)) {
    // nested_save_pending_event_to_vmcb12: an event still in flight (not delivered) is reported.
    c.exit_int_info = c02.exit_int_info;
    c.exit_int_info_err = c02.exit_int_info_err;
  }
  if (v.guest.nrips) c.next_rip = c02.next_rip;
  c.int_ctl = v.nested.ctl.int_ctl;
  if (has(p, 'svm-clear-eventinj-on-vmexit')) {
    c.event_inj = 0;
    c.event_inj_err = 0;
  } else {
    // Older trees copied back whatever the cache held, i.e. an undelivered event stayed valid.
    c.event_inj = v.nested.ctl.event_inj;
    c.event_inj_err = v.nested.ctl.event_inj_err;
    c.tlb_ctl = v.nested.ctl.tlb_ctl;
  }
}

/** The L1 side of every emulated #VMEXIT (kvm-next's nested_svm_vmexit part B). */
function nested_svm_vmexit_restore_l1(ctx: Ctx): void {
  const { v, t, p } = ctx;
  v.guest_mode = false; // leave_guest_mode
  v.nested.vmcb12_gpa = 0n;
  if (v.nested_run_pending) t.warn('nested_svm_vmexit: nested_run_pending');
  v.pending.requests.delete('KVM_REQ_GET_NESTED_STATE_PAGES');
  v.vmcb01.save.spec_ctrl = v.vmcb02.save.spec_ctrl; // nested_svm_copy_common_state
  svm_switch_vmcb(ctx, '01');
  svm_set_gif(ctx, false);
  v.vmcb01.control.exit_int_info = 0;
  v.tsc_offset = v.l1_tsc_offset;
  v.vmcb01.control.tsc_offset = v.l1_tsc_offset;
  v.nested.ctl.nested_cr3 = 0n;
  const s01 = v.vmcb01.save;
  v.regs.rflags = s01.rflags;
  svm_set_efer(ctx, s01.efer);
  v.regs.cr0 = s01.cr0 | CR0.PE; // APM: "CR0.PE is set" on #VMEXIT
  s01.cr0 = v.regs.cr0;
  v.regs.cr4 = s01.cr4;
  v.regs.rax = s01.rax;
  v.regs.rsp = s01.rsp;
  v.regs.rip = s01.rip;
  // L1's DR7 is reset, not restored (APM: "DR7 ... set to its reset value").
  v.regs.dr7 = DR7_FIXED_1;
  s01.dr7 = DR7_FIXED_1;
  v.cpl = s01.cpl;
  nested_svm_transition_tlb_flush(ctx);
  nested_svm_uninit_mmu_context(ctx);
  const r = nested_svm_load_cr3(ctx, s01.cr3, false, true, { efer: v.regs.efer, cr0: v.regs.cr0, cr4: v.regs.cr4 });
  if (r) {
    if (has(p, 'svm-vmexit-triple-fault')) {
      v.pending.triple_fault = true;
      t.emit('kvm_make_request', { req: 'KVM_REQ_TRIPLE_FAULT', why: 'host CR3 restore failed' });
    } else {
      // Older trees returned here, leaving the rest of the exit undone.
      t.emit('nested_svm_vmexit_aborted', { why: 'host CR3 restore failed' });
      return;
    }
  }
  if (has(p, 'svm-clear-l1-l2-nmi-softirq')) {
    v.nmi_l1_to_l2 = false;
    v.soft_int_injected = false;
  }
  v.pending.exception = null;
  // A single-stepped VMRUN ends with #DB in L1 once the #VMEXIT completes.
  if (has(p, 'svm-vmrun-tf-db') && (s01.rflags & RFLAGS.TF) !== 0n) {
    v.pending.exception = { vector: VEC.DB };
    t.emit('kvm_queue_exception', { vector: VEC.DB, why: 'RFLAGS.TF at VMRUN' });
  }
}

/**
 * nested_svm_vmexit: the caller has already put exit_code / exit_info_1 / exit_info_2 in vmcb02.
 */
export function nested_svm_vmexit(ctx: Ctx): void {
  const { v, t, p } = ctx;
  const c02 = v.vmcb02.control;
  t.emit('kvm_nested_vmexit_inject', {
    exit_code: c02.exit_code, exit: svmExitName(c02.exit_code), exit_info_1: c02.exit_info_1, exit_info_2: c02.exit_info_2,
  });
  const vmcb12 = v.mem.mapVmcb(v.nested.vmcb12_gpa);
  if (!vmcb12) {
    if (has(p, 'svm-vmexit-triple-fault')) {
      v.pending.triple_fault = true;
      t.emit('kvm_make_request', { req: 'KVM_REQ_TRIPLE_FAULT', why: 'vmcb12 unmappable on #VMEXIT' });
    } else {
      // Older trees injected #GP and returned, still in guest mode.
      v.pending.exception = { vector: VEC.GP, error_code: 0 };
      t.emit('nested_svm_vmexit_aborted', { why: 'vmcb12 unmappable' });
      return;
    }
  } else {
    nested_svm_vmexit_update_vmcb12(ctx, vmcb12);
  }
  nested_svm_vmexit_restore_l1(ctx);
}

/** nested_svm_simple_vmexit: a #VMEXIT with no exit information. */
export function nested_svm_simple_vmexit(ctx: Ctx, code: bigint): void {
  const c02 = ctx.v.vmcb02.control;
  c02.exit_code = code;
  c02.exit_info_1 = 0n;
  c02.exit_info_2 = 0n;
  nested_svm_vmexit(ctx);
}

/**
 * __nested_svm_vmexit (unified series): the common tail of every #VMEXIT and VMRUN failure,
 * run with vmcb01 current. L1's registers were never replaced, so only the nested bookkeeping,
 * GIF, the MMU and #DB are settled here.
 */
export function __nested_svm_vmexit(ctx: Ctx, vmcb12: Vmcb | null): void {
  const { v, t } = ctx;
  v.nested.vmcb12_gpa = 0n;
  v.nested.ctl.nested_cr3 = 0n;
  svm_set_gif(ctx, false);
  v.vmcb01.control.exit_int_info = 0;
  if (vmcb12) {
    vmcb12.control.event_inj = 0;
    vmcb12.control.event_inj_err = 0;
  }
  nested_svm_uninit_mmu_context(ctx);
  const r = nested_svm_load_cr3(ctx, v.vmcb01.save.cr3, false, true, { efer: v.regs.efer, cr0: v.regs.cr0, cr4: v.regs.cr4 });
  if (r) {
    v.pending.triple_fault = true;
    t.emit('kvm_make_request', { req: 'KVM_REQ_TRIPLE_FAULT', why: 'host CR3 restore failed' });
  }
  v.nmi_l1_to_l2 = false;
  v.soft_int_injected = false;
  if ((v.vmcb01.save.rflags & RFLAGS.TF) !== 0n) {
    v.pending.exception = { vector: VEC.DB };
    t.emit('kvm_queue_exception', { vector: VEC.DB, why: 'RFLAGS.TF at VMRUN' });
  }
}

/** nested_svm_vmrun_error_vmexit (unified series): VMRUN failed before the switch to vmcb02. */
export function nested_svm_vmrun_error_vmexit(ctx: Ctx): void {
  const { v, t } = ctx;
  v.nested_run_pending = false;
  if (v.current === '02') t.warn('nested_svm_vmrun_error_vmexit: svm->vmcb == vmcb02');
  v.guest_mode = false; // leave_guest_mode
  const vmcb12 = v.mem.mapVmcb(v.nested.vmcb12_gpa);
  if (!vmcb12) {
    v.pending.triple_fault = true;
    t.emit('kvm_make_request', { req: 'KVM_REQ_TRIPLE_FAULT', why: 'vmcb12 unmappable on VMRUN failure' });
  } else {
    vmcb12.control.exit_code = vmexit_code_as_written(ctx, SVM_EXIT_ERR);
    vmcb12.control.exit_info_1 = 0n;
    vmcb12.control.exit_info_2 = 0n;
  }
  t.emit('kvm_nested_vmexit_inject', { exit_code: SVM_EXIT_ERR, exit: 'ERR', exit_info_1: 0n, exit_info_2: 0n });
  __nested_svm_vmexit(ctx, vmcb12);
}
